package secretstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// secretValue is distinctive so that a test can tell whether an error leaks it.
const secretValue = "qTok-7c1f9e2b-LEAK-CHECK"

// fakeSecrets answers GetSecretValue from fields set by the test. When gate is
// non-nil each call blocks until it is closed.
type fakeSecrets struct {
	mu     sync.Mutex
	str    *string
	bin    []byte
	err    error
	gate   chan struct{}
	calls  atomic.Int32
	lastID string
}

func (f *fakeSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastID = aws.ToString(in.SecretId)
	if f.err != nil {
		return nil, f.err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: f.str, SecretBinary: f.bin}, nil
}

func (f *fakeSecrets) set(s string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.str, f.err = aws.String(s), err
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestSource(t *testing.T, f *fakeSecrets, ttl time.Duration) (*SecretsManagerToken, *clock) {
	t.Helper()
	s, err := NewSecretsManager(f, "qualys/token", ttl)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.now = c.now
	return s, c
}

func TestNewSecretsManagerRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name   string
		client SecretsAPI
		id     string
	}{
		{"nil client", nil, "qualys/token"},
		{"empty ID", &fakeSecrets{}, ""},
		{"blank ID", &fakeSecrets{}, "  "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSecretsManager(tc.client, tc.id, 0); err == nil {
				t.Error("NewSecretsManager succeeded, want an error")
			}
		})
	}
}

func TestSecretForms(t *testing.T) {
	cases := []struct {
		name   string
		secret string
		binary []byte
	}{
		{"plain string", secretValue, nil},
		{"plain with surrounding whitespace", "\n  " + secretValue + "\n", nil},
		{"JSON token field", `{"token": "` + secretValue + `"}`, nil},
		{"JSON env-style field", `{"QUALYS_ACCESS_TOKEN": "` + secretValue + `", "pod": "US2"}`, nil},
		{"JSON with both fields prefers token", `{"QUALYS_ACCESS_TOKEN": "other", "token": "` + secretValue + `"}`, nil},
		{"JSON after whitespace", "  \n{\"token\":\"" + secretValue + "\"}", nil},
		{"binary secret", "", []byte(secretValue)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSecrets{bin: tc.binary}
			if tc.binary == nil {
				f.str = aws.String(tc.secret)
			}
			s, _ := newTestSource(t, f, 0)
			got, err := s.Token(context.Background())
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if got != secretValue {
				t.Errorf("Token = %q, want %q", got, secretValue)
			}
			if f.lastID != "qualys/token" {
				t.Errorf("asked for secret %q, want qualys/token", f.lastID)
			}
		})
	}
}

