package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/handlers/consume"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/securityhubstore"
)

func TestNewHandlerRejectsMissingDependencies(t *testing.T) {
	env := newTestEnv(t)
	product := testProductOf(t)
	tests := []struct {
		name    string
		reports domain.ReportStreamer
		hub     findingStore
		tags    imageTags
		product securityhubstore.Product
	}{
		{"no reports", nil, env.hub, env.tags, product},
		{"no hub", env.reports, nil, env.tags, product},
		{"no tags", env.reports, env.hub, nil, product},
		{"no product", env.reports, env.hub, env.tags, securityhubstore.Product{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewHandler(tt.reports, tt.hub, tt.tags, tt.product, env.h.logger); err == nil {
				t.Error("NewHandler accepted a missing dependency")
			}
		})
	}
}

func TestHandleImportsOneFindingPerVulnerabilityAndSecret(t *testing.T) {
	env := newTestEnv(t)
	rep := testkit.Report()
	ev := testkit.CompletedEventOf(rep, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1.2.3"))
	if err := env.handle(t, ev, rep); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	got := env.hub.snapshot()
	want := []string{vulnID("team/app", "379201"), vulnID("team/app", "380112"), secretID("team/app", rep.Secrets[0])}
	if len(got) != len(want) {
		t.Fatalf("%d findings, want %d", len(got), len(want))
	}
	for _, id := range want {
		f, ok := got[id]
		if !ok {
			t.Fatalf("no finding %s", id)
		}
		if f.RecordState != securityhubstore.RecordStateActive || f.Workflow.Status != securityhubstore.WorkflowNew ||
			!f.CreatedAt.Equal(testkit.ScannedAt) || !f.UpdatedAt.Equal(testkit.ScannedAt) || f.ProductARN != testProduct || f.AwsAccountID != testkit.Account {
			t.Errorf("%s: state %s workflow %s created %v updated %v product %s", id, f.RecordState, f.Workflow.Status, f.CreatedAt, f.UpdatedAt, f.ProductARN)
		}
		img := f.Resources[0].Details.AwsEcrContainerImage
		if f.Resources[0].ID != "arn:aws:ecr:eu-west-1:123456789012:repository/team/app/"+testkit.Digest.String() || img.ImageDigest != testkit.Digest.String() || !slices.Equal(img.ImageTags, []string{"v1.2.3"}) {
			t.Errorf("%s: resource %+v %+v", id, f.Resources[0], img)
		}
	}
	if v := got[want[0]]; v.GeneratorID != "qualys-qscanner/vuln/379201" || v.Severity != (securityhubstore.Severity{Label: "CRITICAL", Original: "5"}) || len(v.Vulnerabilities) != 2 {
		t.Errorf("vulnerability finding: generator %s severity %+v, %d vulnerabilities", v.GeneratorID, v.Severity, len(v.Vulnerabilities))
	}
	if s := got[want[2]]; s.GeneratorID != "qualys-qscanner/secret/aws-access-key-id" || !slices.Equal(s.Types, []string{typeSecret}) {
		t.Errorf("secret finding: generator %s types %v", s.GeneratorID, s.Types)
	}
}

// rescanReport is a later scan of the same image (the cache expired, or
// QScanner's knowledge grew): QID 379201 is still there, 380112 is no longer
// reported, 390001 is new, the secret is still there.
func rescanReport() *domain.Report {
	rep := testkit.Report()
	rep.Vulnerabilities = []domain.Vulnerability{
		rep.Vulnerabilities[0],
		{QID: "390001", Title: "zlib overflow", Severity: domain.SeverityMedium, QualysSeverity: 3, CVEs: []string{"CVE-2025-1111"},
			Packages: []domain.Package{{Name: "zlib", InstalledVersion: "1.3-r0", FixedVersion: "1.3.1-r0"}}},
	}
	return rep
}

func TestRescanUpdatesTheSameFindingsAndResolvesVanishedOnes(t *testing.T) {
	env := newTestEnv(t)
	first := testkit.Report()
	if err := env.handle(t, testkit.CompletedEventOf(first, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), first); err != nil {
		t.Fatal(err)
	}
	later := testkit.ScannedAt.Add(72 * time.Hour)
	second := rescanReport()
	if err := env.handle(t, testkit.CompletedEventOf(second, "scan2", later, testkit.MustRef(t, "team/app", "v2")), second); err != nil {
		t.Fatal(err)
	}

	kept := env.hub.get(t, vulnID("team/app", "379201"))
	if !kept.CreatedAt.Equal(testkit.ScannedAt) || !kept.FirstObservedAt.Equal(testkit.ScannedAt) || !kept.UpdatedAt.Equal(later) || !kept.LastObservedAt.Equal(later) {
		t.Errorf("kept finding: created %v first seen %v updated %v last seen %v; want first seen kept, updated advanced", kept.CreatedAt, kept.FirstObservedAt, kept.UpdatedAt, kept.LastObservedAt)
	}
	if d := kept.Resources[0].Details.AwsEcrContainerImage.ImageDigest; d != testkit.Digest.String() || kept.ProductFields["qualys-qscanner/scan_id"] != "scan2" || kept.RecordState != securityhubstore.RecordStateActive {
		t.Errorf("kept finding names digest %s scan %s state %s, want the rescan's", d, kept.ProductFields["qualys-qscanner/scan_id"], kept.RecordState)
	}
	if s := env.hub.get(t, secretID("team/app", first.Secrets[0])); s.RecordState != securityhubstore.RecordStateActive || !s.UpdatedAt.Equal(later) {
		t.Errorf("secret still present: state %s updated %v", s.RecordState, s.UpdatedAt)
	}
	gone := env.hub.get(t, vulnID("team/app", "380112"))
	if gone.RecordState != securityhubstore.RecordStateArchived || gone.Workflow.Status != securityhubstore.WorkflowNew || !gone.UpdatedAt.Equal(later) || !gone.CreatedAt.Equal(testkit.ScannedAt) {
		t.Errorf("vanished finding: state %s workflow %s updated %v created %v; want ARCHIVED at the rescan, its workflow left NEW", gone.RecordState, gone.Workflow.Status, gone.UpdatedAt, gone.CreatedAt)
	}
	if d := gone.Resources[0].Details.AwsEcrContainerImage.ImageDigest; d != testkit.Digest.String() {
		t.Errorf("vanished finding names %s, want the image it was found in", d)
	}
	if fresh := env.hub.get(t, vulnID("team/app", "390001")); !fresh.CreatedAt.Equal(later) || fresh.RecordState != securityhubstore.RecordStateActive {
		t.Errorf("new finding: created %v state %s", fresh.CreatedAt, fresh.RecordState)
	}
	if len(env.hub.snapshot()) != 4 {
		t.Errorf("%d findings, want 4 (three active, one archived)", len(env.hub.snapshot()))
	}
	if !reflect.DeepEqual(env.hub.archived, []string{vulnID("team/app", "380112")}) {
		t.Errorf("archived %v, want the vanished finding alone", env.hub.archived)
	}

	t.Run("a finding that comes back is active again", func(t *testing.T) {
		third := testkit.Report()
		at := later.Add(24 * time.Hour)
		if err := env.handle(t, testkit.CompletedEventOf(third, "scan3", at, testkit.MustRef(t, "team/app", "v3")), third); err != nil {
			t.Fatal(err)
		}
		back := env.hub.get(t, vulnID("team/app", "380112"))
		if back.RecordState != securityhubstore.RecordStateActive || back.Workflow.Status != securityhubstore.WorkflowNew || !back.CreatedAt.Equal(testkit.ScannedAt) {
			t.Errorf("returning finding: state %s workflow %s created %v", back.RecordState, back.Workflow.Status, back.CreatedAt)
		}
		if z := env.hub.get(t, vulnID("team/app", "390001")); z.RecordState != securityhubstore.RecordStateArchived {
			t.Errorf("390001 is %s after a scan without it", z.RecordState)
		}
	})
}

func TestHandleIsIdempotent(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, env *testEnv) (events.ScanEvent, *domain.Report)
	}{
		{"first scan", func(t *testing.T, env *testEnv) (events.ScanEvent, *domain.Report) {
			rep := testkit.Report()
			return testkit.CompletedEventOf(rep, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), rep
		}},
		{"rescan that resolves", func(t *testing.T, env *testEnv) (events.ScanEvent, *domain.Report) {
			first := testkit.Report()
			if err := env.handle(t, testkit.CompletedEventOf(first, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), first); err != nil {
				t.Fatal(err)
			}
			rep := rescanReport()
			return testkit.CompletedEventOf(rep, "scan2", testkit.ScannedAt.Add(time.Hour), testkit.MustRef(t, "team/app", "v2")), rep
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			ev, rep := tt.setup(t, env)
			if err := env.handle(t, ev, rep); err != nil {
				t.Fatal(err)
			}
			once := env.hub.snapshot()
			archived := len(env.hub.archived)
			if err := env.handle(t, ev, rep); err != nil {
				t.Fatal(err)
			}
			if twice := env.hub.snapshot(); !reflect.DeepEqual(once, twice) {
				t.Errorf("the second delivery changed the findings:\n once %+v\ntwice %+v", once, twice)
			}
			if len(env.hub.archived) != archived {
				t.Errorf("the second delivery archived again: %v", env.hub.archived[archived:])
			}
		})
	}
}

