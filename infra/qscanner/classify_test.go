package qscanner

import (
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		stderr string
		want   domain.FailureClass
	}{
		{"generic error", 1, "Error: something broke", domain.FailureCrashed},
		{"qualys token refused", 1, "Error: 401 unauthorized: invalid Qualys access token", domain.FailureQualysAuth},
		{"gateway forbids", 1, "POST https://gateway.qg1.apps.qualys.com/: 403 Forbidden", domain.FailureQualysAuth},
		{"registry refuses the pull", 1, "pull 1.dkr.ecr.us-east-1.amazonaws.com/x: unauthorized", domain.FailureRegistryAuth},
		{"bare invalid token", 1, "invalid token", domain.FailureQualysAuth},
		{"auth words without a party", 1, "unauthorized", domain.FailureCrashed},
		{"invalid parameter", 2, "Error: unknown flag: --bogus", domain.FailureInvalidParameter},
		{"go panic exits 2", 2, "panic: runtime error: invalid memory address\ngoroutine 1 [running]:", domain.FailureCrashed},
		{"logger init", 3, "", domain.FailureInvalidParameter},
		{"image not found", 6, "MANIFEST_UNKNOWN: image not found", domain.FailureImageNotFound},
		{"registry auth on load", 6, "unauthorized: authentication required", domain.FailureRegistryAuth},
		{"registry denied on load", 10, "denied: User is not authorized to perform ecr:BatchGetImage", domain.FailureRegistryAuth},
		{"OS not supported", 17, "", domain.FailureScanner},
		{"scanner failed", 21, "", domain.FailureScanner},
		{"upload failed", 31, "upload: connection reset", domain.FailureScanner},
		{"upload refused", 35, "upload: 401 Unauthorized", domain.FailureQualysAuth},
		{"partial", 40, "", domain.FailurePartialReport},
		{"policy result unavailable", 41, "", domain.FailureScanner},
		{"deny", 42, "", domain.FailurePolicyDeny},
		{"audit", 43, "", domain.FailurePolicyAudit},
		{"undocumented code", 99, "", domain.FailureScanner},
		{"401 inside a repository name", 6, "Error: failed to load image 1.dkr.ecr.us-east-1.amazonaws.com/team-45401c24@sha256:ab: MANIFEST_UNKNOWN: image not found", domain.FailureImageNotFound},
		{"403 inside a digest", 6, "Error: failed to load image x@sha256:9f403e: not found", domain.FailureImageNotFound},
		{"coloured status code", 1, "\x1b[31mError\x1b[0m: gateway said \x1b[1m401\x1b[0m for the access token", domain.FailureQualysAuth},
		{"status code at the end", 35, "upload: HTTP 401", domain.FailureQualysAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.code, tc.stderr); got != tc.want {
				t.Errorf("classify(%d, %q) = %s, want %s", tc.code, tc.stderr, got, tc.want)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	const token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.tok.en"
	tests := []struct {
		name    string
		out     string
		want    string
		notWant []string
	}{
		{"token redacted", "Error: token " + token + " refused", "Error: token [REDACTED] refused", []string{token}},
		{"bearer redacted", "Authorization: Bearer abc.def.ghi", "Authorization: Bearer [REDACTED]", []string{"abc.def.ghi"}},
		{"env assignment redacted", "env QUALYS_ACCESS_TOKEN=zzz123 set", "env QUALYS_ACCESS_TOKEN=[REDACTED] set", []string{"zzz123"}},
		{"escapes and control characters removed", "\x1b[31mError\x1b[0m:\tbad\x07 thing\r", "Error: bad thing", nil},
		{"last three lines kept", "one\ntwo\n\nthree\nfour\n", "two | three | four", []string{"one"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sanitize(tc.out, token)
			if got != tc.want {
				t.Errorf("sanitize = %q, want %q", got, tc.want)
			}
			for _, nw := range tc.notWant {
				if strings.Contains(got, nw) {
					t.Errorf("sanitize kept %q", nw)
				}
			}
		})
	}
}

func TestSanitizeBoundsLength(t *testing.T) {
	got := sanitize(strings.Repeat("é", 1000), "")
	if len(got) > maxReason+len("…") || !strings.HasPrefix(got, "…") {
		t.Errorf("len %d, prefix %q: want at most %d bytes, marked as cut", len(got), got[:8], maxReason)
	}
	if !strings.HasSuffix(got, "é") || strings.ContainsRune(got, '\uFFFD') {
		t.Error("cut inside a character")
	}
}

func TestTailDropsThePartialFirstLine(t *testing.T) {
	const token = "SECRETTOKENVALUE"
	tl := newTail(32)
	// The token straddles the point where the tail starts: only part of it is
	// kept, which redaction could not recognise, so the line must go.
	_, _ = tl.Write([]byte("xxxxxxxxxx auth " + token + " failed\nlast line\n"))
	got := tl.String()
	if got != "last line\n" {
		t.Errorf("tail = %q, want only the last whole line", got)
	}
	short := newTail(64)
	_, _ = short.Write([]byte("a\nb\n"))
	if short.String() != "a\nb\n" {
		t.Errorf("untruncated tail = %q", short.String())
	}
}

func TestScanTimeout(t *testing.T) {
	tests := []struct {
		name string
		left string
		want string
	}{
		{"ten minutes keeps back ten seconds", "10m", "590s"},
		{"thirty seconds keeps back a tenth", "30s", "27s"},
		{"never below a second", "200ms", "1s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := time.ParseDuration(tc.left)
			if err != nil {
				t.Fatal(err)
			}
			if got := scanTimeout(d); got != tc.want {
				t.Errorf("scanTimeout(%s) = %s, want %s", tc.left, got, tc.want)
			}
		})
	}
}
