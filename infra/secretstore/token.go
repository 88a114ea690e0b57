// Package secretstore supplies the Qualys access token that QScanner reads
// from its environment: from AWS Secrets Manager, cached while the function is
// warm, or from an environment variable for local runs.
package secretstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// TokenEnv is the variable QScanner reads its token from, and the one FromEnv
// reads by default.
const TokenEnv = "QUALYS_ACCESS_TOKEN"

// DefaultTTL is how long a token read from Secrets Manager is reused. A
// rotated secret is picked up within this time by warm functions.
const DefaultTTL = 15 * time.Minute

// ErrNoToken means no token is configured, or the configured one is empty.
var ErrNoToken = errors.New("no Qualys access token")

// TokenSource yields the Qualys access token. Implementations are safe for
// concurrent use, and their errors never contain the token.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// SecretsAPI is the part of the Secrets Manager client this package uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsManagerToken reads the token from one Secrets Manager secret and
// keeps it for a TTL. Concurrent callers that find the cache empty share one
// GetSecretValue call. A failed read is not cached: the next call tries again.
type SecretsManagerToken struct {
	client   SecretsAPI
	secretID string
	// key, when set, is the field of a JSON secret that holds the token.
	key string
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	value    string
	expires  time.Time
	inflight *fetch
	waiting  int // callers waiting on inflight; read by tests
}

var _ TokenSource = (*SecretsManagerToken)(nil)

// fetch is one GetSecretValue call that several callers wait on.
type fetch struct {
	done  chan struct{}
	value string
	err   error
}

// SecretOption adjusts a SecretsManagerToken.
type SecretOption func(*SecretsManagerToken)

// JSONKey makes the token the string field key of a JSON secret, for a
// secret that holds more than the token ({"qualys_token": "...", ...}). An
// empty key keeps the default: the whole secret string, or its "token" or
// QUALYS_ACCESS_TOKEN field.
func JSONKey(key string) SecretOption {
	return func(s *SecretsManagerToken) { s.key = strings.TrimSpace(key) }
}

// NewSecretsManager returns a token source for the secret secretID (a name or
// an ARN). A ttl of zero or less means DefaultTTL.
func NewSecretsManager(client SecretsAPI, secretID string, ttl time.Duration, opts ...SecretOption) (*SecretsManagerToken, error) {
	if client == nil {
		return nil, errors.New("secretstore: nil Secrets Manager client")
	}
	if strings.TrimSpace(secretID) == "" {
		return nil, errors.New("secretstore: empty secret ID")
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	s := &SecretsManagerToken{client: client, secretID: strings.TrimSpace(secretID), ttl: ttl, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Token returns the cached token, or reads the secret when the cache is empty
// or expired. A caller whose ctx ends while another caller's read is under way
// stops waiting; the read itself runs under the context of the caller that
// started it.
func (s *SecretsManagerToken) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	if s.value != "" && s.now().Before(s.expires) {
		v := s.value
		s.mu.Unlock()
		return v, nil
	}
	if f := s.inflight; f != nil {
		s.waiting++
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.waiting--
			s.mu.Unlock()
		}()
		select {
		case <-f.done:
			return f.value, f.err
		case <-ctx.Done():
			return "", fmt.Errorf("read secret %s: %w", s.secretID, ctx.Err())
		}
	}
	f := &fetch{done: make(chan struct{})}
	s.inflight = f
	s.mu.Unlock()

	f.value, f.err = s.read(ctx)

	s.mu.Lock()
	if f.err == nil {
		s.value, s.expires = f.value, s.now().Add(s.ttl)
	}
	s.inflight = nil
	s.mu.Unlock()
	close(f.done)
	return f.value, f.err
}

func (s *SecretsManagerToken) read(ctx context.Context) (string, error) {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.secretID)})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", s.secretID, err)
	}
	raw := aws.ToString(out.SecretString)
	if out.SecretString == nil {
		raw = string(out.SecretBinary)
	}
	tok, err := parseSecret(raw, s.key)
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", s.secretID, err)
	}
	return tok, nil
}

// jsonKeys are the fields of a JSON secret that may hold the token, in the
// order they are looked for.
var jsonKeys = []string{"token", TokenEnv}

