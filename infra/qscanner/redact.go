package qscanner

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What QScanner prints ends up in a failure Reason, which is stored on the
// scan record, sent in the ScanFailed event and the SNS alert, and logged.
// Redaction works on the text as a reader would see it: a token that a colour
// code, a carriage return, a zero-width character or percent-encoding splits
// in the bytes is whole again once those are removed, so the text is
// normalised first and redacted after, never the other way round.

const (
	maxReason = 300
	// redacted replaces a credential or a piece of the token.
	redacted = "[REDACTED]"
	// withheld replaces a line that may quote a secret QScanner's secret
	// scanner found: the whole line goes, since the matched text may be in
	// any form.
	withheld = "[line withheld: may quote a secret]"
	// tokenWindow is the shortest piece of the token that is redacted
	// wherever it appears: a token cut in two by a line break or by the
	// tail's start leaves pieces of it, and 12 characters of a random token
	// do not occur in ordinary text by chance.
	tokenWindow = 12
	// maxDecodeRounds bounds percent-decoding: twice-encoded text
	// (%2541 for "A") is decoded; deeper nesting is not plausible output.
	maxDecodeRounds = 3
)

var (
	// ansiRE matches terminal escape sequences (ECMA-48): CSI sequences
	// ("\x1b[31m"), OSC sequences ended by BEL or ST, and two-character
	// escapes. A lone ESC is removed with the other control characters.
	ansiRE   = regexp.MustCompile(`\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])`)
	bearerRE = regexp.MustCompile(`(?i)(bearer\s+|basic\s+|qualys_access_token=|access[-_]token[=:\s]+)[^\s"'&]+`)
	// queryRE matches a URL query parameter whose name says it holds a
	// credential (access_token, api_key, X-Amz-Signature, …).
	queryRE = regexp.MustCompile(`(?i)([?&;][a-z0-9_.-]*(?:token|key|secret|password|passwd|pwd|signature|credential|auth|session)[a-z0-9_.-]*=)[^&;\s"'#]+`)
	// userinfoRE matches the password of a URL's user information.
	userinfoRE = regexp.MustCompile(`(://[^/\s:@]*:)[^/\s@]+@`)
	// opaqueRE matches a long run of token characters; it is redacted when
	// it mixes upper case, lower case and digits (see opaque).
	opaqueRE = regexp.MustCompile(`[A-Za-z0-9+/=_-]{32,}`)
)

