package events_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ops/testkit"
)

func TestScanRequestRoundTrip(t *testing.T) {
	ref := testkit.MustRef(t, "team/app", "v1")
	at := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	m := events.NewScanRequest(domain.CauseManual, ref, "ops", at, true)
	body, err := m.Body()
	if err != nil {
		t.Fatal(err)
	}
	req, err := events.DecodeScanMessage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if req.Ref != ref || req.Cause != domain.CauseManual || req.RequestedBy != "ops" || !req.NotBefore.Equal(at) || req.EventID != m.RequestID || req.Trigger != events.TriggerScanRequest {
		t.Errorf("decoded %+v from %s", req, body)
	}
	b := events.NewScanRequest(domain.CauseBackfill, ref, "ops", at, false)
	if !b.NotBefore.IsZero() {
		t.Errorf("an unforced request has notBefore %v", b.NotBefore)
	}
}

// A push is still a push, with its cause.
func TestDecodeScanMessagePush(t *testing.T) {
	body, err := os.ReadFile("../testdata/events/ecr-image-action-push.json")
	if err != nil {
		t.Fatal(err)
	}
	req, err := events.DecodeScanMessage(body)
	if err != nil || req.Cause != domain.CausePush || req.Trigger != events.TriggerImageAction {
		t.Errorf("DecodeScanMessage(push) = %+v, %v", req, err)
	}
}

// A malformed request is invalid, with every reason on one line.
func TestDecodeScanMessageRefusesMalformedRequests(t *testing.T) {
	valid := `"ref":{"account":"123456789012","region":"us-east-1","repository":"team/app","digest":"` + string(testkit.Digest) + `"},"requestedAt":"2026-12-02T12:00:00Z"`
	for name, tc := range map[string]struct{ body, want string }{
		"version":    {`{"kind":"ecr-image-scanner.scan-request","version":2,"requestId":"r1","cause":"manual",` + valid + `}`, "version 2"},
		"push cause": {`{"kind":"ecr-image-scanner.scan-request","version":1,"requestId":"r1","cause":"push",` + valid + `}`, "cause"},
		"no id":      {`{"kind":"ecr-image-scanner.scan-request","version":1,"cause":"rescan",` + valid + `}`, "requestId"},
		"bad ref":    {`{"kind":"ecr-image-scanner.scan-request","version":1,"requestId":"r1","cause":"rescan","ref":{"repository":"../x"},"requestedAt":"2026-12-02T12:00:00Z"}`, "ref:"},
		"no time":    {`{"kind":"ecr-image-scanner.scan-request","version":1,"requestId":"r1","cause":"rescan","ref":{"account":"123456789012","region":"us-east-1","repository":"team/app","digest":"` + string(testkit.Digest) + `"}}`, "requestedAt"},
		"not json":   {`{"kind":"ecr-image-scanner.scan-request",`, "not JSON"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := events.DecodeScanMessage([]byte(tc.body))
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("DecodeScanMessage = %v; want one line, invalid, naming %q", err, tc.want)
			}
		})
	}
}
