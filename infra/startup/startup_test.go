package startup

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"ecrscanner/infra/lambdaenv"
)

func TestDedupeSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    dedupe
		wantErr []string
	}{
		{
			name: "defaults",
			env:  map[string]string{"IDEMPOTENCY_TABLE": "idem"},
			want: dedupe{table: "idem"},
		},
		{
			name: "tuned",
			env:  map[string]string{"IDEMPOTENCY_TABLE": "idem", "IDEMPOTENCY_LEASE": "1m", "IDEMPOTENCY_RETENTION": "48h"},
			want: dedupe{table: "idem"},
		},
		{
			name:    "every problem at once",
			env:     map[string]string{"IDEMPOTENCY_LEASE": "soon", "IDEMPOTENCY_RETENTION": "-1h"},
			wantErr: []string{"IDEMPOTENCY_TABLE is required", "IDEMPOTENCY_LEASE", "IDEMPOTENCY_RETENTION"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := lambdaenv.FromMap(tc.env)
			got := dedupeSettings(env, "archive")
			if got.Handler != "archive" {
				t.Errorf("handler %q, want archive", got.Handler)
			}
			err := env.Err()
			if len(tc.wantErr) > 0 {
				for _, w := range tc.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v, want it to mention %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.table != tc.want.table {
				t.Errorf("table %q, want %q", got.table, tc.want.table)
			}
			wantLease, wantRetention := DefaultIdempotencyLease, DefaultIdempotencyRetention
			if v, ok := tc.env["IDEMPOTENCY_LEASE"]; ok {
				wantLease, _ = time.ParseDuration(v)
			}
			if v, ok := tc.env["IDEMPOTENCY_RETENTION"]; ok {
				wantRetention, _ = time.ParseDuration(v)
			}
			if got.Lease != wantLease || got.Retention != wantRetention {
				t.Errorf("lease %v retention %v, want %v and %v", got.Lease, got.Retention, wantLease, wantRetention)
			}
		})
	}
}

func TestDeadLetters(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantDLQ bool
	}{
		{name: "no DLQ_URL: SQS's redrive policy only", env: map[string]string{}},
		{name: "DLQ_URL set", env: map[string]string{"DLQ_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/scan-dlq"}, wantDLQ: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &start{deps: Deps{Env: lambdaenv.FromMap(tc.env), AWS: aws.Config{Region: "eu-west-1"}}}
			dlq := s.deadLetters()
			if (dlq != nil) != tc.wantDLQ {
				t.Errorf("dead letters %v, want one: %v", dlq, tc.wantDLQ)
			}
			if err := s.deps.Env.Err(); err != nil {
				t.Error(err)
			}
		})
	}
}
