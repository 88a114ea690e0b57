package qscanner

import (
	"strings"
	"sync"

	"ecrscanner/domain"
)

// classify sorts a QScanner exit code, read together with what it wrote on
// stderr, into a failure class (exit codes as listed in QSCANNER.md). The
// text is read as a reader sees it (colour codes removed), and an HTTP status
// counts only as a number of its own: "401" inside a digest or a repository
// name says nothing about authorisation.
func classify(code int, stderr string) domain.FailureClass {
	s := strings.ToLower(strip(stderr))
	switch {
	case code == 1:
		if authProblem(s) {
			return authParty(s)
		}
		return domain.FailureCrashed
	case code == 2 || code == 3:
		// A Go runtime panic also exits 2; that is a crash, not our mistake.
		if goCrash(s) {
			return domain.FailureCrashed
		}
		return domain.FailureInvalidParameter
	case code >= 5 && code <= 10:
		if containsAny(s, "unauthorized", "denied", "forbidden", "authentication required") || status(s, "401", "403") {
			return domain.FailureRegistryAuth
		}
		return domain.FailureImageNotFound
	case code >= 11 && code <= 21:
		return domain.FailureScanner
	case code >= 30 && code <= 39:
		if containsAny(s, "unauthorized") || status(s, "401") {
			return domain.FailureQualysAuth
		}
		return domain.FailureScanner
	case code == 40:
		return domain.FailurePartialReport
	case code == 41:
		return domain.FailureScanner
	case code == 42:
		return domain.FailurePolicyDeny
	case code == 43:
		return domain.FailurePolicyAudit
	}
	return domain.FailureScanner
}

func authProblem(s string) bool {
	return containsAny(s, "unauthorized", "invalid token", "forbidden", "authentication required") || status(s, "401", "403")
}

// status reports whether s holds one of the codes as a number of its own,
// not as part of a longer run of letters and digits.
func status(s string, codes ...string) bool {
	for _, c := range codes {
		for i := 0; ; {
			j := strings.Index(s[i:], c)
			if j < 0 {
				break
			}
			start, end := i+j, i+j+len(c)
			if (start == 0 || !alnum(s[start-1])) && (end == len(s) || !alnum(s[end])) {
				return true
			}
			i = end
		}
	}
	return false
}

func alnum(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// authParty tells whose credentials were refused: Qualys's (the token) or the
// registry's (the function's AWS role). Qualys markers are checked first
// because "token" alone is ambiguous (ECR has authorization tokens too).
func authParty(s string) domain.FailureClass {
	switch {
	case containsAny(s, "qualys", "gateway", "access token", "access_token"):
		return domain.FailureQualysAuth
	case containsAny(s, "registry", "ecr", "denied", "pull", "manifest"):
		return domain.FailureRegistryAuth
	case strings.Contains(s, "token"):
		return domain.FailureQualysAuth
	}
	return domain.FailureCrashed
}

func goCrash(s string) bool {
	return containsAny(s, "panic:", "fatal error:", "sigsegv", "goroutine ")
}

// crashLine picks the line that explains a Go runtime crash ("panic: …",
// "fatal error: …") out of the output, or returns the output unchanged.
func crashLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "panic:") || strings.HasPrefix(t, "fatal error:") {
			return t
		}
	}
	return out
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// meaning names an exit code's documented meaning, the start of a Reason.
func meaning(code int) string {
	switch {
	case code == 1:
		return "qscanner failed"
	case code == 2:
		return "invalid parameter"
	case code == 3:
		return "logger init failed"
	case code >= 5 && code <= 10:
		return "target could not be loaded"
	case code == 15:
		return "OS not found"
	case code == 17:
		return "OS not supported"
	case code >= 11 && code <= 21:
		return "a scanner failed"
	case code >= 30 && code <= 39:
		return "writing or uploading output failed"
	case code == 40:
		return "failed to get the vulnerability report"
	case code == 41:
		return "failed to get the policy evaluation result"
	case code == 42:
		return "policy evaluation: DENY"
	case code == 43:
		return "policy evaluation: AUDIT"
	}
	return "unexpected exit code"
}

func joinReason(a, b string) string {
	if b == "" {
		return a
	}
	return a + ": " + b
}

// tail keeps the last bytes written to it: enough of QScanner's output to
// explain a failure, bounded whatever it prints.
type tail struct {
	mu        sync.Mutex
	buf       []byte
	max       int
	truncated bool
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.truncated = true
	}
	return len(p), nil
}

// String returns the kept bytes. After truncation the first, partial line is
// dropped, so that a cut-off token cannot survive redaction.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(t.buf)
	if t.truncated {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		} else {
			s = ""
		}
	}
	return s
}
