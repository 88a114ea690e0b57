package domain_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"
)

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
	testDigest  = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// maxErrorLen bounds one validation message however long or hostile the input.
const maxErrorLen = 512

func TestParseDigest(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"sha256 lowercase", testDigest, true},
		{"uppercase hex", "sha256:" + strings.ToUpper(testDigest[7:]), false},
		{"uppercase algorithm", "SHA256:" + testDigest[7:], false},
		{"short", testDigest[:len(testDigest)-1], false},
		{"long", testDigest + "0", false},
		{"sha512", "sha512:" + strings.Repeat("ab", 64), false},
		{"no algorithm", testDigest[7:], false},
		{"empty", "", false},
		{"non-hex", "sha256:" + strings.Repeat("g", 64), false},
		{"trailing newline", testDigest + "\n", false},
		{"leading space", " " + testDigest, false},
		{"path traversal", "sha256:../../etc/passwd", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := domain.ParseDigest(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ParseDigest(%q) = %v, want nil", tc.in, err)
				}
				if d.String() != tc.in {
					t.Errorf("String() = %q, want %q", d.String(), tc.in)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseDigest(%q) = %q, nil; want an error", tc.in, d)
			}
			if d != "" {
				t.Errorf("ParseDigest(%q) returned %q with its error, want the zero Digest", tc.in, d)
			}
			if !errors.Is(err, domain.ErrInvalidDigest) || !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalidDigest and ErrInvalid", err)
			}
		})
	}
}

func TestDigestParts(t *testing.T) {
	d, err := domain.ParseDigest(testDigest)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Hex(), testDigest[len("sha256:"):]; got != want {
		t.Errorf("Hex() = %q, want %q", got, want)
	}
	if got, want := d.Short(), "0123456789ab"; got != want {
		t.Errorf("Short() = %q, want %q", got, want)
	}
	if got := domain.Digest("sha256:abc").Short(); got != "abc" {
		t.Errorf("Short() of a short digest = %q, want %q", got, "abc")
	}
}

func TestValidateRepository(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"simple", "app", true},
		{"two chars", "ab", true},
		{"256 chars", strings.Repeat("a", 256), true},
		{"namespaced", "team/service/api", true},
		{"separators inside", "my-app_v2.0/x.y-z", true},
		{"digits", "0/1", true},
		{"empty", "", false},
		{"one char", "a", false},
		{"257 chars", strings.Repeat("a", 257), false},
		{"uppercase", "Team/app", false},
		{"path traversal", "../../etc", false},
		{"dot segment", "team/./app", false},
		{"leading slash", "/app", false},
		{"trailing slash", "app/", false},
		{"leading dash", "-app", false},
		{"trailing dash", "app-", false},
		{"leading dot", ".app", false},
		{"trailing underscore", "app_", false},
		{"double slash", "team//app", false},
		{"double dash", "my--app", false},
		{"double dot", "my..app", false},
		{"separator before slash", "team-/app", false},
		{"space", "my app", false},
		{"colon", "app:latest", false},
		{"at sign", "app@sha256", false},
		{"shell metacharacters", "app;rm", false},
		{"newline", "app\nx", false},
		{"non-ascii", "äpp", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := domain.ValidateRepository(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidateRepository(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateRepository(%q) = nil, want an error", tc.in)
			}
			if !errors.Is(err, domain.ErrInvalidRepository) || !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalidRepository and ErrInvalid", err)
			}
			if len(err.Error()) > maxErrorLen {
				t.Errorf("error message is %d bytes, want at most %d", len(err.Error()), maxErrorLen)
			}
		})
	}
}

