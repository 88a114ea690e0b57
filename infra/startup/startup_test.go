package startup

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"ecrscanner/infra/lambdaenv"
)

func TestDedupeSettings(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name          string
		env           map[string]string
		wantLease     time.Duration
		wantRetention time.Duration
		wantErr       []string
	}{
		{name: "defaults: the cache plus the redelivery window", env: map[string]string{"IDEMPOTENCY_TABLE": "idem", "CACHE_TTL_DAYS": "30"},
			wantLease: DefaultIdempotencyLease, wantRetention: 30*day + RedeliveryWindow},
		{name: "the longest cache the template allows", env: map[string]string{"IDEMPOTENCY_TABLE": "idem", "CACHE_TTL_DAYS": "3650"},
			wantLease: DefaultIdempotencyLease, wantRetention: 3650*day + RedeliveryWindow},
		{name: "tuned", env: map[string]string{"IDEMPOTENCY_TABLE": "idem", "CACHE_TTL_DAYS": "1", "IDEMPOTENCY_LEASE": "1m", "IDEMPOTENCY_RETENTION": "48h"},
			wantLease: time.Minute, wantRetention: 48 * time.Hour},
		{name: "a retention as long as the cache", env: map[string]string{"IDEMPOTENCY_TABLE": "idem", "CACHE_TTL_DAYS": "30", "IDEMPOTENCY_RETENTION": "720h"},
			wantLease: DefaultIdempotencyLease, wantRetention: 30 * day},
		{name: "a retention shorter than the cache is refused", env: map[string]string{"IDEMPOTENCY_TABLE": "idem", "CACHE_TTL_DAYS": "3650", "IDEMPOTENCY_RETENTION": "2160h"},
			wantErr: []string{"IDEMPOTENCY_RETENTION=2160h0m0s is shorter than the scan cache (CACHE_TTL_DAYS=3650"}},
		{name: "one hour short of the cache is refused", env: map[string]string{"IDEMPOTENCY_TABLE": "idem", "CACHE_TTL_DAYS": "30", "IDEMPOTENCY_RETENTION": "719h"},
			wantErr: []string{"IDEMPOTENCY_RETENTION=719h0m0s is shorter than the scan cache"}},
		{name: "no cache TTL: nothing to show the markers outlive", env: map[string]string{"IDEMPOTENCY_TABLE": "idem"},
			wantErr: []string{"CACHE_TTL_DAYS is required"}},
		{name: "every problem at once", env: map[string]string{"IDEMPOTENCY_LEASE": "soon", "IDEMPOTENCY_RETENTION": "-1h", "CACHE_TTL_DAYS": "ten"},
			wantErr: []string{"IDEMPOTENCY_TABLE is required", "IDEMPOTENCY_LEASE", "IDEMPOTENCY_RETENTION", "CACHE_TTL_DAYS"}},
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
			if got.table != "idem" {
				t.Errorf("table %q, want idem", got.table)
			}
			if got.Lease != tc.wantLease || got.Retention != tc.wantRetention {
				t.Errorf("lease %v retention %v, want %v and %v", got.Lease, got.Retention, tc.wantLease, tc.wantRetention)
			}
		})
	}
}

// MarkerRetention gives a Build the retention deduplication uses, and leaves
// reporting problems to Events, which has done it already.
func TestMarkerRetention(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{name: "default", env: map[string]string{"CACHE_TTL_DAYS": "3650"}},
		{name: "set", env: map[string]string{"CACHE_TTL_DAYS": "30", "IDEMPOTENCY_RETENTION": "1000h"}},
		{name: "refused by Events", env: map[string]string{"CACHE_TTL_DAYS": "30", "IDEMPOTENCY_RETENTION": "1h"}},
		{name: "no cache TTL: the longest the template allows", env: map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := lambdaenv.FromMap(tc.env)
			got := MarkerRetention(env)
			if err := env.Err(); err != nil {
				t.Errorf("MarkerRetention recorded %v; Events reports it once", err)
			}
			want := readRetention(lambdaenv.FromMap(tc.env)).Markers
			if got != want {
				t.Errorf("MarkerRetention = %v, want deduplication's %v", got, want)
			}
		})
	}
	if got, want := MarkerRetention(lambdaenv.FromMap(map[string]string{})), maxCacheTTLDays*24*time.Hour+RedeliveryWindow; got != want {
		t.Errorf("without CACHE_TTL_DAYS: %v, want %v", got, want)
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
