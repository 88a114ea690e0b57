package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/metrics"
)

const (
	hubAccount    = "123456789012"
	memberAccount = "111122223333"
)

func hub() Organization {
	return Organization{HomeAccount: hubAccount, HomeRegion: "us-east-1", RoleName: "qualys-ecr-scanner-spoke",
		Members: []string{memberAccount}, Regions: []string{"us-east-1", "us-west-2"}}
}

func TestOrganizationServesWhatItIsConfiguredFor(t *testing.T) {
	ref := func(account, region string) domain.ImageRef {
		return domain.ImageRef{Account: account, Region: region, Repository: "team/app", Digest: testDigest}
	}
	noRegions := hub()
	noRegions.Regions = nil
	noMembers := hub()
	noMembers.Members = nil
	tests := []struct {
		name string
		org  Organization
		ref  domain.ImageRef
		want string // "" served, else part of the reason
	}{
		{"single-account stack serves every event as before", Organization{}, ref("999999999999", "eu-west-1"), ""},
		{"the hub's own registry", hub(), ref(hubAccount, "us-east-1"), ""},
		{"a member in a served region", hub(), ref(memberAccount, "us-west-2"), ""},
		{"the hub's account in another served region", hub(), ref(hubAccount, "us-west-2"), ""},
		{"a region not served", hub(), ref(memberAccount, "eu-west-1"), "region eu-west-1 is not served by this hub (SERVED_REGIONS: us-east-1,us-west-2)"},
		{"an account outside the allow-list", hub(), ref("444455556666", "us-east-1"), "account 444455556666 is not one of the member accounts"},
		{"no allow-list: any account the bus admitted", noMembers, ref("444455556666", "us-east-1"), ""},
		{"no regions given: the hub's own only", noRegions, ref(memberAccount, "us-west-2"), "region us-west-2 is not served by this hub (SERVED_REGIONS: us-east-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.org.refusal(tt.ref)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("refusal = %q, want %q", got, tt.want)
			}
		})
	}
}

type parked struct {
	mu      sync.Mutex
	reasons []string
}

func (p *parked) Park(_ context.Context, _, _, reason string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reasons = append(p.reasons, reason)
	return nil
}

// A refused event ends in the DLQ with its reason, is counted, and is never
// scanned nor recorded.
func TestRefusedEventIsDeadLetteredWithItsReason(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	r.h.SetOrganization(hub())
	var emf bytes.Buffer
	r.h.metrics = metrics.NewPublisher(&emf, "ECRImageScanner")
	dlq := &parked{}
	body := fmt.Sprintf(`{"version":"0","id":"e1","detail-type":"ECR Image Action","source":"aws.ecr","account":"444455556666","time":"2026-11-25T12:00:00Z","region":"us-east-1","resources":[],"detail":{"result":"SUCCESS","repository-name":"team/app","image-digest":%q,"action-type":"PUSH","image-tag":"v1"}}`, testDigest)
	handle := consume.DeadLetter(dlq, r.h.logger)(r.h.Handle)
	if err := handle(context.Background(), consume.Message{ID: "m1", Body: body}); err != nil {
		t.Fatalf("Handle = %v; want the message parked and settled", err)
	}
	if len(dlq.reasons) != 1 || !strings.Contains(dlq.reasons[0], "account 444455556666 is not one of the member accounts this hub serves") {
		t.Fatalf("parked reasons %q", dlq.reasons)
	}
	if !strings.Contains(emf.String(), "EventRefused") {
		t.Errorf("no EventRefused metric in %s", emf.String())
	}
	if n := r.scanner.runs.Load(); n != 0 {
		t.Errorf("QScanner ran %d times for a refused event", n)
	}
	if _, err := r.store.Get(context.Background(), testDigest); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a record exists for a refused event (err %v)", err)
	}
}

// A spoke role that cannot be assumed ends the scan as a final ScanFailed
// naming the role: no QScanner run, no retry.
func TestSpokeRoleFailureEndsInScanFailed(t *testing.T) {
	r := newRig(t, &fakeScanner{report: sampleReport()}, imageInfo)
	role := "arn:aws:iam::" + memberAccount + ":role/qualys-ecr-scanner-spoke"
	r.h.inspector = fakeInspector{err: fmt.Errorf("inspect: %w", &ecrstore.RoleError{Role: role, Err: errors.New("AccessDenied")})}
	ref, err := domain.NewImageRef(memberAccount, "us-west-2", "team/app", testDigest, "v1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.h.Scan(context.Background(), ref)
	if err != nil || out != OutcomeFailed {
		t.Fatalf("Scan = %q, %v; want failed, no error (no retry)", out, err)
	}
	rec := r.store.Record(testDigest)
	if rec.Status != domain.StatusFailed || !rec.FinalFailure || rec.Event.Type != domain.EventScanFailed {
		t.Fatalf("record %s final %v event %s, want a final ScanFailed", rec.Status, rec.FinalFailure, rec.Event.Type)
	}
	if rec.Failure == nil || rec.Failure.Class != domain.FailureRegistryAuth || !strings.Contains(rec.Failure.Reason, role) {
		t.Errorf("failure %+v, want %s naming %s", rec.Failure, domain.FailureRegistryAuth, role)
	}
	if n := r.scanner.runs.Load(); n != 0 {
		t.Errorf("QScanner ran %d times", n)
	}
}
