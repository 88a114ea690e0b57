package deployer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// QualysGateways maps each Qualys platform (pod) to its API gateway, as
// Qualys's "identify your platform" page lists them. QScanner talks to the
// same gateway given --pod.
var QualysGateways = map[string]string{
	"US1":  "https://gateway.qg1.apps.qualys.com",
	"US2":  "https://gateway.qg2.apps.qualys.com",
	"US3":  "https://gateway.qg3.apps.qualys.com",
	"US4":  "https://gateway.qg4.apps.qualys.com",
	"EU1":  "https://gateway.qg1.apps.qualys.eu",
	"EU2":  "https://gateway.qg2.apps.qualys.eu",
	"EU3":  "https://gateway.qg3.apps.qualys.it",
	"IN1":  "https://gateway.qg1.apps.qualys.in",
	"CA1":  "https://gateway.qg1.apps.qualys.ca",
	"AE1":  "https://gateway.qg1.apps.qualys.ae",
	"UK1":  "https://gateway.qg1.apps.qualys.co.uk",
	"AU1":  "https://gateway.qg1.apps.qualys.com.au",
	"KSA1": "https://gateway.qg1.apps.qualysksa.com",
}

// GatewayURL returns the API gateway of a pod.
func GatewayURL(pod string) (string, error) {
	if u, ok := QualysGateways[strings.ToUpper(strings.TrimSpace(pod))]; ok {
		return u, nil
	}
	pods := make([]string, 0, len(QualysGateways))
	for p := range QualysGateways {
		pods = append(pods, p)
	}
	sort.Strings(pods)
	return "", fmt.Errorf("unknown Qualys pod %q (known: %s); set QUALYS_GATEWAY_URL for a private platform", pod, strings.Join(pods, ", "))
}

// gatewayProbePath is a cheap authenticated read of the Container Security
// API, whose images QScanner reports into: one page of one image. It needs
// the same bearer token QScanner sends.
const gatewayProbePath = "/csapi/v1.3/images?pageNumber=1&pageSize=1"

// probeGateway asks the gateway whether it accepts token. The detail never
// contains the token, nor the response body (which a gateway could echo it
// in).
func probeGateway(ctx context.Context, client *http.Client, gateway, token string) (Result, string) {
	u, err := url.Parse(strings.TrimRight(gateway, "/") + gatewayProbePath)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Fail, fmt.Sprintf("gateway URL %q is not an absolute http(s) URL", gateway)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Fail, fmt.Sprintf("build request to %s: %v", u.Host, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	// A redirect leads to a login page, whose 200 would read as success.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Fail, fmt.Sprintf("cannot reach %s: %v", u.Host, redact(err.Error(), token))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	base := u.Scheme + "://" + u.Host
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return Pass, fmt.Sprintf("%s accepted the token (HTTP %d)", base, resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized:
		return Fail, fmt.Sprintf("%s rejected the token (HTTP 401): expired, revoked, or issued on another platform than the pod", base)
	case resp.StatusCode == http.StatusForbidden:
		return Fail, fmt.Sprintf("%s authenticated the token but refused Container Security access (HTTP 403): check the user's role and API access", base)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return Fail, fmt.Sprintf("%s redirected (HTTP %d) instead of answering: wrong gateway for the pod?", base, resp.StatusCode)
	}
	return Fail, fmt.Sprintf("%s answered HTTP %d", base, resp.StatusCode)
}

// redact removes the token from text.
func redact(text, token string) string {
	if token == "" {
		return text
	}
	return strings.ReplaceAll(text, token, "<token>")
}

// tokenExpiry reads the exp claim of a token that is a JWT, without checking
// its signature: only to tell an expired token early. ok is false when the
// token is not a JWT with an exp claim.
func tokenExpiry(token string) (exp time.Time, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == "" {
		return time.Time{}, false
	}
	secs, err := claims.Exp.Int64()
	if err != nil {
		f, ferr := claims.Exp.Float64()
		if ferr != nil {
			return time.Time{}, false
		}
		secs = int64(f)
	}
	return time.Unix(secs, 0).UTC(), true
}
