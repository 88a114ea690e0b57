package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/testkit"
)

var fixedNow = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// suppressBucket aims the CLI at moto and returns a fresh bucket for the
// rules, with the clock fixed at fixedNow.
func suppressBucket(t *testing.T) string {
	t.Helper()
	cfg := mototest.Config(t)
	aimAtMoto.Do(func() { loadAWSConfig = func(context.Context) (aws.Config, error) { return cfg, nil } })
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	bucket := mototest.UniqueName("supp")
	if err := mototest.CreateBucket(context.Background(), client, bucket, mototest.Region); err != nil {
		t.Fatal(err)
	}
	setNow(t, fixedNow)
	return bucket
}

func setNow(t *testing.T, now time.Time) {
	old := suppressNow
	suppressNow = func() time.Time { return now }
	t.Cleanup(func() { suppressNow = old })
}

func TestSuppressAddRefusesWithReasons(t *testing.T) {
	bucket := suppressBucket(t)
	base := []string{"suppress", "add", "--bucket", bucket, "--owner", "alice"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no reason", []string{"--vulnerability", "CVE-2024-3094", "--repository", "app", "--expires", "30d"}, "no reason"},
		{"no expiry", []string{"--vulnerability", "CVE-2024-3094", "--repository", "app", "--reason", "r"}, "no expiry"},
		{"expiry past", []string{"--vulnerability", "CVE-2024-3094", "--repository", "app", "--reason", "r", "--expires", "2026-01-01"}, "not in the future"},
		{"expiry beyond max", []string{"--vulnerability", "CVE-2024-3094", "--repository", "app", "--reason", "r", "--expires", "120d"}, "beyond the maximum of 90 days"},
		{"configured max", []string{"--vulnerability", "CVE-2024-3094", "--repository", "app", "--reason", "r", "--expires", "10d", "--max-days", "7"}, "maximum of 7 days"},
		{"unknown identifier", []string{"--vulnerability", "GHSA-1234", "--repository", "app", "--reason", "r", "--expires", "30d"}, "neither a QID"},
		{"bare star", []string{"--vulnerability", "38913", "--repository", "*", "--reason", "r", "--expires", "30d"}, "matches every repository"},
		{"bad expiry", []string{"--vulnerability", "38913", "--repository", "app", "--reason", "r", "--expires", "soon"}, "--expires"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append(base, tt.args...)...)
			if code != exitFailed || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 1 saying %q", code, stderr, tt.want)
			}
		})
	}
	// Nothing refused was written.
	if code, out, _ := runCLI(t, "suppress", "list", "--bucket", bucket); code != exitOK || !strings.Contains(out, "no suppressions") {
		t.Fatalf("after refusals: exit %d, %q; want no suppressions", code, out)
	}
	if code, _, _ := runCLI(t, "suppress", "add", "--bucket", bucket, "stray"); code != exitUsage {
		t.Fatalf("stray argument: exit %d, want 2", code)
	}
}