func TestValidateTag(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"empty means untagged", "", true},
		{"latest", "latest", true},
		{"semver", "v1.2.3-rc.1", true},
		{"leading underscore", "_build", true},
		{"mixed case", "Release_2024", true},
		{"one char", "a", true},
		{"128 chars, the OCI grammar's limit", strings.Repeat("a", 128), true},
		{"129 chars, past OCI but within ECR", strings.Repeat("a", 129), true},
		{"300 chars, ECR's limit", "v" + strings.Repeat("1.2-_", 59) + "abcd", true},
		{"301 chars", strings.Repeat("a", 301), false},
		{"300 chars with a bad character", strings.Repeat("a", 299) + "/", false},
		{"long and hostile", strings.Repeat("a", 200) + ";rm -rf /", false},
		{"leading dot", ".hidden", false},
		{"leading dash", "-rm", false},
		{"command separator", "v1;rm -rf /", false},
		{"command substitution", "$(id)", false},
		{"backticks", "`id`", false},
		{"pipe", "v1|sh", false},
		{"redirect", "v1>x", false},
		{"space", "v 1", false},
		{"slash", "a/b", false},
		{"colon", "a:b", false},
		{"trailing newline", "v1\n", false},
		{"nul byte", "v1\x00", false},
		{"non-ascii", "vé", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := domain.ValidateTag(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidateTag(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateTag(%q) = nil, want an error", tc.in)
			}
			if !errors.Is(err, domain.ErrInvalidTag) || !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalidTag and ErrInvalid", err)
			}
		})
	}
}

func TestNewImageRef(t *testing.T) {
	type args struct{ account, region, repository, digest, tag string }
	valid := args{testAccount, testRegion, "team/app", testDigest, "v1"}
	with := func(f func(*args)) args {
		a := valid
		f(&a)
		return a
	}
	tests := []struct {
		name string
		in   args
		want []error // sentinels the error must wrap; nil means valid
	}{
		{"valid", valid, nil},
		{"valid untagged", with(func(a *args) { a.tag = "" }), nil},
		{"valid gov region", with(func(a *args) { a.region = "us-gov-west-1" }), nil},
		{"valid china region", with(func(a *args) { a.region = "cn-north-1" }), nil},
		{"valid sovereign cloud region", with(func(a *args) { a.region = "eusc-de-east-1" }), nil},
		{"valid isolated region", with(func(a *args) { a.region = "us-isob-east-1" }), nil},
		{"overlong region", with(func(a *args) { a.region = "us-" + strings.Repeat("a", 300) + "-1" }), []error{domain.ErrInvalidRegion}},
		{"short account", with(func(a *args) { a.account = "12345678901" }), []error{domain.ErrInvalidAccount}},
		{"letters in account", with(func(a *args) { a.account = "12345678901a" }), []error{domain.ErrInvalidAccount}},
		{"uppercase region", with(func(a *args) { a.region = "US-EAST-1" }), []error{domain.ErrInvalidRegion}},
		{"region without number", with(func(a *args) { a.region = "us-east" }), []error{domain.ErrInvalidRegion}},
		{"region with host", with(func(a *args) { a.region = "us-east-1.evil.com" }), []error{domain.ErrInvalidRegion}},
		{"traversal repository", with(func(a *args) { a.repository = "../../etc" }), []error{domain.ErrInvalidRepository}},
		{"uppercase digest", with(func(a *args) { a.digest = strings.ToUpper(testDigest) }), []error{domain.ErrInvalidDigest}},
		{"hostile tag", with(func(a *args) { a.tag = "$(id)" }), []error{domain.ErrInvalidTag}},
		{
			"everything wrong at once",
			args{"x", "moon-base", "../../etc", "sha512:" + strings.Repeat("0", 128), "v1;rm -rf /"},
			[]error{domain.ErrInvalidAccount, domain.ErrInvalidRegion, domain.ErrInvalidRepository, domain.ErrInvalidDigest, domain.ErrInvalidTag},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.in
			ref, err := domain.NewImageRef(a.account, a.region, a.repository, a.digest, a.tag)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("NewImageRef = %v, want nil", err)
				}
				want := domain.ImageRef{Account: a.account, Region: a.region, Repository: a.repository, Digest: domain.Digest(a.digest), Tag: a.tag}
				if ref != want {
					t.Errorf("NewImageRef = %+v, want %+v", ref, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewImageRef = %+v, nil; want an error", ref)
			}
			if ref != (domain.ImageRef{}) {
				t.Errorf("NewImageRef returned %+v with its error, want the zero ImageRef", ref)
			}
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			for _, s := range tc.want {
				if !errors.Is(err, s) {
					t.Errorf("error %v does not wrap %v", err, s)
				}
			}
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) || len(joined.Unwrap()) != len(tc.want) {
				t.Errorf("error %v: want %d joined errors", err, len(tc.want))
			}
		})
	}
}

