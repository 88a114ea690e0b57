// Package metrics publishes the scanner's CloudWatch metrics in the Embedded
// Metric Format: one structured log line per observation, which CloudWatch
// Logs turns into metrics. It needs no API call and no permission, and it
// costs a Lambda nothing but a log line.
package metrics

import (
	"context"
	"log/slog"
	"sort"
	"time"
)

// Namespace is where the dashboard in the template reads the metrics.
const Namespace = "ECRImageScanner"

// Unit is a CloudWatch metric unit.
type Unit string

const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
)

// Metric is one value to publish.
type Metric struct {
	Name  string
	Value float64
	Unit  Unit
}

// Emit writes metrics as one EMF log line through logger. The line is a
// normal structured log record too: its message and the metric values are
// readable in the logs.
func Emit(ctx context.Context, logger *slog.Logger, now time.Time, ms ...Metric) {
	if len(ms) == 0 {
		return
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	defs := make([]map[string]string, len(ms))
	attrs := make([]any, 0, len(ms)+1)
	for i, m := range ms {
		defs[i] = map[string]string{"Name": m.Name, "Unit": string(m.Unit)}
		attrs = append(attrs, slog.Float64(m.Name, m.Value))
	}
	attrs = append(attrs, slog.Any("_aws", map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  Namespace,
			"Dimensions": [][]string{{}},
			"Metrics":    defs,
		}},
	}))
	logger.InfoContext(ctx, "metrics", attrs...)
}
