package deployer

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"ecrscanner/domain"
)

// Result is the outcome of one check.
type Result string

// The outcomes of a check.
const (
	Pass Result = "PASS"
	Fail Result = "FAIL"
	Skip Result = "SKIP"
)

// Check is one line of a verification.
type Check struct {
	Name   string
	Result Result
	Detail string
}

// Report is the outcome of Verify, one check per line.
type Report struct {
	Checks []Check
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	return slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Result == Fail })
}

func (r *Report) add(name string, res Result, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Result: res, Detail: fmt.Sprintf(format, args...)})
}

// Render writes the report as a table with a closing count.
func (r Report) Render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	counts := map[Result]int{}
	for _, c := range r.Checks {
		counts[c.Result]++
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Result, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", counts[Pass], counts[Fail], counts[Skip])
	return err
}

// firstFew joins the first n items and says how many more there are, so a
// report line stays readable.
func firstFew(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:n], "; ") + fmt.Sprintf("; and %d more", len(items)-n)
}

// firstLine is the first non-blank line of a program's output, shortened.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return oneLine(l, 100)
		}
	}
	return "(no output)"
}

// lastLine is the last line of a program's output, shortened: where an
// error usually is.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return oneLine(lines[len(lines)-1], 160)
}

// oneLine collapses whitespace and cuts s to max characters (the cut is
// marked), for one line of a table.
func oneLine(s string, max int) string {
	return domain.Truncate(strings.Join(strings.Fields(s), " "), max, domain.Ellipsis)
}

// humanBytes renders a size in B, KiB or MiB.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