// A hostile client controls every field of a push event; whatever it sends,
// the error stays short and printable, so it cannot flood or forge log lines.
func TestNewImageRefErrorIsBounded(t *testing.T) {
	long := strings.Repeat("\x00\n\"\u2028é", 100_000)
	_, err := domain.NewImageRef(long, long, long, long, long)
	if err == nil {
		t.Fatal("NewImageRef accepted garbage")
	}
	msg := err.Error()
	if lines := strings.Split(msg, "\n"); len(lines) != 5 {
		t.Errorf("got %d lines, want one per field (5): %q", len(lines), msg)
	}
	for _, line := range strings.Split(msg, "\n") {
		if len(line) > maxErrorLen {
			t.Errorf("line of %d bytes, want at most %d: %.100q…", len(line), maxErrorLen, line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("line is not valid UTF-8: %q", line)
		}
		if strings.ContainsAny(line, "\x00\r\u2028") {
			t.Errorf("line carries raw control characters: %q", line)
		}
	}
}

// A rejected tag's message names the rule it broke, so a dead-lettered push
// says whether the tag was too long or held a character outside the alphabet.
func TestValidateTagSaysWhy(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"301 chars", strings.Repeat("a", 301), "301 characters, over ECR's limit of 300"},
		{"bad character", "v1;x", "want [A-Za-z0-9_] then [A-Za-z0-9_.-], at most 300 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := domain.ValidateTag(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ValidateTag = %v, want a message containing %q", err, tc.want)
			}
		})
	}
}

// Clipping untrusted input for a message must not cut a UTF-8 sequence in two.
func TestErrorClipKeepsRunesWhole(t *testing.T) {
	in := "a" + strings.Repeat("é", 100) // the 80-byte mark falls inside a rune
	err := domain.ValidateTag(in)
	if err == nil {
		t.Fatal("ValidateTag accepted a non-ASCII tag")
	}
	if strings.Contains(err.Error(), `\x`) {
		t.Errorf("message shows a split rune: %s", err)
	}
}

func TestImageRefNames(t *testing.T) {
	tests := []struct {
		name                  string
		region, tag           string
		registry, pull, displ string
	}{
		{
			name: "tagged", region: "eu-west-1", tag: "v1.2",
			registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
			pull:     "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@" + testDigest,
			displ:    "team/app:v1.2",
		},
		{
			name: "untagged", region: "us-east-1", tag: "",
			registry: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
			pull:     "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app@" + testDigest,
			displ:    "team/app@sha256:0123456789ab",
		},
		{
			name: "china partition", region: "cn-north-1", tag: "latest",
			registry: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
			pull:     "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/app@" + testDigest,
			displ:    "team/app:latest",
		},
		{
			name: "govcloud", region: "us-gov-west-1", tag: "latest",
			registry: "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com",
			pull:     "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/team/app@" + testDigest,
			displ:    "team/app:latest",
		},
		{
			name: "sovereign cloud", region: "eusc-de-east-1", tag: "latest",
			registry: "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
			pull:     "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu/team/app@" + testDigest,
			displ:    "team/app:latest",
		},
		{
			name: "isolated partition", region: "us-isob-east-1", tag: "latest",
			registry: "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
			pull:     "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/team/app@" + testDigest,
			displ:    "team/app:latest",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := domain.NewImageRef(testAccount, tc.region, "team/app", testDigest, tc.tag)
			if err != nil {
				t.Fatal(err)
			}
			if got := ref.Registry(); got != tc.registry {
				t.Errorf("Registry() = %q, want %q", got, tc.registry)
			}
			if got := ref.Name(); got != tc.pull {
				t.Errorf("Name() = %q, want %q", got, tc.pull)
			}
			if got := ref.Display(); got != tc.displ {
				t.Errorf("Display() = %q, want %q", got, tc.displ)
			}
		})
	}
}

