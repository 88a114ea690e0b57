package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"ecrscanner/domain"
)

// ScanRequestKind marks a scan-queue message that is not an ECR push: a
// rescan from the sweep, a backfill, or a manual (forced) rescan. The scan
// handler reads it beside the two push shapes (DecodeScanMessage).
const ScanRequestKind = "ecr-image-scanner.scan-request"

// ScanRequestVersion is the version of ScanRequestMessage. Add fields
// freely; bump it only for a change an older scan function would misread
// (it refuses versions it does not know, so such a message ends in the DLQ
// with its reason instead of being misread).
const ScanRequestVersion = 1

// ScanRequestMessage is the body of a non-push scan request.
type ScanRequestMessage struct {
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	// RequestID identifies the request across redeliveries and in logs.
	RequestID   string          `json:"requestId"`
	Cause       domain.Cause    `json:"cause"`
	Ref         domain.ImageRef `json:"ref"`
	RequestedBy string          `json:"requestedBy"`
	RequestedAt time.Time       `json:"requestedAt"`
	// NotBefore forces a new scan unless the digest's current scan started
	// at or after it (domain.Origin): RequestedAt for a forced rescan, the
	// sweep's cutoff for a due one. Zero respects the cache (a backfill).
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// NewScanRequest builds a request; force sets NotBefore to now.
func NewScanRequest(cause domain.Cause, ref domain.ImageRef, by string, now time.Time, force bool) ScanRequestMessage {
	m := ScanRequestMessage{Kind: ScanRequestKind, Version: ScanRequestVersion, RequestID: domain.NewID(), Cause: cause, Ref: ref, RequestedBy: by, RequestedAt: now.UTC()}
	if force {
		m.NotBefore = m.RequestedAt
	}
	return m
}

// Body encodes m as a scan-queue message body.
func (m ScanRequestMessage) Body() (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode scan request %s: %w", m.RequestID, err)
	}
	return string(b), nil
}

// DecodeScanMessage reads any scan-queue message: a ScanRequestMessage
// (its kind says so), else an ECR push event (DecodePush, with its skips
// and errors). A malformed request is an error wrapping domain.ErrInvalid
// that names the reason, so it ends in the DLQ like a malformed push.
func DecodeScanMessage(body []byte) (ScanRequest, error) {
	if !bytes.Contains(body, []byte(ScanRequestKind)) {
		return withPushCause(DecodePush(body))
	}
	var peek struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(body, &peek) != nil || peek.Kind != ScanRequestKind {
		return withPushCause(DecodePush(body))
	}
	return decodeScanRequest(body)
}

func withPushCause(r ScanRequest, err error) (ScanRequest, error) {
	r.Cause = domain.CausePush
	return r, err
}

func decodeScanRequest(body []byte) (ScanRequest, error) {
	if len(body) > MaxEventSize {
		return ScanRequest{}, invalidRequestf("body of %d bytes exceeds %d", len(body), MaxEventSize)
	}
	var m ScanRequestMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return ScanRequest{}, invalidRequestf("%s", errLine(err))
	}
	var problems []string
	if m.Version != ScanRequestVersion {
		problems = append(problems, fmt.Sprintf("version %d, want %d", m.Version, ScanRequestVersion))
	}
	if !validPushEventID(m.RequestID) {
		problems = append(problems, fmt.Sprintf("requestId %s: want 1-128 characters of [A-Za-z0-9._:-]", pushQuote(m.RequestID)))
	}
	if _, err := domain.ParseCause(string(m.Cause)); err != nil || m.Cause == domain.CausePush {
		problems = append(problems, fmt.Sprintf("cause %s: want rescan, backfill or manual (pushes come from ECR)", pushQuote(string(m.Cause))))
	}
	ref, err := domain.NewImageRef(m.Ref.Account, m.Ref.Region, m.Ref.Repository, string(m.Ref.Digest), m.Ref.Tag)
	if err != nil {
		problems = append(problems, "ref: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if m.RequestedAt.IsZero() {
		problems = append(problems, "requestedAt missing")
	}
	if len(m.RequestedBy) > 256 {
		problems = append(problems, "requestedBy longer than 256 bytes")
	}
	if len(problems) > 0 {
		return ScanRequest{}, invalidRequestf("%s", clipText(strings.Join(problems, "; ")))
	}
	return ScanRequest{
		Ref: ref, Trigger: TriggerScanRequest, EventID: m.RequestID, EventTime: m.RequestedAt,
		Cause: m.Cause, RequestedBy: m.RequestedBy, NotBefore: m.NotBefore,
	}, nil
}

func invalidRequestf(format string, args ...any) error {
	return fmt.Errorf("%w scan request: %s", domain.ErrInvalid, fmt.Sprintf(format, args...))
}
