package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Row is one line of the table: a figure of this project beside its floor,
// measured in the same run, and the budget their ratio is held to.
type Row struct {
	Measure string
	// Figure and Floor are the two values as printed, units included.
	Figure, Floor string
	// Ratio is Figure over Floor; Budget the most it may be. A zero Budget
	// marks a figure printed for information (no floor, or no budget set).
	Ratio, Budget float64
	// Err is why the measure could not be taken; the row says so.
	Err error
}

// Verdict is PASS or OVER for a row with a budget, "info" for one without,
// and "ERROR" for a measure that failed.
func (r Row) Verdict() string {
	switch {
	case r.Err != nil:
		return "ERROR"
	case r.Budget == 0:
		return "info"
	case r.Ratio <= r.Budget:
		return "PASS"
	}
	return "OVER"
}

// ratioRow fills Ratio from two numbers of the same unit.
func ratioRow(measure string, figure, floor float64, format string, budget float64) Row {
	r := Row{Measure: measure, Figure: fmt.Sprintf(format, figure), Floor: fmt.Sprintf(format, floor), Budget: budget}
	if floor > 0 {
		r.Ratio = figure / floor
	}
	return r
}

// errRow is a measure that could not be taken.
func errRow(measure string, err error) Row { return Row{Measure: measure, Err: err} }

// PrintTable writes the rows as one aligned table, errors on the row itself.
func PrintTable(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASURE\tFIGURE\tFLOOR\tRATIO\tBUDGET\tVERDICT")
	for _, r := range rows {
		if r.Err != nil {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t%s\n", r.Measure, oneLine(r.Err.Error()), r.Verdict())
			continue
		}
		ratio, budget := "—", "—"
		switch {
		case r.Ratio >= 0.1:
			ratio = fmt.Sprintf("%.2f×", r.Ratio)
		case r.Ratio > 0:
			ratio = fmt.Sprintf("%.4f×", r.Ratio)
		}
		if r.Budget > 0 {
			budget = fmt.Sprintf("≤%.2g×", r.Budget)
		}
		floor := r.Floor
		if floor == "" {
			floor = "—"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Measure, r.Figure, floor, ratio, budget, r.Verdict())
	}
	tw.Flush()
}

// oneLine keeps an error on its row: the first line, at most 100 bytes.
func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}
