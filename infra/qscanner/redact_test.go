package qscanner

import (
	"fmt"
	"strings"
	"testing"
)

// redactTestToken is a Qualys-token-shaped value (a JWT) used by the tests below.
const redactTestToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzY2FubmVyIn0.c2lnbmF0dXJlLXBhcnQ"

// fakeKey is the fake credential the stand-in's secret finding matches.
const fakeKey = "AKIAZQ3EXAMPLEFAKE42"

func percentEncodeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

// leaksToken reports whether got holds the token or any piece of it long
// enough to matter (tokenWindow bytes).
func leaksToken(got, token string) bool {
	for i := 0; i+tokenWindow <= len(token); i++ {
		if strings.Contains(got, token[i:i+tokenWindow]) {
			return true
		}
	}
	return false
}

func TestSanitizeRedactsTheTokenAfterNormalising(t *testing.T) {
	tok := redactTestToken
	tests := []struct {
		name string
		out  string
	}{
		{"split by an ANSI colour code", "Error: token " + tok[:20] + "\x1b[31m" + tok[20:] + "\x1b[0m refused"},
		{"coloured in pieces", "\x1b[1;31m" + tok[:5] + "\x1b[0m\x1b[33m" + tok[5:40] + "\x1b[0m" + tok[40:]},
		{"split by a carriage return", "auth header " + tok[:30] + "\r" + tok[30:] + "\n"},
		{"split by carriage returns everywhere", strings.Join(strings.Split(tok, ""), "\r")},
		{"split by a zero-width space", "token " + tok[:25] + "\u200b" + tok[25:]},
		{"split by other control characters", "token " + tok[:10] + "\x00\x07\x7f" + tok[10:]},
		{"split by an OSC sequence", "token " + tok[:10] + "\x1b]0;title\x07" + tok[10:]},
		{"percent-encoded", "Error: bad token " + percentEncodeAll(tok)},
		{"dots percent-encoded", "token=" + strings.ReplaceAll(tok, ".", "%2E") + " refused"},
		{"percent-encoded twice", "token " + strings.ReplaceAll(percentEncodeAll(tok), "%", "%25")},
		{"escape percent-encoded inside the token", "token " + tok[:20] + "%1B%5B31m" + tok[20:]},
		{"inside a URL query", "GET https://gateway.qg1.apps.qualys.com/csapi/v1.3/images?token=" + tok + "&page=1: 401 Unauthorized"},
		{"percent-encoded inside a URL query", "POST https://gateway.example/x?t=" + percentEncodeAll(tok) + "&y=2: 403"},
		{"cut in two by a line break", "Error: token " + tok[:40] + "\n" + tok[40:] + " refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sanitize(tc.out, tok)
			if leaksToken(got, tok) {
				t.Errorf("sanitize(%q) = %q: the token, or a piece of it, reaches the reason", tc.out, got)
			}
			if !strings.Contains(got, redacted) {
				t.Errorf("sanitize(%q) = %q: want the token marked %s", tc.out, got, redacted)
			}
		})
	}
}

