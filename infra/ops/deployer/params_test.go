package deployer

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"ecrscanner/infra/ops/stack"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

var fixedArtifacts = map[string]string{paramArtifactsBucket: "bucket", paramArtifactsPrefix: "prefix/abc"}

// TestParameterEnvCoversTheTemplate keeps the mapping and the template in
// step: a parameter added to the template must get a variable here (or be
// one the deployer sets), and the mapping must not name parameters that
// are gone.
func TestParameterEnvCoversTheTemplate(t *testing.T) {
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	mapped := map[string]bool{}
	envs := map[string]bool{}
	for _, m := range ParameterEnv {
		if _, ok := tmpl.Parameters[m.Param]; !ok {
			t.Errorf("ParameterEnv maps %s, which the template does not declare", m.Param)
		}
		if envs[m.Env] {
			t.Errorf("variable %s is mapped twice", m.Env)
		}
		envs[m.Env], mapped[m.Param] = true, true
	}
	for name := range tmpl.Parameters {
		if !mapped[name] && fixedArtifacts[name] == "" {
			t.Errorf("template parameter %s has no environment variable in ParameterEnv", name)
		}
	}
	// The seed's README names these; they must keep working.
	for _, seed := range []string{"QUALYS_POD", "QUALYS_ACCESS_TOKEN", "QUALYS_TOKEN_SECRET_ARN", "SCAN_TYPES", "CACHE_TTL_DAYS", "ALERT_EMAIL"} {
		if !envs[seed] {
			t.Errorf("seed variable %s is not mapped", seed)
		}
	}
}

func TestResolveParams(t *testing.T) {
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	previous := map[string]string{}
	for name, p := range tmpl.Parameters {
		previous[name] = p.Default
	}
	previous["QualysPod"] = "EU2"
	previous["QualysTokenSecretArn"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:qualys-AbCdEf"
	previous["QualysAccessToken"] = "****"

	type want struct {
		value string
		from  Source
	}
	tests := []struct {
		name     string
		env      map[string]string
		previous map[string]string
		want     map[string]want
		wantErr  []string
	}{
		{
			name: "first deploy, nothing set: template defaults",
			want: map[string]want{
				"QualysPod": {"US2", FromDefault}, "ScanTypes": {"pkg,secret", FromDefault},
				"ScanArchitecture": {"x86_64", FromDefault}, "ArtifactsBucket": {"bucket", FromDeployer},
			},
		},
		{
			name: "seed variables",
			env:  map[string]string{"QUALYS_POD": "EU1", "QUALYS_ACCESS_TOKEN": "tok-123", "SCAN_TYPES": "pkg", "CACHE_TTL_DAYS": "7", "ALERT_EMAIL": "sec@example.com"},
			want: map[string]want{
				"QualysPod": {"EU1", FromEnv}, "QualysAccessToken": {"tok-123", FromEnv}, "ScanTypes": {"pkg", FromEnv},
				"CacheTTLDays": {"7", FromEnv}, "AlertEmail": {"sec@example.com", FromEnv},
				"QualysTokenSecretArn": {"", FromDeployer},
			},
		},
		{
			name: "set to empty clears",
			env:  map[string]string{"ALERT_EMAIL": ""},
			want: map[string]want{"AlertEmail": {"", FromEnv}},
		},
		{
			name:     "update keeps what is not set",
			previous: previous,
			env:      map[string]string{"SCAN_TYPES": "os"},
			want: map[string]want{
				"QualysPod": {"EU2", FromPrevious}, "QualysAccessToken": {"****", FromPrevious},
				"ScanTypes": {"os", FromEnv}, "ArtifactsPrefix": {"prefix/abc", FromDeployer},
			},
		},
		{
			name:     "a new token replaces the stack's secret ARN",
			previous: previous,
			env:      map[string]string{"QUALYS_ACCESS_TOKEN": "tok-456"},
			want:     map[string]want{"QualysAccessToken": {"tok-456", FromEnv}, "QualysTokenSecretArn": {"", FromDeployer}},
		},
		{
			name:     "a secret ARN replaces the stored token",
			previous: previous,
			env:      map[string]string{"QUALYS_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-XyZ123"},
			want: map[string]want{
				"QualysAccessToken":    {"", FromDeployer},
				"QualysTokenSecretArn": {"arn:aws:secretsmanager:us-east-1:123456789012:secret:other-XyZ123", FromEnv},
			},
		},
		{
			name:    "both token sources",
			env:     map[string]string{"QUALYS_ACCESS_TOKEN": "tok", "QUALYS_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"},
			wantErr: []string{"QUALYS_ACCESS_TOKEN or QUALYS_TOKEN_SECRET_ARN, not both"},
		},
		{
			name:    "a secret ARN without its random suffix",
			env:     map[string]string{"QUALYS_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:qualys-token"},
			wantErr: []string{"QUALYS_TOKEN_SECRET_ARN (QualysTokenSecretArn)", "full ARN", "describe-secret"},
		},
		{
			name:    "every bad value is reported at once",
			env:     map[string]string{"QUALYS_POD": "us2", "CACHE_TTL_DAYS": "thirty", "SCAN_ARCHITECTURE": "amd64", "ALERT_EMAIL": "nobody"},
			wantErr: []string{"QUALYS_POD (QualysPod)", "US1, US2", "CACHE_TTL_DAYS", "not a number", "SCAN_ARCHITECTURE", "ALERT_EMAIL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := ResolveParams(tmpl, env(tt.env), tt.previous, fixedArtifacts)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != len(tmpl.Parameters) {
				t.Errorf("%d parameters, the template has %d", len(ps), len(tmpl.Parameters))
			}
			for key, w := range tt.want {
				var got *Param
				for i := range ps {
					if ps[i].Key == key {
						got = &ps[i]
					}
				}
				if got == nil {
					t.Errorf("no parameter %s", key)
					continue
				}
				if got.Value != w.value || got.From != w.from {
					t.Errorf("%s = %q from %s, want %q from %s", key, got.Value, got.From, w.value, w.from)
				}
			}
			// CloudFormation gets every parameter: kept ones by
			// UsePreviousValue, the rest with a value.
			cfn := ps.CloudFormation()
			if len(cfn) != len(ps) {
				t.Errorf("%d CloudFormation parameters for %d parameters", len(cfn), len(ps))
			}
			for i, c := range cfn {
				kept := aws.ToBool(c.UsePreviousValue)
				if kept != (ps[i].From == FromPrevious) || kept == (c.ParameterValue != nil) {
					t.Errorf("%s: UsePreviousValue %v, value %v, source %s", aws.ToString(c.ParameterKey), kept, c.ParameterValue, ps[i].From)
				}
			}
		})
	}
}