func TestAnOlderScanLeavesTheImagesFindingsAlone(t *testing.T) {
	env := newTestEnv(t)
	newer := rescanReport()
	if err := env.handle(t, testkit.CompletedEventOf(newer, "scan2", testkit.ScannedAt.Add(time.Hour), testkit.MustRef(t, "team/app", "v2")), newer); err != nil {
		t.Fatal(err)
	}
	before := env.hub.snapshot()
	calls := env.hub.importCalls()
	older := testkit.Report()
	if err := env.handle(t, testkit.CompletedEventOf(older, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), older); err != nil {
		t.Fatal(err)
	}
	if after := env.hub.snapshot(); !reflect.DeepEqual(before, after) {
		t.Error("an older scan changed the findings of a newer one")
	}
	if env.hub.importCalls() != calls || len(env.hub.archived) != 0 {
		t.Errorf("an older scan imported (%d calls) or resolved (%v)", env.hub.importCalls()-calls, env.hub.archived)
	}
	if !strings.Contains(env.logs.String(), "newer scan") {
		t.Error("skipping an older scan was not logged")
	}
}

func TestResolutionLimits(t *testing.T) {
	tests := []struct {
		name string
		// prepare changes the stored findings after the first scan.
		prepare func(h *fakeHub)
		rescan  func(r *domain.Report)
		// want is the record state and workflow of 380112 and of the secret
		// after the rescan.
		wantVuln, wantSecret [2]string
		wantArchived         int
	}{
		{
			name:         "vanished vulnerability and secret are resolved",
			rescan:       func(r *domain.Report) { r.Secrets = nil },
			wantVuln:     [2]string{"ARCHIVED", "NEW"},
			wantSecret:   [2]string{"ARCHIVED", "NEW"},
			wantArchived: 2,
		},
		{
			name: "a suppressed finding is archived but stays suppressed",
			prepare: func(h *fakeHub) {
				f := h.findings[vulnID("team/app", "380112")]
				f.Workflow.Status = securityhubstore.WorkflowSuppressed
				h.findings[f.ID] = f
			},
			rescan:       func(r *domain.Report) {},
			wantVuln:     [2]string{"ARCHIVED", "SUPPRESSED"},
			wantSecret:   [2]string{"ACTIVE", "NEW"},
			wantArchived: 1,
		},
		{
			name:       "a scan without the secret scan type resolves no secret",
			rescan:     func(r *domain.Report) { r.Secrets, r.ScanTypes = nil, []string{"os", "sca"} },
			wantVuln:   [2]string{"ARCHIVED", "NEW"},
			wantSecret: [2]string{"ACTIVE", "NEW"}, wantArchived: 1,
		},
		{
			name:       "a partial report resolves nothing",
			rescan:     func(r *domain.Report) { r.Secrets, r.Partial = nil, true },
			wantVuln:   [2]string{"ACTIVE", "NEW"},
			wantSecret: [2]string{"ACTIVE", "NEW"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			first := testkit.Report()
			if err := env.handle(t, testkit.CompletedEventOf(first, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), first); err != nil {
				t.Fatal(err)
			}
			if tt.prepare != nil {
				tt.prepare(env.hub)
			}
			second := rescanReport()
			tt.rescan(second)
			if err := env.handle(t, testkit.CompletedEventOf(second, "scan2", testkit.ScannedAt.Add(time.Hour), testkit.MustRef(t, "team/app", "v2")), second); err != nil {
				t.Fatal(err)
			}
			state := func(id string) [2]string {
				f := env.hub.get(t, id)
				return [2]string{f.RecordState, f.Workflow.Status}
			}
			if got := state(vulnID("team/app", "380112")); got != tt.wantVuln {
				t.Errorf("380112 is %v, want %v", got, tt.wantVuln)
			}
			if got := state(secretID("team/app", first.Secrets[0])); got != tt.wantSecret {
				t.Errorf("secret is %v, want %v", got, tt.wantSecret)
			}
			if len(env.hub.archived) != tt.wantArchived {
				t.Errorf("archived %v, want %d findings", env.hub.archived, tt.wantArchived)
			}
		})
	}
}

