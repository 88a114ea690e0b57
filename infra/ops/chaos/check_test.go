package chaos

import (
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/local"
)

func TestSummaryLine(t *testing.T) {
	r := &Result{Pushes: 500, Digests: 100, Completed: 80, FailedWithReason: 17, PoisonInDLQ: 5, Poison: 5, Elapsed: 100 * time.Second}
	want := "pushes 500, digests 100, completed 80, failed-with-reason 17, stuck 0, lost 0, duplicate archives 0, duplicate alerts 0, poison in DLQ 5/5, 5.0 events/s"
	if got := r.Summary(); got != want {
		t.Errorf("summary\n got %s\nwant %s", got, want)
	}
	if r.Failed() {
		t.Error("a run without violations failed")
	}
}

func alert(scan, repo, digest string) local.Alert {
	return local.Alert{
		Subject:    "Security Alert: " + repo,
		Message:    "Critical findings\n\nImage:        x\nScan:         " + scan + ", completed 2026-12-02T10:00:00Z\n",
		Attributes: map[string]string{"repository": repo, "image_digest": digest},
	}
}

// The checker counts an alert beyond the first per (scan, repository) and
// says which; one scan alerting two repositories is not a duplicate.
func TestCheckAlertsFindsDuplicates(t *testing.T) {
	scanA, scanB := strings.Repeat("a", 32), strings.Repeat("b", 32)
	r := &run{alerts: &alertLog{alerts: []local.Alert{
		alert(scanA, "app-0", "sha256:1"), alert(scanA, "app-1", "sha256:1"), alert(scanA, "app-0", "sha256:1"), alert(scanB, "app-0", "sha256:1"),
	}}}
	res := &Result{}
	r.checkAlerts(res)
	if res.Alerts != 4 || res.DuplicateAlerts != 1 || len(res.Violations) != 1 || !strings.Contains(res.Violations[0], scanA+"|app-0") {
		t.Errorf("alerts %d duplicates %d violations %q", res.Alerts, res.DuplicateAlerts, res.Violations)
	}
}

func TestCheckAlertsRejectsAnAlertWithoutScan(t *testing.T) {
	r := &run{alerts: &alertLog{alerts: []local.Alert{{Subject: "odd", Message: "no scan line", Attributes: map[string]string{}}}}}
	res := &Result{}
	r.checkAlerts(res)
	if len(res.Violations) != 1 || !strings.Contains(res.Violations[0], `alert "odd" names no scan`) {
		t.Errorf("violations %q", res.Violations)
	}
}

// A repository pushed to but missing from the record is lost unless that
// push is in a scan dead-letter queue.
func TestCheckReferences(t *testing.T) {
	d := domain.Digest("sha256:" + strings.Repeat("c", 64))
	rec := domain.ScanRecord{Digest: d, Status: domain.StatusCompleted, References: []domain.Reference{{ImageRef: domain.ImageRef{Repository: "app-0", Digest: d}}}}
	repos := map[string]bool{"app-0": true, "app-1": true, "app-2": true}
	dlq := []deadLetter{{body: `{"detail":{"repository-name":"app-2","image-digest":"` + d.String() + `"}}`}}
	res := &Result{}
	(&run{}).checkReferences(res, 4, rec, repos, dlq)
	if res.Lost != 1 || res.LostReferences != 1 || len(res.Violations) != 1 || !strings.Contains(res.Violations[0], "pushed to app-1") {
		t.Errorf("lost %d (references %d), violations %q", res.Lost, res.LostReferences, res.Violations)
	}
}

func TestDeadLetterDescribe(t *testing.T) {
	d := "sha256:" + strings.Repeat("d", 64)
	redriven := deadLetter{body: `{"detail-type": "ScanCompleted", "detail": {"digest": "` + d + `"}}`, receives: "5"}
	if got, want := redriven.describe(), "redriven by SQS after 5 receives: "+d+" ScanCompleted"; got != want {
		t.Errorf("describe: %q, want %q", got, want)
	}
	own := deadLetter{body: "{", reason: "invalid bus event"}
	if got := own.describe(); got != "invalid bus event:" {
		t.Errorf("describe: %q", got)
	}
}
