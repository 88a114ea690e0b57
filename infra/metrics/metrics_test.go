package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// validateEMF fails t unless line is one EMF document (spec:
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
// and returns it decoded.
func validateEMF(t *testing.T, line string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(line), &doc); err != nil {
		t.Fatalf("not one JSON document: %v: %s", err, line)
	}
	aws, _ := doc["_aws"].(map[string]any)
	if _, ok := aws["Timestamp"].(float64); !ok {
		t.Fatalf("_aws.Timestamp missing: %s", line)
	}
	cw, _ := aws["CloudWatchMetrics"].([]any)
	if len(cw) != 1 {
		t.Fatalf("CloudWatchMetrics %v", aws["CloudWatchMetrics"])
	}
	def := cw[0].(map[string]any)
	if def["Namespace"] != Namespace {
		t.Errorf("namespace %v", def["Namespace"])
	}
	for _, m := range def["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		if _, ok := doc[name].(float64); !ok {
			t.Errorf("metric %s has no numeric value at the top level", name)
		}
	}
	return doc
}

func TestEmitWritesEmbeddedMetricFormat(t *testing.T) {
	var buf bytes.Buffer
	now := time.UnixMilli(1795631457308)
	if err := NewPublisher(&buf, "").Emit(context.Background(), now, Metric{"ScanDurationMs", 1234, Milliseconds}, Metric{"ScanCompleted", 1, Count}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "\n") || strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("not one line: %q", buf.String())
	}
	doc := validateEMF(t, buf.String())
	if doc["ScanCompleted"] != 1.0 || doc["ScanDurationMs"] != 1234.0 {
		t.Errorf("metric values %v %v", doc["ScanCompleted"], doc["ScanDurationMs"])
	}
	if got := doc["_aws"].(map[string]any)["Timestamp"]; got != float64(now.UnixMilli()) {
		t.Errorf("timestamp %v", got)
	}
	var names []string
	for _, m := range doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any) {
		names = append(names, m.(map[string]any)["Name"].(string)+"/"+m.(map[string]any)["Unit"].(string))
	}
	if len(names) != 2 || names[0] != "ScanCompleted/Count" || names[1] != "ScanDurationMs/Milliseconds" {
		t.Errorf("metric definitions %v", names)
	}
	// Lambda takes a line without a valid RFC 3339 timestamp as INFO.
	if ts, _ := doc["timestamp"].(string); ts == "" {
		t.Error("no timestamp")
	} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
}

// Lambda drops a JSON line whose level is below the function's
// ApplicationLogLevel, and takes a line without a level as INFO; the metric
// line must pass at every setting.
func TestEmitPassesEveryApplicationLogLevel(t *testing.T) {
	rank := map[string]int{}
	for i, l := range lambdaLevels {
		rank[l] = i
	}
	for _, setting := range append([]string{"", "info", "warn", "Error", "bogus"}, lambdaLevels...) {
		t.Run("level="+setting, func(t *testing.T) {
			var buf bytes.Buffer
			if err := NewPublisher(&buf, setting).Emit(context.Background(), time.Now(), Metric{"CacheHit", 1, Count}); err != nil {
				t.Fatal(err)
			}
			doc := validateEMF(t, buf.String())
			got, ok := rank[doc["level"].(string)]
			if !ok {
				t.Fatalf("level %v is not one Lambda knows (it would be taken as INFO)", doc["level"])
			}
			filter := rank["INFO"]
			if r, known := rank[strings.ToUpper(setting)]; known {
				filter = r
			} else if setting != "" {
				filter = rank["FATAL"]
			}
			if got < filter {
				t.Errorf("line level %v is filtered out at %q", doc["level"], setting)
			}
		})
	}
}

func TestEmitNothingWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	if err := NewPublisher(&buf, "").Emit(context.Background(), time.Now()); err != nil || buf.Len() != 0 {
		t.Errorf("wrote %q, %v", buf.String(), err)
	}
}