func TestSameLocation(t *testing.T) {
	base := testkit.MustRef(t, "team/app", "v1")
	tests := []struct {
		name  string
		other domain.ImageRef
		want  bool
	}{
		{"other tag", testkit.MustRef(t, "team/app", "v2"), true},
		{"untagged", testkit.MustRef(t, "team/app", ""), true},
		{"other repository", testkit.MustRef(t, "team/api", "v1"), false},
		{"other account", func() domain.ImageRef { r := base; r.Account = "210987654321"; return r }(), false},
		{"other region", func() domain.ImageRef { r := base; r.Region = "us-west-2"; return r }(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := base.SameLocation(tc.other); got != tc.want {
				t.Errorf("SameLocation = %v, want %v", got, tc.want)
			}
		})
	}
}

var (
	fuzzAccountRE = regexp.MustCompile(`^[0-9]{12}$`)
	fuzzTagRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

// FuzzNewImageRef checks that no input panics and that whatever is accepted
// obeys the rules spelled out independently of the validator's regexps.
func FuzzNewImageRef(f *testing.F) {
	f.Add(testAccount, testRegion, "team/app", testDigest, "v1")
	f.Add(testAccount, "cn-north-1", "a/b/c", testDigest, "")
	f.Add("", "", "", "", "")
	f.Add(testAccount, testRegion, "../../etc", testDigest, "v1;rm -rf /")
	f.Add(testAccount, testRegion, "a//b", strings.ToUpper(testDigest), "$(id)")
	f.Add("12345678901\n", "us-east-1\n", "app\n", testDigest+"\n", "v1\n")
	f.Fuzz(func(t *testing.T, account, region, repository, digest, tag string) {
		ref, err := domain.NewImageRef(account, region, repository, digest, tag)
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if len(line) > maxErrorLen {
					t.Fatalf("error line of %d bytes", len(line))
				}
			}
			return
		}
		if ref.Account != account || ref.Region != region || ref.Repository != repository || string(ref.Digest) != digest || ref.Tag != tag {
			t.Fatalf("NewImageRef changed its input: %+v", ref)
		}
		if !fuzzAccountRE.MatchString(account) {
			t.Errorf("accepted account %q", account)
		}
		if len(region) < 6 || len(region) > 48 || strings.Trim(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Errorf("accepted region %q", region)
		}
		checkRepository(t, repository)
		if len(digest) != 71 || !strings.HasPrefix(digest, "sha256:") || strings.Trim(digest[7:], "0123456789abcdef") != "" {
			t.Errorf("accepted digest %q", digest)
		}
		if tag != "" && (len(tag) > 300 || !fuzzTagRE.MatchString(tag)) {
			t.Errorf("accepted tag %q", tag)
		}
		if strings.ContainsAny(ref.Name(), " \t\r\n;$`|&<>(){}\\\"'") {
			t.Errorf("Name() %q carries whitespace or shell metacharacters", ref.Name())
		}
	})
}

// checkRepository states ECR's naming rule without a regexp.
func checkRepository(t *testing.T, repo string) {
	t.Helper()
	if len(repo) < 2 || len(repo) > 256 {
		t.Errorf("accepted repository of %d bytes", len(repo))
		return
	}
	for _, comp := range strings.Split(repo, "/") {
		if comp == "" {
			t.Errorf("accepted repository %q with an empty component", repo)
			continue
		}
		prevSep := true // a component may not start with a separator
		for i := 0; i < len(comp); i++ {
			c := comp[i]
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
				prevSep = false
			case c == '.' || c == '_' || c == '-':
				if prevSep {
					t.Errorf("accepted repository %q: separator at the start or doubled", repo)
				}
				prevSep = true
			default:
				t.Errorf("accepted repository %q with byte %q", repo, c)
			}
		}
		if prevSep {
			t.Errorf("accepted repository %q: component ends in a separator", repo)
		}
	}
}