// secretLineREs recognise a line from QScanner's secret scanner or a line
// that carries a likely secret. A secret finding has the fields RuleID,
// Category, Severity, Title, StartLine, EndLine and Match (the matched text,
// e.g. "AWS_ACCESS_KEY_ID=AKIA…"), and Code quoting the lines around it
// (QSCANNER.md, testdata/qscanner): a line naming those fields, or saying a
// secret was found, is one. The shapes of well-known credentials and
// assignments to secret-sounding names are the rest. These are deliberately
// broad: a withheld line costs some detail in a failure reason, a leaked one
// costs a credential.
var secretLineREs = []*regexp.Regexp{
	regexp.MustCompile(`(?i)"(?:match|code|ruleid|startline|endline|secrets?)"\s*:`),
	regexp.MustCompile(`(?i)\b(?:match|ruleid|rule_id|startline)\b\s*[:=]`),
	regexp.MustCompile(`(?i)\bsecrets?\b.{0,60}\b(?:found|detected|matche[sd]|match)\b`),
	regexp.MustCompile(`(?i)\b(?:found|detected|matched)\b.{0,60}\bsecrets?\b`),
	regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b`),
	regexp.MustCompile(`-----BEGIN[ A-Z0-9]*PRIVATE KEY`),
	regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|[sr]k_live_[0-9A-Za-z]{16,})`),
	regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}`),
	regexp.MustCompile(`(?i)[a-z0-9_.-]*(?:password|passwd|pwd|secret|api[_-]?key|private[_-]?key|credential)[a-z0-9_.-]*["']?\s*[:=]\s*["']?[^\s"'&]{4,}`),
}

// sanitize makes the end of QScanner's output fit for a failure Reason: the
// text normalised (normalise), then the token and anything shaped like a
// credential redacted, lines that may quote a secret withheld, and the last
// three lines kept, at most maxReason bytes.
func sanitize(out, token string) string {
	if token != "" {
		out = strings.ReplaceAll(out, token, redacted)
	}
	out = redactToken(normalise(out), token)
	out = bearerRE.ReplaceAllString(out, "${1}"+redacted)
	out = queryRE.ReplaceAllString(out, "${1}"+redacted)
	out = userinfoRE.ReplaceAllString(out, "${1}"+redacted+"@")
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l == "" {
			continue
		}
		// What is already redacted says nothing about secrets.
		if secretLine(strings.ReplaceAll(l, redacted, "")) {
			l = withheld
		} else {
			l = opaqueRE.ReplaceAllStringFunc(l, redactOpaque)
		}
		lines = append(lines, l)
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	s := strings.Join(lines, " | ")
	if len(s) > maxReason {
		cut := len(s) - maxReason
		for cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut++
		}
		s = "…" + s[cut:]
	}
	return s
}

// normalise turns output into the text a reader sees, one line per "\n":
// escape sequences, carriage returns, other control characters and invisible
// format characters (zero-width space, soft hyphen, bidi marks) removed, tabs
// as spaces, invalid UTF-8 dropped, and percent-encoding decoded, so that
// "%65%79%4A" is matched as "eyJ". Decoding may reveal more escapes, so the
// clean-up runs again after each round.
func normalise(s string) string {
	s = strip(s)
	for range maxDecodeRounds {
		d := percentDecode(s)
		if d == s {
			break
		}
		s = strip(d)
	}
	return s
}

// strip removes what a terminal does not show as text, keeping line breaks.
func strip(s string) string {
	s = ansiRE.ReplaceAllString(strings.ToValidUTF8(s, ""), "")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t':
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			return -1
		}
		return r
	}, s)
}

// percentDecode decodes every valid %XX in s and leaves anything else as it
// is ("100%" stays). A '+' stays a '+': tokens in base64 carry them.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// redactToken replaces the token, and every piece of it at least
// tokenWindow bytes long (the whole token if it is shorter), wherever they
// appear in s.
func redactToken(s, token string) string {
	if token == "" {
		return s
	}
	w := min(tokenWindow, len(token))
	pieces := make(map[string]struct{}, len(token)-w+1)
	for i := 0; i+w <= len(token); i++ {
		pieces[token[i:i+w]] = struct{}{}
	}
	hit := make([]bool, len(s))
	found := false
	for i := 0; i+w <= len(s); i++ {
		if _, ok := pieces[s[i:i+w]]; ok {
			for j := i; j < i+w; j++ {
				hit[j] = true
			}
			found = true
		}
	}
	if !found {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !hit[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		for i < len(s) && hit[i] {
			i++
		}
		b.WriteString(redacted)
	}
	// A piece of a multi-byte token may have cut a character in two.
	return strings.ToValidUTF8(b.String(), "")
}

// secretLine reports whether a line may quote a secret (secretLineREs).
func secretLine(l string) bool {
	for _, re := range secretLineREs {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// redactOpaque redacts a long run of token characters that mixes upper case,
// lower case and digits, as keys and tokens do. Digests and layer IDs are
// lower-case hex and stay readable.
func redactOpaque(run string) string {
	var upper, lower, digit bool
	for _, r := range run {
		switch {
		case 'A' <= r && r <= 'Z':
			upper = true
		case 'a' <= r && r <= 'z':
			lower = true
		case '0' <= r && r <= '9':
			digit = true
		}
	}
	if upper && lower && digit {
		return redacted
	}
	return run
}