// TestNoEchoValuesStayHidden checks errors and the rendered table for a
// NoEcho parameter's value.
func TestNoEchoValuesStayHidden(t *testing.T) {
	tmpl, err := stack.Parse([]byte(`
Parameters:
  QualysAccessToken:
    Type: String
    NoEcho: true
    AllowedPattern: ^[a-z]+$
    Default: ''
Resources:
  Topic:
    Type: AWS::SNS::Topic
`))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "S3CRET-Token-9"
	_, err = ResolveParams(tmpl, env(map[string]string{"QUALYS_ACCESS_TOKEN": secret}), nil, nil)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("error %v: want a refusal that does not quote the token", err)
	}

	tmpl.Parameters["QualysAccessToken"] = stack.Parameter{Type: "String", NoEcho: true, HasDefault: true}
	ps, err := ResolveParams(tmpl, env(map[string]string{"QUALYS_ACCESS_TOKEN": secret}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := ps.Render(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), secret) || !strings.Contains(out.String(), "(set, hidden)") {
		t.Errorf("rendered parameters:\n%s\nwant the token hidden", out.String())
	}
}

func TestResolveParamsChecksDeployerValues(t *testing.T) {
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ResolveParams(tmpl, env(nil), nil, map[string]string{paramArtifactsBucket: "Not_A_Bucket", paramArtifactsPrefix: "ok/prefix"})
	if err == nil || !strings.Contains(err.Error(), "ArtifactsBucket") || !strings.Contains(err.Error(), "Not_A_Bucket") {
		t.Errorf("error %v: want ArtifactsBucket refused", err)
	}
}
