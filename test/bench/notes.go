package main

import "fmt"

// Notes derives what the figures say: overheads in seconds and where the rest of a restore goes.
func Notes(r *Results) []string {
	r.ComputeRatios()
	var notes []string
	for _, b := range r.Backup {
		if b.Path != pathPlugin || !b.WallSeconds.Valid() {
			continue
		}
		extra := b.WallSeconds.Median - b.PGBackRestSeconds.Median
		notes = append(notes, fmt.Sprintf("Backup to %s, %s: the plugin's process takes %.1fs beyond pgBackRest's own %.1fs (exec into the repository host, Lease, reading the result with info).",
			b.Storage, b.Setting, extra, b.PGBackRestSeconds.Median))
	}
	for _, x := range r.Restore {
		parts := x.PGBackRestSeconds.Median + x.JobPodStartSeconds.Median + x.PrimaryStartToReadySeconds.Median
		notes = append(notes, fmt.Sprintf("Restore from %s: %.1fs of %.1fs are the parts that must happen; the other %.1fs are the plugin's other steps (table above).",
			x.Storage, parts, x.TotalSeconds.Median, x.TotalSeconds.Median-parts))
	}
	return notes
}
