package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"ecrscanner/domain"
	"ecrscanner/infra/qscanner"
)

func init() {
	register("inspect-report", command{
		usage: "count a QScanner output directory (DIR) the way the scan function does",
		run:   runInspectReport,
	})
}

// inspectedReport is what inspect-report prints: flat, every key always
// present, so jq filters need no defaults. It carries counts and metadata
// only; no secret's matched text ever reaches it (the parser drops it).
type inspectedReport struct {
	Vulnerabilities int    `json:"vulnerabilities"`
	Critical        int    `json:"critical"`
	High            int    `json:"high"`
	Medium          int    `json:"medium"`
	Low             int    `json:"low"`
	Informational   int    `json:"informational"`
	Unknown         int    `json:"unknown"`
	Fixable         int    `json:"fixable"`
	Secrets         int    `json:"secrets"`
	Partial         bool   `json:"partial"`
	QScannerVersion string `json:"qscannerVersion"`
	OS              string `json:"os"`
	Platform        string `json:"platform"`
	Digest          string `json:"digest"`
}

func runInspectReport(args []string, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintln(stderr, "ecrscan inspect-report: "+strings.Join(strings.Fields(fmt.Sprintf(format, a...)), " "))
		return 2
	}
	fs := flag.NewFlagSet("inspect-report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	partial := fs.Bool("partial", false, "accept output without a vulnerability report (what exit 40 leaves)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: ecrscan inspect-report [-partial] DIR\n\n"+
				"Parses a QScanner output directory (<image-id>-ScanResult.json and\n"+
				"<image-id>-Report.sarif.json) the way the scan function does and prints\n"+
				"its counts as one JSON object. -partial accepts output without a\n"+
				"vulnerability report, as QScanner leaves it on exit 40.\n"+
				"Exit 0: counts on stdout. Exit 2: unreadable or unparseable DIR, reason on stderr.")
			return 0
		}
		return fail("%v", err)
	}
	if fs.NArg() != 1 {
		return fail("want exactly one DIR, got %d arguments (usage: ecrscan inspect-report [-partial] DIR)", fs.NArg())
	}
	parse := qscanner.ParseDir
	if *partial {
		parse = qscanner.ParsePartialDir
	}
	rep, err := parse(fs.Arg(0))
	if err != nil {
		var f *domain.Failure
		if errors.As(err, &f) {
			return fail("%s: %s", fs.Arg(0), f.Reason)
		}
		return fail("%s: %v", fs.Arg(0), err)
	}
	sum := domain.Summarize(rep)
	out := inspectedReport{
		Vulnerabilities: sum.Vulnerabilities.Total(),
		Critical:        sum.Vulnerabilities.Critical,
		High:            sum.Vulnerabilities.High,
		Medium:          sum.Vulnerabilities.Medium,
		Low:             sum.Vulnerabilities.Low,
		Informational:   sum.Vulnerabilities.Informational,
		Unknown:         sum.Vulnerabilities.Unknown,
		Fixable:         sum.Fixable.Total(),
		Secrets:         sum.Secrets,
		Partial:         rep.Partial,
		QScannerVersion: rep.QScannerVersion,
		OS:              rep.OS,
		Platform:        rep.Platform,
		Digest:          rep.Digest.String(),
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fail("encode: %v", err)
	}
	fmt.Fprintln(stdout, string(b))
	return 0
}
