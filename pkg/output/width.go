package output

import (
	"io"
	"os"
	"strconv"

	"golang.org/x/term"
)

// DefaultWidth is the width of pictures printed to something that is not a terminal and has no
// COLUMNS.
const DefaultWidth = 80

// Width is the number of columns to draw in on w: the terminal's width when w is one, else
// $COLUMNS when it is a positive number (as shells export it), else DefaultWidth.
func Width(w io.Writer, lookupEnv func(string) (string, bool)) int {
	if f, ok := w.(*os.File); ok && IsTerminal(w) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	if v, ok := lookupEnv("COLUMNS"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return DefaultWidth
}
