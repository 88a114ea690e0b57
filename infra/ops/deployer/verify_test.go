package deployer

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ecrscanner/infra/ops/stack"
)

func TestReportRender(t *testing.T) {
	r := Report{Checks: []Check{
		{Name: CheckStack, Result: Pass, Detail: "demo is CREATE_COMPLETE"},
		{Name: CheckPipe, Result: Skip, Detail: "moto"},
		{Name: CheckGateway, Result: Fail, Detail: "rejected"},
	}}
	var out bytes.Buffer
	if err := r.Render(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	want := []string{
		"CHECK           RESULT  DETAIL",
		"stack           PASS    demo is CREATE_COMPLETE",
		"pipe            SKIP    moto",
		"qualys gateway  FAIL    rejected",
		"",
		"1 passed, 1 failed, 1 skipped",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("rendered:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
	if !r.Failed() {
		t.Error("a report with a FAIL is not Failed")
	}
	if (Report{Checks: r.Checks[:2]}).Failed() {
		t.Error("PASS and SKIP only is Failed")
	}
}

func TestGatewayURL(t *testing.T) {
	if got, err := GatewayURL("US2"); err != nil || got != "https://gateway.qg2.apps.qualys.com" {
		t.Errorf("US2: %q, %v", got, err)
	}
	if got, err := GatewayURL(" eu1 "); err != nil || got != "https://gateway.qg1.apps.qualys.eu" {
		t.Errorf("eu1: %q, %v", got, err)
	}
	if _, err := GatewayURL("MARS1"); err == nil || !strings.Contains(err.Error(), "QUALYS_GATEWAY_URL") {
		t.Errorf("unknown pod: %v", err)
	}
	// Every pod the template accepts must have a gateway.
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range tmpl.Parameters["QualysPod"].AllowedValues {
		if _, err := GatewayURL(pod); err != nil {
			t.Errorf("template pod %s: %v", pod, err)
		}
	}
}

func TestProbeGateway(t *testing.T) {
	const token = "tok-abc.def-123"
	tests := []struct {
		name   string
		status int
		want   Result
		detail string
	}{
		{"accepted", http.StatusOK, Pass, "accepted the token (HTTP 200)"},
		{"rejected", http.StatusUnauthorized, Fail, "rejected the token (HTTP 401)"},
		{"no permission", http.StatusForbidden, Fail, "refused Container Security access (HTTP 403)"},
		{"redirect to a login page", http.StatusFound, Fail, "redirected (HTTP 302)"},
		{"server error", http.StatusBadGateway, Fail, "answered HTTP 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotAuth, gotPath string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
				if tt.status == http.StatusFound {
					w.Header().Set("Location", "/login?token="+token)
				}
				// A careless gateway echoing the token must not leak it.
				w.WriteHeader(tt.status)
				fmt.Fprintf(w, `{"error":"bad token %s"}`, token)
			}))
			defer srv.Close()
			res, detail := probeGateway(context.Background(), srv.Client(), srv.URL, token)
			if res != tt.want || !strings.Contains(detail, tt.detail) {
				t.Errorf("got %s %q, want %s containing %q", res, detail, tt.want, tt.detail)
			}
			if strings.Contains(detail, token) {
				t.Errorf("detail %q contains the token", detail)
			}
			if gotAuth != "Bearer "+token || gotPath != "/csapi/v1.3/images" {
				t.Errorf("request: Authorization %q, path %q", gotAuth, gotPath)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		res, detail := probeGateway(context.Background(), http.DefaultClient, url, token)
		if res != Fail || !strings.Contains(detail, "cannot reach") || strings.Contains(detail, token) {
			t.Errorf("got %s %q", res, detail)
		}
	})
	t.Run("not a URL", func(t *testing.T) {
		if res, _ := probeGateway(context.Background(), http.DefaultClient, "gateway.example", token); res != Fail {
			t.Errorf("a relative gateway URL gave %s", res)
		}
	})
}

func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(b) + "." + enc([]byte("signature"))
}

func TestTokenResult(t *testing.T) {
	future := time.Now().Add(48 * time.Hour)
	tests := []struct {
		name   string
		token  string
		want   Result
		detail string
		usable bool
	}{
		{"opaque token", "opaque-token-value", Pass, "present in env", true},
		{"unexpired JWT", jwt(t, map[string]any{"exp": future.Unix()}), Pass, "expires " + future.UTC().Format(time.DateOnly), true},
		{"expired JWT", jwt(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), Fail, "expired on", false},
		{"JWT without exp", jwt(t, map[string]any{"sub": "x"}), Pass, "present in env", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Report
			got := tokenResult(&r, tt.token, "env")
			c := r.Checks[0]
			if c.Result != tt.want || !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("got %s %q, want %s containing %q", c.Result, c.Detail, tt.want, tt.detail)
			}
			if strings.Contains(c.Detail, tt.token) {
				t.Error("the detail contains the token")
			}
			if (got != "") != tt.usable {
				t.Errorf("returned token usable = %v, want %v", got != "", tt.usable)
			}
		})
	}
}

func TestSplitLayerARN(t *testing.T) {
	name, v, err := splitLayerARN("arn:aws:lambda:us-east-1:123456789012:layer:demo-QScannerLayer-X:7")
	if err != nil || name != "demo-QScannerLayer-X" || v != 7 {
		t.Errorf("got %q %d %v", name, v, err)
	}
	if _, _, err := splitLayerARN("arn:aws:lambda:us-east-1:123456789012:function:f"); err == nil {
		t.Error("a function ARN was taken for a layer version")
	}
}
