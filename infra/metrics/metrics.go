// Package metrics publishes the scanner's CloudWatch metrics in the Embedded
// Metric Format: one JSON document per line on the function's stdout, which
// CloudWatch Logs turns into metrics. It needs no API call and no permission,
// and it costs a Lambda nothing but a log line.
//
// The line is written straight to its writer, not through the leveled logger,
// so the logger's level cannot drop it; and it carries a level and a
// timestamp that Lambda's own log-level filtering lets through (see Level).
package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
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

// Publisher writes EMF documents, one per line. Safe for concurrent use: a
// document is written with a single Write, never interleaved with another.
type Publisher struct {
	mu    sync.Mutex
	w     io.Writer
	level string
}

// NewPublisher writes to w. appLogLevel is the function's application log
// level as Lambda passes it in AWS_LAMBDA_LOG_LEVEL ("" when no log-level
// filtering is configured); it sets the level the lines carry (see Level).
func NewPublisher(w io.Writer, appLogLevel string) *Publisher {
	return &Publisher{w: w, level: Level(appLogLevel)}
}

// Stdout publishes on the process's stdout, where Lambda collects the
// function's logs, at the level the function's logging configuration lets
// through.
func Stdout() *Publisher {
	return NewPublisher(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
}

// lambdaLevels are the values of Lambda's ApplicationLogLevel, least severe
// first.
var lambdaLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// Level is the "level" a metric line carries so that Lambda's log-level
// filtering sends it to CloudWatch Logs whatever ApplicationLogLevel is set.
//
// With the JSON log format Lambda filters a custom runtime's application
// logs by the "level" key of each JSON line, and a line whose level is
// missing or invalid, or that has no valid RFC 3339 timestamp, is taken as
// INFO and so dropped when the level is WARN or above:
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
// Leaving the level out is therefore not enough. Lambda tells the runtime the
// configured level in AWS_LAMBDA_LOG_LEVEL (the variable lambdacontext's
// logger follows); a line at exactly that level always passes. Below INFO the
// line stays INFO, which every such setting lets through; an unknown value
// gets FATAL, which no setting filters.
func Level(appLogLevel string) string {
	want := strings.ToUpper(strings.TrimSpace(appLogLevel))
	switch want {
	case "", "TRACE", "DEBUG", "INFO":
		return "INFO"
	}
	for _, l := range lambdaLevels {
		if l == want {
			return l
		}
	}
	return "FATAL"
}

// Emit writes ms as one EMF line. The metric values sit at the top level
// under their names, so the line is readable in the logs too. An error means
// the line was not written (stdout gone); the caller has nothing better to do
// than log it.
func (p *Publisher) Emit(_ context.Context, now time.Time, ms ...Metric) error {
	if len(ms) == 0 {
		return nil
	}
	line, err := p.document(now, ms)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(line); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

// document is the EMF JSON document followed by a newline. Spec:
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
func (p *Publisher) document(now time.Time, ms []Metric) ([]byte, error) {
	ms = append([]Metric(nil), ms...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	defs := make([]map[string]string, len(ms))
	doc := make(map[string]any, len(ms)+4)
	for i, m := range ms {
		defs[i] = map[string]string{"Name": m.Name, "Unit": string(m.Unit)}
		doc[m.Name] = m.Value
	}
	doc["level"] = p.level
	doc["timestamp"] = now.UTC().Format(time.RFC3339Nano)
	doc["message"] = "metrics"
	doc["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  Namespace,
			"Dimensions": [][]string{{}},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode metrics: %w", err)
	}
	return append(b, '\n'), nil
}