func TestImageReferencedActsForTheNewRepositoryOnly(t *testing.T) {
	env := newTestEnv(t)
	rep := testkit.Report()
	app := testkit.MustRef(t, "team/app", "v1")
	if err := env.handle(t, testkit.CompletedEventOf(rep, testkit.ScanID, testkit.ScannedAt, app), rep); err != nil {
		t.Fatal(err)
	}
	before := env.hub.snapshot()
	env.hub.reads = nil

	mirror := testkit.MustRef(t, "mirror/app", "v2")
	if err := env.handle(t, testkit.ReferencedEventAt(rep, testkit.ScannedAt.Add(time.Hour), mirror, app), rep); err != nil {
		t.Fatal(err)
	}
	if want := []string{repositoryPrefix(testkit.Account, testkit.Region, "mirror/app")}; !slices.Equal(env.hub.reads, want) {
		t.Errorf("read findings of %v, want only %v", env.hub.reads, want)
	}
	after := env.hub.snapshot()
	for id, f := range before {
		if !reflect.DeepEqual(after[id], f) {
			t.Errorf("%s of team/app changed on a push to mirror/app", id)
		}
	}
	m := env.hub.get(t, vulnID("mirror/app", "379201"))
	if img := m.Resources[0].Details.AwsEcrContainerImage; img.RepositoryName != "mirror/app" || !slices.Equal(img.ImageTags, []string{"v2"}) || !m.CreatedAt.Equal(testkit.ScannedAt.Add(time.Hour)) {
		t.Errorf("mirror finding: repository %s tags %v created %v", img.RepositoryName, img.ImageTags, m.CreatedAt)
	}

	t.Run("a new tag in the same repository lists every tag", func(t *testing.T) {
		latest := testkit.MustRef(t, "team/app", "latest")
		if err := env.handle(t, testkit.ReferencedEventAt(rep, testkit.ScannedAt.Add(2*time.Hour), latest, app, mirror), rep); err != nil {
			t.Fatal(err)
		}
		f := env.hub.get(t, vulnID("team/app", "379201"))
		if tags := f.Resources[0].Details.AwsEcrContainerImage.ImageTags; !slices.Equal(tags, []string{"latest", "v1"}) {
			t.Errorf("tags %v, want [latest v1]", tags)
		}
	})
}