func TestSecretErrorsNeverContainTheValue(t *testing.T) {
	cases := []struct {
		name      string
		secret    string
		wantNoTok bool
		wantErr   string
	}{
		{"empty", "", true, "empty"},
		{"whitespace", " \n\t ", true, "empty"},
		{"JSON with empty token", `{"token": ""}`, true, "empty"},
		{"JSON without a known field", `{"password": "` + secretValue + `"}`, true, `"token"`},
		{"JSON token not a string", `{"token": ["` + secretValue + `"]}`, false, "not a string"},
		{"broken JSON", `{"token": "` + secretValue, false, "not a valid JSON object"},
		{"braces around a plain token", `{` + secretValue + `}`, false, "not a valid JSON object"},
		{"control characters", secretValue + "\x00" + secretValue, false, "control characters"},
		{"newline inside", secretValue + "\n" + secretValue, false, "control characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSecrets{str: aws.String(tc.secret)}
			s, _ := newTestSource(t, f, 0)
			_, err := s.Token(context.Background())
			if err == nil {
				t.Fatal("Token succeeded, want an error")
			}
			if strings.Contains(err.Error(), secretValue) || strings.Contains(err.Error(), secretValue[:8]) {
				t.Fatalf("error leaks the secret: %v", err)
			}
			if tc.wantNoTok != errors.Is(err, ErrNoToken) {
				t.Errorf("errors.Is(err, ErrNoToken) = %v, want %v (err %v)", !tc.wantNoTok, tc.wantNoTok, err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "qualys/token") {
				t.Errorf("error = %v, want it to name the secret and mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestTokenIsCachedForTTL(t *testing.T) {
	f := &fakeSecrets{str: aws.String(secretValue)}
	s, clk := newTestSource(t, f, 10*time.Minute)
	ctx := context.Background()
	steps := []struct {
		name      string
		advance   time.Duration
		setSecret string
		want      string
		wantCalls int32
	}{
		{"first call reads", 0, "", secretValue, 1},
		{"within TTL uses cache", 9 * time.Minute, "rotated", secretValue, 1},
		{"after TTL reads again", 2 * time.Minute, "", "rotated", 2},
		{"cached again", time.Minute, "", "rotated", 2},
	}
	for _, st := range steps {
		clk.advance(st.advance)
		if st.setSecret != "" {
			f.set(st.setSecret, nil)
		}
		got, err := s.Token(ctx)
		if err != nil {
			t.Fatalf("%s: Token: %v", st.name, err)
		}
		if got != st.want || f.calls.Load() != st.wantCalls {
			t.Errorf("%s: Token = %q after %d calls, want %q after %d", st.name, got, f.calls.Load(), st.want, st.wantCalls)
		}
	}
}

func TestDefaultTTL(t *testing.T) {
	f := &fakeSecrets{str: aws.String(secretValue)}
	s, clk := newTestSource(t, f, 0)
	ctx := context.Background()
	if _, err := s.Token(ctx); err != nil {
		t.Fatal(err)
	}
	clk.advance(DefaultTTL - time.Second)
	_, _ = s.Token(ctx)
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d reads within the default TTL, want 1", n)
	}
	clk.advance(2 * time.Second)
	_, _ = s.Token(ctx)
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d reads after the default TTL, want 2", n)
	}
}

func TestFailedReadIsNotCached(t *testing.T) {
	f := &fakeSecrets{err: errors.New("ThrottlingException: rate exceeded")}
	s, _ := newTestSource(t, f, 0)
	ctx := context.Background()
	_, err := s.Token(ctx)
	if err == nil || !strings.Contains(err.Error(), "ThrottlingException") || !strings.Contains(err.Error(), "qualys/token") {
		t.Fatalf("error = %v, want the cause and the secret ID", err)
	}
	f.set(secretValue, nil)
	got, err := s.Token(ctx)
	if err != nil || got != secretValue {
		t.Fatalf("Token after recovery = %q, %v; want the value", got, err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("%d reads, want 2", n)
	}
}

func TestConcurrentCallersShareOneRead(t *testing.T) {
	const callers = 50
	f := &fakeSecrets{str: aws.String(secretValue), gate: make(chan struct{})}
	s, _ := newTestSource(t, f, 0)

	var wg sync.WaitGroup
	results := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			got, err := s.Token(context.Background())
			if err == nil && got != secretValue {
				err = fmt.Errorf("got %q", got)
			}
			results <- err
		})
	}
	// Hold the one read open until every other caller is waiting on it, so
	// the cache cannot be what saves the other 49 reads.
	for {
		s.mu.Lock()
		w := s.waiting
		s.mu.Unlock()
		if w == callers-1 {
			break
		}
		if n := f.calls.Load(); n > 1 {
			close(f.gate)
			wg.Wait()
			t.Fatalf("%d GetSecretValue calls started for %d concurrent callers, want 1", n, callers)
		}
		runtime.Gosched()
	}
	close(f.gate)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("caller: %v", err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d GetSecretValue calls for %d concurrent callers, want 1", n, callers)
	}
}

func TestWaiterStopsWhenItsContextEnds(t *testing.T) {
	f := &fakeSecrets{str: aws.String(secretValue), gate: make(chan struct{})}
	s, _ := newTestSource(t, f, 0)

	leader := make(chan error, 1)
	go func() {
		_, err := s.Token(context.Background())
		leader <- err
	}()
	for f.calls.Load() == 0 {
		runtime.Gosched()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("waiter with a cancelled context: err = %v, want context.Canceled", err)
	}
	close(f.gate)
	if err := <-leader; err != nil {
		t.Errorf("leader: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name      string
		varName   string
		set       bool
		value     string
		want      string
		wantNoTok bool
	}{
		{"default variable", "", true, secretValue, secretValue, false},
		{"custom variable", "MY_TOKEN", true, " " + secretValue + "\n", secretValue, false},
		{"unset", "", false, "", "", true},
		{"blank", "", true, "   ", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.varName
			if name == "" {
				name = TokenEnv
			}
			t.Setenv(name, tc.value)
			e := FromEnv(tc.varName)
			if !tc.set {
				e.lookup = func(string) (string, bool) { return "", false }
			}
			got, err := e.Token(context.Background())
			if tc.wantNoTok {
				if !errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), name) {
					t.Errorf("error = %v, want ErrNoToken naming %s", err, name)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Token = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestNewChoosesSource(t *testing.T) {
	cases := []struct {
		name     string
		cfg      Config
		client   SecretsAPI
		env      string // value of QUALYS_ACCESS_TOKEN; empty means unset
		wantType string
		wantErr  []string
	}{
		{"secret wins over environment", Config{SecretID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:q"}, &fakeSecrets{}, secretValue, "*secretstore.SecretsManagerToken", nil},
		{"environment when no secret", Config{}, nil, secretValue, "*secretstore.EnvToken", nil},
		{"secret without a client", Config{SecretID: "q"}, nil, "", "", []string{"nil Secrets Manager client"}},
		{"nothing configured", Config{SecretIDSetting: "QUALYS_TOKEN_SECRET_ARN"}, nil, "", "", []string{"QUALYS_TOKEN_SECRET_ARN", TokenEnv, "Secrets Manager"}},
		{"nothing configured, custom variable", Config{EnvVar: "QTOKEN"}, nil, secretValue, "", []string{"QTOKEN", "the secret ID setting"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(TokenEnv, tc.env)
			t.Setenv("QTOKEN", "")
			src, err := New(tc.cfg, tc.client)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("New = %T, want an error", src)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error = %v, want it to mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := fmt.Sprintf("%T", src); got != tc.wantType {
				t.Errorf("New chose %s, want %s", got, tc.wantType)
			}
		})
	}
}

func TestJSONKeyNamesTheTokensField(t *testing.T) {
	cases := []struct {
		name, secret, wantErr string
	}{
		{name: "the named field", secret: `{"qualys_token": "` + secretValue + `", "token": "other"}`},
		{name: "a secret without the field", secret: `{"token": "` + secretValue + `"}`, wantErr: `no "qualys_token" field`},
		{name: "a plain string", secret: secretValue, wantErr: "not a JSON object"},
		{name: "the field not a string", secret: `{"qualys_token": 42}`, wantErr: "not a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSecrets{str: aws.String(tc.secret)}
			s, err := NewSecretsManager(f, "qualys/token", 0, JSONKey(" qualys_token "))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Token(context.Background())
			if tc.wantErr == "" {
				if err != nil || got != secretValue {
					t.Fatalf("Token = %q, %v; want the named field's value", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), secretValue[:8]) {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}
