package main

import (
	"fmt"
	"math"
	"slices"
)

// Summary is one figure measured several times: its median with the spread around it.
type Summary struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	N      int       `json:"n"`
	Values []float64 `json:"values"`
}

// Summarize computes the median, min and max of values (in the order measured). The median of an
// even count is the mean of the middle two.
func Summarize(values []float64) Summary {
	s := Summary{N: len(values), Values: slices.Clone(values)}
	if len(values) == 0 {
		return s
	}
	sorted := slices.Sorted(slices.Values(values))
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	mid := len(sorted) / 2
	if len(sorted)%2 == 1 {
		s.Median = sorted[mid]
	} else {
		s.Median = (sorted[mid-1] + sorted[mid]) / 2
	}
	return s
}

// Valid reports whether the summary holds at least one value.
func (s Summary) Valid() bool { return s.N > 0 }

// Format renders "median (min–max)" with the given precision, or "—" when nothing was measured.
func (s Summary) Format(prec int) string {
	if !s.Valid() {
		return "—"
	}
	if s.N == 1 {
		return fmt.Sprintf("%.*f", prec, s.Median)
	}
	return fmt.Sprintf("%.*f (%.*f–%.*f)", prec, s.Median, prec, s.Min, prec, s.Max)
}

// Ratio divides two medians; NaN when either is missing or the divisor is zero.
func Ratio(num, den Summary) float64 {
	if !num.Valid() || !den.Valid() || den.Median == 0 {
		return math.NaN()
	}
	return num.Median / den.Median
}

// FormatRatio renders a ratio with two decimals, or "—".
func FormatRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f", r)
}