func TestScanFailedChangesNothing(t *testing.T) {
	env := newTestEnv(t)
	ev := testkit.CompletedEventOf(testkit.Report(), testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1"))
	ev.EventType, ev.Summary, ev.Report = domain.EventScanFailed, nil, nil
	ev.Failure = &domain.Failure{Class: "image_not_found", Reason: "gone"}
	if err := env.h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if len(env.hub.reads) != 0 || env.hub.importCalls() != 0 {
		t.Errorf("a failed scan touched Security Hub: %d reads, %d imports", len(env.hub.reads), env.hub.importCalls())
	}
}

func TestErrorsAreClassified(t *testing.T) {
	failed := &securityhubstore.ImportError{Failed: []securityhubstore.FailedFinding{{ID: "x", Code: "InternalError"}}}
	notEnabled := &securityhubstore.ImportError{Failed: []securityhubstore.FailedFinding{{ID: "x", Code: "InvalidAccess"}}}
	tests := []struct {
		name      string
		change    func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report)
		permanent bool
	}{
		{"report not there yet", func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report) {
			env.reports.FailGet(fmt.Errorf("get report: %w", domain.ErrNotFound))
		}, false},
		{"report location invalid", func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report) {
			env.reports.FailGet(fmt.Errorf("get report: %w location", domain.ErrInvalid))
		}, true},
		{"report too large", func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report) {
			env.reports.FailGet(fmt.Errorf("get report: %w", s3store.ErrReportTooLarge))
		}, true},
		{"report of another digest", func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report) {
			rep.Digest = testkit.OtherDigest
		}, true},
		{"no report pointer", func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report) {
			ev.Report = nil
		}, true},
		{"image in another region", func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report) {
			ref, _ := domain.NewImageRef(testkit.Account, "us-west-2", "team/app", string(testkit.Digest), "v1")
			ev.Ref, ev.References = ref, []domain.ImageRef{ref}
		}, true},
		{"security hub unreachable", func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report) {
			env.hub.findingsErr = errors.New("connection reset")
		}, false},
		{"findings refused", func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report) {
			env.hub.importErr = fmt.Errorf("import 3 findings: %w", failed)
		}, false},
		{"security hub not enabled", func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report) {
			env.hub.importErr = fmt.Errorf("import 3 findings: %w", notEnabled)
		}, true},
		{"request invalid", func(t *testing.T, env *testEnv, ev *events.ScanEvent, rep *domain.Report) {
			env.hub.importErr = fmt.Errorf("import: %w request", domain.ErrInvalid)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			rep := testkit.Report()
			ev := testkit.CompletedEventOf(rep, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1"))
			loc := *ev.Report
			tt.change(t, env, &ev, rep)
			env.reports.Put(loc, rep)
			err := env.h.Handle(context.Background(), ev)
			if err == nil {
				t.Fatal("Handle succeeded")
			}
			if got := consume.IsPermanent(err); got != tt.permanent {
				t.Errorf("permanent = %v, want %v: %v", got, tt.permanent, err)
			}
		})
	}
}

