package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// varyShift and varyGrow are how generated findings move from one run of a
// digest to the next under QSCANNER_STANDIN_VARY: the first varyShift
// findings disappear (as if fixed) and varyGrow new ones appear, among
// them a HIGH and a CRITICAL (Qualys levels 4 and 5), so that a rescan has
// something new to alert on.
const (
	varyShift = 2
	varyGrow  = 5
)

// varyRange is the range [from, to) of generated findings for this run of
// digest: [0, n) unless QSCANNER_STANDIN_VARY names a directory, where the
// stand-in (a TEST TOOL, not Qualys QScanner) counts its runs per digest
// and shifts the range by each earlier run. The real QScanner's results
// change when Qualys publishes new vulnerabilities; this imitates that for
// the rescan demo and tests.
func varyRange(digest string, n int) (from, to int, err error) {
	dir := os.Getenv("QSCANNER_STANDIN_VARY")
	if dir == "" {
		return 0, n, nil
	}
	path := filepath.Join(dir, strings.TrimPrefix(digest, "sha256:")+".runs")
	earlier := 0
	if b, err := os.ReadFile(path); err == nil {
		earlier, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(earlier+1)), 0o644); err != nil {
		return 0, 0, fmt.Errorf("QSCANNER_STANDIN_VARY: %w", err)
	}
	return earlier * varyShift, n + earlier*varyGrow, nil
}
