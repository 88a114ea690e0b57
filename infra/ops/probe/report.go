package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"ecrscanner/infra/ops/deployer"
)

// The stages the probe reports, in order.
const (
	StageStack       = "stack"
	StagePush        = "push"
	StageTrigger     = "scan started"
	StageScan        = "scan completed"
	StageBus         = "bus event"
	StageArchive     = "archive"
	StageTags        = "repository tags"
	StageReferrer    = "referrer"
	StageAlert       = "alert"
	StageSecurityHub = "security hub"
	StageTrace       = "trace"
	StageCleanup     = "cleanup"
)

// pipelineStages are the stages the probe waits for after the push.
var pipelineStages = []string{StageTrigger, StageScan, StageBus, StageArchive, StageTags, StageReferrer, StageAlert, StageSecurityHub, StageTrace}

// Stage is one line of the probe's report.
type Stage struct {
	Name   string          `json:"stage"`
	Result deployer.Result `json:"result"`
	// After is the time from the push to when the stage was seen done (or
	// given up on); zero for stages before the push.
	After  time.Duration `json:"afterMillis"`
	Detail string        `json:"detail"`
	// Cause is, for a FAIL, the most likely cause and where to look further.
	Cause string `json:"cause,omitempty"`
}

// MarshalJSON writes After in milliseconds, the unit its name says.
func (s Stage) MarshalJSON() ([]byte, error) {
	type plain Stage
	p := plain(s)
	p.After = s.After / time.Millisecond
	return json.Marshal(p)
}

// Report is the outcome of one probe run.
type Report struct {
	Stack string `json:"stack"`
	// Run is the run's ID: in the image's tag and label and in the names
	// and tags of its temporary resources.
	Run    string  `json:"run,omitempty"`
	Image  string  `json:"image,omitempty"`
	Digest string  `json:"digest,omitempty"`
	Stages []Stage `json:"stages"`
}

// Failed reports whether any stage failed.
func (r Report) Failed() bool {
	return slices.ContainsFunc(r.Stages, func(s Stage) bool { return s.Result == deployer.Fail })
}

// Stage returns the named stage's line, if the report has one.
func (r Report) Stage(name string) (Stage, bool) {
	i := slices.IndexFunc(r.Stages, func(s Stage) bool { return s.Name == name })
	if i < 0 {
		return Stage{}, false
	}
	return r.Stages[i], true
}

func (r *Report) add(name string, res deployer.Result, after time.Duration, format string, args ...any) {
	r.Stages = append(r.Stages, Stage{Name: name, Result: res, After: after, Detail: fmt.Sprintf(format, args...)})
}

// Render writes the report as a table, each FAIL followed by its cause.
func (r Report) Render(w io.Writer) error {
	if r.Image != "" {
		fmt.Fprintf(w, "probe image %s\n", r.Image)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tRESULT\tAFTER PUSH\tDETAIL")
	counts := map[deployer.Result]int{}
	for _, s := range r.Stages {
		counts[s.Result]++
		after := "-"
		if s.After > 0 {
			after = s.After.Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Result, after, s.Detail)
		if s.Cause != "" {
			fmt.Fprintf(tw, "\t\t\tcause: %s\n", s.Cause)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", counts[deployer.Pass], counts[deployer.Fail], counts[deployer.Skip])
	return err
}