// A failed archive leaves the vanished findings active and the error
// retryable, naming the step, so the retry finds them and archives them.
func TestResolutionIsRetried(t *testing.T) {
	env := newTestEnv(t)
	first := testkit.Report()
	if err := env.handle(t, testkit.CompletedEventOf(first, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), first); err != nil {
		t.Fatal(err)
	}
	second := rescanReport()
	ev := testkit.CompletedEventOf(second, "scan2", testkit.ScannedAt.Add(time.Hour), testkit.MustRef(t, "team/app", "v2"))
	env.hub.archiveErr = errors.New("throttled")
	if err := env.handle(t, ev, second); err == nil || consume.IsPermanent(err) || !strings.Contains(err.Error(), "resolve findings: throttled") {
		t.Fatalf("Handle = %v, want a retryable error naming the resolve step", err)
	}
	if f := env.hub.get(t, vulnID("team/app", "380112")); f.RecordState != securityhubstore.RecordStateActive {
		t.Fatalf("archived although the import failed: %s", f.RecordState)
	}
	env.hub.archiveErr = nil
	if err := env.handle(t, ev, second); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if f := env.hub.get(t, vulnID("team/app", "380112")); f.RecordState != securityhubstore.RecordStateArchived || f.Workflow.Status != securityhubstore.WorkflowNew {
		t.Errorf("after the retry: %s %s, want ARCHIVED, workflow NEW as it was", f.RecordState, f.Workflow.Status)
	}
}

// A push with a 300-character tag (ECR's longest, domain.MaxTagLen) gives
// findings within every documented ASFF limit: the tag goes whole into
// ImageTags, which has no length limit, and nowhere else (Id 512, Title 256,
// ProductFields keys 128 and values 2048, as securityhubstore.Validate checks
// on import), even beside the longest repository name.
func TestLongestTagStaysWithinASFF(t *testing.T) {
	tag := "v" + strings.Repeat("1.2-_", 59) + "abcd"
	tests := []struct{ name, repository string }{
		{"short repository", "team/app"},
		{"256-character repository", strings.Repeat("r", 256)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			rep := testkit.Report()
			ev := testkit.CompletedEventOf(rep, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, tc.repository, tag))
			if err := env.handle(t, ev, rep); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			got := env.hub.snapshot()
			if len(got) == 0 {
				t.Fatal("no findings imported")
			}
			for id, f := range got {
				if err := securityhubstore.Validate(f); err != nil {
					t.Errorf("%s: %v", id, err)
				}
				if len(f.ID) > securityhubstore.MaxIDLen || len(f.Title) > securityhubstore.MaxTitleLen {
					t.Errorf("%s: Id %d bytes, Title %d bytes", id, len(f.ID), len(f.Title))
				}
				img := f.Resources[0].Details.AwsEcrContainerImage
				if !slices.Equal(img.ImageTags, []string{tag}) {
					t.Errorf("%s: ImageTags %q, want the tag whole", id, img.ImageTags)
				}
				for k, v := range f.ProductFields {
					if strings.Contains(k+v, tag[:20]) {
						t.Errorf("%s: ProductFields[%s] carries the tag", id, k)
					}
				}
				if strings.Contains(f.ID+f.Title+f.Description+f.Resources[0].ID, tag[:20]) {
					t.Errorf("%s: the tag went into Id, Title, Description or the resource Id", id)
				}
			}
		})
	}
}
