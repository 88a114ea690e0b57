package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

// The line must be valid EMF: an _aws object naming the namespace and each
// metric, and each metric's value at the top level under its name.
func TestEmitWritesEmbeddedMetricFormat(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	now := time.UnixMilli(1795631457308)
	Emit(context.Background(), logger, now, Metric{"ScanCompleted", 1, Count}, Metric{"ScanDurationMs", 1234, Milliseconds})

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %v: %s", err, buf.String())
	}
	if line["ScanCompleted"] != 1.0 || line["ScanDurationMs"] != 1234.0 {
		t.Errorf("metric values %v %v", line["ScanCompleted"], line["ScanDurationMs"])
	}
	aws, _ := line["_aws"].(map[string]any)
	if aws["Timestamp"] != float64(now.UnixMilli()) {
		t.Errorf("timestamp %v", aws["Timestamp"])
	}
	cw, _ := aws["CloudWatchMetrics"].([]any)
	if len(cw) != 1 {
		t.Fatalf("CloudWatchMetrics %v", aws["CloudWatchMetrics"])
	}
	def := cw[0].(map[string]any)
	if def["Namespace"] != Namespace {
		t.Errorf("namespace %v", def["Namespace"])
	}
	var names []string
	for _, m := range def["Metrics"].([]any) {
		names = append(names, m.(map[string]any)["Name"].(string)+"/"+m.(map[string]any)["Unit"].(string))
	}
	if len(names) != 2 || names[0] != "ScanCompleted/Count" || names[1] != "ScanDurationMs/Milliseconds" {
		t.Errorf("metric definitions %v", names)
	}
}

func TestEmitNothingWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	Emit(context.Background(), slog.New(slog.NewJSONHandler(&buf, nil)), time.Now())
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}
}