func TestSuppressAddListRemoveAndExpiry(t *testing.T) {
	bucket := suppressBucket(t)
	code, out, stderr := runCLI(t, "suppress", "add", "--bucket", bucket, "--vulnerability", "cve-2024-3094", "--repository", "team-a/*",
		"--reason", "xz is never loaded", "--owner", "alice", "--expires", "30d")
	if code != exitOK || !strings.Contains(out, "added sup-") {
		t.Fatalf("add: exit %d, %q %q", code, out, stderr)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	code, out, stderr = runCLI(t, "suppress", "list", "--bucket", bucket)
	if code != exitOK || !strings.Contains(out, id) || !strings.Contains(out, "active") || !strings.Contains(out, "CVE-2024-3094") || stderr != "" {
		t.Fatalf("list: exit %d, %q %q", code, out, stderr)
	}
	// 31 days on, the rule is expired: list says so, on stderr, by ID.
	setNow(t, fixedNow.Add(31*24*time.Hour))
	code, out, stderr = runCLI(t, "suppress", "list", "--bucket", bucket)
	if code != exitOK || !strings.Contains(out, "EXPIRED") || !strings.Contains(stderr, "1 rule(s) expired") || !strings.Contains(stderr, id) {
		t.Fatalf("list after expiry: exit %d, %q %q", code, out, stderr)
	}
	if code, _, stderr = runCLI(t, "suppress", "remove", "--bucket", bucket, "sup-nope"); code != exitFailed || !strings.Contains(stderr, `no rule "sup-nope"`) {
		t.Fatalf("remove unknown: exit %d, %q", code, stderr)
	}
	if code, out, _ = runCLI(t, "suppress", "remove", "--bucket", bucket, id); code != exitOK || !strings.Contains(out, "removed "+id) {
		t.Fatalf("remove: exit %d, %q", code, out)
	}
	if _, out, _ = runCLI(t, "suppress", "list", "--bucket", bucket); !strings.Contains(out, "no suppressions") {
		t.Fatalf("after remove: %q", out)
	}
}

func TestSuppressExportOpenVEXGolden(t *testing.T) {
	d := domain.Digest("sha256:" + strings.Repeat("ab", 32))
	rules := domain.Suppressions{Rules: []domain.Suppression{
		{ID: "sup-1", Vulnerability: "CVE-2024-3094", Repositories: []string{"sample-app"}, Digests: []domain.Digest{d}, Reason: "xz is never loaded", Owner: "alice", CreatedAt: fixedNow, ExpiresAt: fixedNow.Add(720 * time.Hour)},
		{ID: "sup-2", Vulnerability: "38913", Repositories: []string{"team-a/api", "team-a/*"}, Reason: "kernel package, not run in a container", Owner: "bob", CreatedAt: fixedNow, ExpiresAt: fixedNow.Add(240 * time.Hour)},
		{ID: "sup-3", SecretRule: "aws-access-key-id", Repositories: []string{"sample-app"}, Reason: "test fixture key", Owner: "carol", CreatedAt: fixedNow, ExpiresAt: fixedNow.Add(240 * time.Hour)},
		{ID: "sup-4", Vulnerability: "CVE-2023-0001", Repositories: []string{"old"}, Reason: "r", Owner: "dan", CreatedAt: fixedNow.Add(-48 * time.Hour), ExpiresAt: fixedNow.Add(-time.Hour)},
	}}
	doc, skipped := buildVEX(rules, "security@example.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com", fixedNow)
	want := []string{"sup-2: glob team-a/* is not a product", "sup-3: secret rule aws-access-key-id is not a vulnerability", "sup-4: expired"}
	if strings.Join(skipped, "|") != strings.Join(want, "|") {
		t.Fatalf("skipped = %q, want %q", skipped, want)
	}
	got, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	testkit.Golden(t, "testdata/suppress-export.openvex.json", got)
	for _, field := range []string{`"@context": "https://openvex.dev/ns/v0.2.0"`, `"status": "not_affected"`, `"impact_statement": "xz is never loaded"`, `"name": "QID-38913"`} {
		if !strings.Contains(string(got), field) {
			t.Errorf("document lacks %s", field)
		}
	}
}

func TestSuppressExportThroughCLI(t *testing.T) {
	bucket := suppressBucket(t)
	if code, _, stderr := runCLI(t, "suppress", "add", "--bucket", bucket, "--vulnerability", "CVE-2024-3094", "--repository", "sample-app",
		"--reason", "never loaded", "--owner", "alice", "--expires", "2026-12-31"); code != exitOK {
		t.Fatalf("add: %s", stderr)
	}
	code, out, stderr := runCLI(t, "suppress", "export", "--bucket", bucket, "--registry", "123456789012.dkr.ecr.us-east-1.amazonaws.com")
	if code != exitOK || !strings.Contains(out, `"vulnerability": {`) || !strings.Contains(out, "pkg:oci/sample-app?repository_url=123456789012.dkr.ecr.us-east-1.amazonaws.com%2Fsample-app") {
		t.Fatalf("export: exit %d, %q %q", code, out, stderr)
	}
}