func TestSanitizeRedactsCredentialsInURLs(t *testing.T) {
	tests := []struct {
		name, out, secret, want string
	}{
		{"access token parameter", "GET https://g.example/v1?access_token=opaque123&x=1 failed", "opaque123",
			"GET https://g.example/v1?access_token=[REDACTED]&x=1 failed"},
		{"presigned URL signature", "PUT https://b.s3.amazonaws.com/k?X-Amz-Credential=ASIAX%2F1&X-Amz-Signature=deadbeef01: 403", "deadbeef01",
			"PUT https://b.s3.amazonaws.com/k?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED] 403"}, // a value runs to the next space: a colon may be part of it
		{"password in user information", "proxy http://scanner:hunter2pw@proxy.internal:3128 refused", "hunter2pw",
			"proxy http://scanner:[REDACTED]@proxy.internal:3128 refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sanitize(tc.out, redactTestToken)
			if strings.Contains(got, tc.secret) || got != tc.want {
				t.Errorf("sanitize = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSanitizeWithholdsSecretScannerLines(t *testing.T) {
	tests := []struct {
		name   string
		out    string
		secret string
	}{
		{"finding echoed as JSON", `{"RuleID":"aws-access-key-id","Category":"AWS","Severity":"CRITICAL","Match":"AWS_ACCESS_KEY_ID=` + fakeKey + `"}`, fakeKey},
		{"finding logged as key=value", "secret: rule=aws-access-key-id file=app/.env line=3 match=" + fakeKey, fakeKey},
		{"secret found message", "WARN secret found in app/.env:3 (aws-access-key-id): AWS_ACCESS_KEY_ID=xyz-9f8e7d", "xyz-9f8e7d"},
		{"matched text alone", "AWS_ACCESS_KEY_ID=" + fakeKey, fakeKey},
		{"access key id in any text", "debug: layer sha256:abc scanned, saw " + fakeKey, fakeKey},
		{"access key split by a colour code", "saw AKIAZQ3E\x1b[1mXAMPLEFAKE42\x1b[0m in layer", fakeKey},
		{"private key quoted", "Code: -----BEGIN RSA PRIVATE KEY-----MIIEow", "MIIEow"},
		{"password assignment", `config.yaml:12: db_password: "s3cr3t-value"`, "s3cr3t-value"},
		{"client secret in env", "QUALYS_CLIENT_SECRET=cl1ent-s3cret", "cl1ent-s3cret"},
		{"github token", "found ghp_0123456789abcdefghijABCDEFGHIJ012345 in .git/config", "ghp_0123456789abcdefghij"},
		{"code snippet field", `"Code": {"Lines": [{"Content": "aws_secret = wJalrXUtnFEMI/K7MDENG"}]}`, "wJalrXUtnFEMI"},
		{"opaque mixed-case run", "Error: header X-Api: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY rejected", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sanitize("scanning layers...\n"+tc.out+"\n", redactTestToken)
			if strings.Contains(got, tc.secret) {
				t.Errorf("sanitize = %q: the secret reaches the reason", got)
			}
			if !strings.HasPrefix(got, "scanning layers... | ") {
				t.Errorf("sanitize = %q: the ordinary line before it is lost", got)
			}
		})
	}
}

func TestSanitizeKeepsOrdinaryErrors(t *testing.T) {
	const digest = "sha256:2b689a45872480343e2aca542b6dfc260378f1adc2627fd5b54365bdd5a33a66"
	tests := []struct {
		name, out, want string
	}{
		{"image not found", "Error: failed to load image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@" + digest + ": MANIFEST_UNKNOWN: image not found\n",
			"Error: failed to load image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@" + digest + ": MANIFEST_UNKNOWN: image not found"},
		{"gateway unavailable", "\x1b[31mError\x1b[0m: failed to get the vulnerability report: gateway returned 503 Service Unavailable\r\n",
			"Error: failed to get the vulnerability report: gateway returned 503 Service Unavailable"},
		{"secret scanner failure without a finding", "Error: secret scanner failed: open /tmp/x: permission denied",
			"Error: secret scanner failed: open /tmp/x: permission denied"},
		{"percent sign that is no escape", "progress 100% done, 50%off", "progress 100% done, 50%off"},
		{"encoded path decoded", "GET /v1/images/team%2Fapp: 404 Not Found", "GET /v1/images/team/app: 404 Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sanitize(tc.out, redactTestToken); got != tc.want {
				t.Errorf("sanitize = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFailureReasonIsBounded(t *testing.T) {
	long := strings.Repeat("é", maxFailureReason)
	tests := []struct {
		name string
		f    *failureError
	}{
		{"long reason", fail("scanner_error", 1, "%s", long)},
		{"long addition", func() *failureError {
			f := fail("scanner_error", 40, "failed to get the vulnerability report")
			f.addReason("partial output unreadable: " + long)
			return f
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.f.f.Reason
			if len(r) > maxFailureReason || !strings.HasSuffix(r, "…") || strings.ContainsRune(r, '\uFFFD') {
				t.Errorf("reason of %d bytes ending %q: want at most %d, cut on a character boundary and marked", len(r), r[len(r)-8:], maxFailureReason)
			}
		})
	}
}