// parseSecret accepts the token as the whole secret string, or as a JSON
// object {"token": "..."} or {"QUALYS_ACCESS_TOKEN": "..."}; with key set,
// only as that field of a JSON object. Its errors never quote the secret:
// not even the JSON decoder's messages, which can echo a character of the
// input.
func parseSecret(raw, key string) (string, error) {
	s := strings.TrimSpace(raw)
	if key != "" && !strings.HasPrefix(s, "{") {
		return "", fmt.Errorf("%w: the secret is not a JSON object, but a key (%q) is configured", ErrNoToken, key)
	}
	if strings.HasPrefix(s, "{") {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &fields); err != nil {
			return "", errors.New("secret looks like JSON but is not a valid JSON object")
		}
		keys := jsonKeys
		if key != "" {
			if _, ok := fields[key]; !ok {
				return "", fmt.Errorf("%w: JSON secret has no %q field", ErrNoToken, key)
			}
			keys = []string{key}
		}
		for _, k := range keys {
			v, ok := fields[k]
			if !ok {
				continue
			}
			var tok string
			if err := json.Unmarshal(v, &tok); err != nil {
				return "", fmt.Errorf("secret's %q field is not a string", k)
			}
			return checkToken(tok)
		}
		return "", fmt.Errorf("%w: JSON secret has no %q or %q field", ErrNoToken, jsonKeys[0], jsonKeys[1])
	}
	return checkToken(s)
}

func checkToken(tok string) (string, error) {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("%w: the secret is empty", ErrNoToken)
	}
	for _, r := range tok {
		if r < 0x20 || r == 0x7f {
			return "", errors.New("token contains control characters")
		}
	}
	return tok, nil
}

// EnvToken reads the token from an environment variable on each call, so a
// local run picks up a changed variable without a restart.
type EnvToken struct {
	name   string
	lookup func(string) (string, bool)
}

var _ TokenSource = (*EnvToken)(nil)

// FromEnv reads the token from the variable name; an empty name means
// QUALYS_ACCESS_TOKEN.
func FromEnv(name string) *EnvToken {
	if name == "" {
		name = TokenEnv
	}
	return &EnvToken{name: name, lookup: os.LookupEnv}
}

// Token returns the variable's value, or an error wrapping ErrNoToken when it
// is unset or blank.
func (e *EnvToken) Token(context.Context) (string, error) {
	v, ok := e.lookup(e.name)
	if !ok {
		return "", fmt.Errorf("%w: environment variable %s is not set", ErrNoToken, e.name)
	}
	tok, err := checkToken(v)
	if err != nil {
		return "", fmt.Errorf("environment variable %s: %w", e.name, err)
	}
	return tok, nil
}

// Config says where the token comes from.
type Config struct {
	// SecretID is the name or ARN of a Secrets Manager secret holding the
	// token. When set it wins over the environment.
	SecretID string
	// SecretIDSetting names the setting SecretID was read from (for example
	// an environment variable), so an error can say what to configure.
	SecretIDSetting string
	// TTL is how long a secret's value is cached; zero means DefaultTTL.
	TTL time.Duration
	// EnvVar is the variable holding the token when no secret is configured;
	// empty means QUALYS_ACCESS_TOKEN.
	EnvVar string
	// SecretKey, when set, is the field of a JSON secret holding the token
	// (JSONKey).
	SecretKey string
}

// New chooses the token source: the Secrets Manager secret when one is
// configured (client must then be non-nil), else the environment variable
// when it is set, else an error wrapping ErrNoToken that says what to set.
func New(cfg Config, client SecretsAPI) (TokenSource, error) {
	if strings.TrimSpace(cfg.SecretID) != "" {
		return NewSecretsManager(client, cfg.SecretID, cfg.TTL, JSONKey(cfg.SecretKey))
	}
	env := FromEnv(cfg.EnvVar)
	if v, ok := env.lookup(env.name); ok && strings.TrimSpace(v) != "" {
		return env, nil
	}
	setting := cfg.SecretIDSetting
	if setting == "" {
		setting = "the secret ID setting"
	}
	return nil, fmt.Errorf("%w: set %s to the name or ARN of a Secrets Manager secret holding the token, or set the environment variable %s to the token",
		ErrNoToken, setting, env.name)
}
