package securityhubstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"ecrscanner/domain"
)

const testProduct = "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"

var testTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// validFinding is a finding that passes Validate, with every field this
// package converts set.
func validFinding(id string) Finding {
	sev := Severity{Label: SeverityCritical, Original: "5"}
	return Finding{
		SchemaVersion:   SchemaVersion,
		ID:              id,
		ProductARN:      testProduct,
		GeneratorID:     "qualys-qscanner/vuln/379201",
		AwsAccountID:    "123456789012",
		Types:           []string{"Software and Configuration Checks/Vulnerabilities/CVE"},
		CreatedAt:       testTime,
		UpdatedAt:       testTime.Add(time.Hour),
		FirstObservedAt: testTime,
		LastObservedAt:  testTime.Add(time.Hour),
		Severity:        sev,
		Title:           "QID 379201: OpenSSL",
		Description:     "OpenSSL vulnerabilities",
		Remediation:     &Remediation{Recommendation: Recommendation{Text: "Upgrade openssl to 3.1.5-r0."}},
		ProductFields:   map[string]string{"qualys-qscanner/qid": "379201"},
		Resources: []Resource{{
			Type: "AwsEcrContainerImage", ID: "arn:aws:ecr:eu-west-1:123456789012:repository/team/app/sha256:aa", Partition: "aws", Region: "eu-west-1",
			Details: &ResourceDetails{AwsEcrContainerImage: &EcrContainerImage{RegistryID: "123456789012", RepositoryName: "team/app", ImageDigest: "sha256:aa", ImageTags: []string{"v1"}, Architecture: "x86_64"}},
		}},
		Vulnerabilities: []Vulnerability{{
			ID:                 "CVE-2024-0001",
			VulnerablePackages: []SoftwarePackage{{Name: "openssl", Version: "3.1.0-r0", FixedInVersion: "3.1.5-r0", FilePath: "/lib/apk/db/installed"}},
			Cvss:               []Cvss{{Version: "3", BaseScore: 9.8}},
			Vendor:             &Vendor{Name: "Qualys", VendorSeverity: "5"},
			ReferenceURLs:      []string{"https://nvd.nist.gov/vuln/detail/CVE-2024-0001"},
			FixAvailable:       FixYes,
		}},
		FindingProviderFields: &FindingProviderFields{Severity: &sev, Types: []string{"Software and Configuration Checks/Vulnerabilities/CVE"}},
		Workflow:              Workflow{Status: WorkflowNew},
		RecordState:           RecordStateActive,
	}
}

// fakeAPI is a hand-written API recording every call.
type fakeAPI struct {
	mu      sync.Mutex
	imports [][]types.AwsSecurityFinding
	gets    []*securityhub.GetFindingsInput
	updates []*securityhub.BatchUpdateFindingsInput

	importErr error
	// failIDs are refused by BatchImportFindings with failCode.
	failIDs  map[string]bool
	failCode string
	// pages are served by GetFindings in order; page i's NextToken is
	// tokens[i].
	pages  [][]types.AwsSecurityFinding
	tokens []string
	getErr error
}

func (f *fakeAPI) BatchImportFindings(_ context.Context, in *securityhub.BatchImportFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.importErr != nil {
		return nil, f.importErr
	}
	f.imports = append(f.imports, in.Findings)
	out := &securityhub.BatchImportFindingsOutput{}
	for _, fd := range in.Findings {
		if f.failIDs[aws.ToString(fd.Id)] {
			out.FailedFindings = append(out.FailedFindings, types.ImportFindingsError{Id: fd.Id, ErrorCode: aws.String(f.failCode), ErrorMessage: aws.String("refused")})
		}
	}
	out.FailedCount = aws.Int32(int32(len(out.FailedFindings)))
	out.SuccessCount = aws.Int32(int32(len(in.Findings) - len(out.FailedFindings)))
	return out, nil
}

func (f *fakeAPI) GetFindings(_ context.Context, in *securityhub.GetFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getErr != nil {
		return nil, f.getErr
	}
	cp := *in
	f.gets = append(f.gets, &cp)
	i := len(f.gets) - 1
	if i >= len(f.pages) {
		return &securityhub.GetFindingsOutput{}, nil
	}
	return &securityhub.GetFindingsOutput{Findings: f.pages[i], NextToken: optional(f.tokens[i])}, nil
}

func newTestHub(t *testing.T, api API) *Hub {
	t.Helper()
	h, err := New(api, testProduct)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func findings(n int) []Finding {
	out := make([]Finding, n)
	for i := range out {
		out[i] = validFinding(fmt.Sprintf("qualys-qscanner:123456789012:eu-west-1:team/app:vuln:%d", i))
	}
	return out
}

func TestParseProductARN(t *testing.T) {
	tests := []struct {
		name, arn string
		want      Product
		ok        bool
	}{
		{"default product", testProduct, Product{ARN: testProduct, Partition: "aws", Region: "eu-west-1", Account: "123456789012"}, true},
		{"china partition", "arn:aws-cn:securityhub:cn-north-1:123456789012:product/123456789012/default",
			Product{ARN: "arn:aws-cn:securityhub:cn-north-1:123456789012:product/123456789012/default", Partition: "aws-cn", Region: "cn-north-1", Account: "123456789012"}, true},
		{"another account's product", "arn:aws:securityhub:eu-west-1:123456789012:product/210987654321/default", Product{}, false},
		{"a partner product", "arn:aws:securityhub:eu-west-1::product/qualys/qualys-vm", Product{}, false},
		{"a hub ARN", "arn:aws:securityhub:eu-west-1:123456789012:hub/default", Product{}, false},
		{"empty", "", Product{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProductARN(tt.arn)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseProductARN(%q) = %+v, %v; want %+v (ok %v)", tt.arn, got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("error %v does not wrap domain.ErrInvalid", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Finding)
		want   string // a substring of the error; "" for valid
	}{
		{"valid", func(*Finding) {}, ""},
		{"title at the limit", func(f *Finding) { f.Title = strings.Repeat("t", MaxTitleLen) }, ""},
		{"title over the limit", func(f *Finding) { f.Title = strings.Repeat("t", MaxTitleLen+1) }, "Title is 257 bytes"},
		{"description over the limit", func(f *Finding) { f.Description = strings.Repeat("d", MaxDescriptionLen+1) }, "Description is 1025 bytes"},
		{"empty description", func(f *Finding) { f.Description = "" }, "Description is empty"},
		{"title not UTF-8", func(f *Finding) { f.Title = "bad \xff" }, "Title is not valid UTF-8"},
		{"wrong schema", func(f *Finding) { f.SchemaVersion = "2020-01-01" }, "SchemaVersion"},
		{"unknown severity", func(f *Finding) { f.Severity.Label = "UNKNOWN" }, "Severity.Label"},
		{"no resources", func(f *Finding) { f.Resources = nil }, "0 Resources"},
		{"no types", func(f *Finding) { f.Types = nil }, "0 Types"},
		{"account not 12 digits", func(f *Finding) { f.AwsAccountID = "1234" }, "AwsAccountId"},
		{"updated before created", func(f *Finding) { f.UpdatedAt = f.CreatedAt.Add(-time.Second) }, "before CreatedAt"},
		{"bad workflow", func(f *Finding) { f.Workflow.Status = "DONE" }, "Workflow.Status"},
		{"bad record state", func(f *Finding) { f.RecordState = "DELETED" }, "RecordState"},
		{"bad fix", func(f *Finding) { f.Vulnerabilities[0].FixAvailable = "MAYBE" }, "FixAvailable"},
		{"empty product field", func(f *Finding) { f.ProductFields["x"] = "" }, "ProductFields[x] is empty"},
		{"too big", func(f *Finding) {
			for i := range 300 {
				f.Vulnerabilities = append(f.Vulnerabilities, Vulnerability{ID: fmt.Sprintf("CVE-2024-%05d", i), ReferenceURLs: []string{strings.Repeat("u", 1000)}})
			}
		}, "over Security Hub's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := validFinding("id-1")
			tt.change(&f)
			err := Validate(f)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("Validate = %v, want an invalid error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestImportBatches(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		maxBytes int
		want     []int // findings per call
	}{
		{"one call", 7, MaxBatchBytes, []int{7}},
		{"exactly one batch", 100, MaxBatchBytes, []int{100}},
		{"by count", 250, MaxBatchBytes, []int{100, 100, 50}},
		{"by size", 10, 4 * len(mustJSON(t, validFinding("qualys-qscanner:123456789012:eu-west-1:team/app:vuln:0"))), []int{4, 4, 2}},
		{"a finding bigger than the size bound still goes alone", 2, 10, []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{}
			h := newTestHub(t, api)
			h.maxBatchBytes = tt.maxBytes
			in := findings(tt.n)
			if err := h.Import(context.Background(), in); err != nil {
				t.Fatalf("Import: %v", err)
			}
			var got []int
			var ids []string
			for _, call := range api.imports {
				got = append(got, len(call))
				for _, f := range call {
					ids = append(ids, aws.ToString(f.Id))
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("calls of %v findings, want %v", got, tt.want)
			}
			for i, f := range in {
				if ids[i] != f.ID {
					t.Fatalf("finding %d sent as %s, want %s (in order, each once)", i, ids[i], f.ID)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, f Finding) []byte {
	t.Helper()
	if err := Validate(f); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(f)
	return b
}

func TestImportRefusesBadFindingsBeforeSending(t *testing.T) {
	other := validFinding("b")
	other.ProductARN = "arn:aws:securityhub:eu-west-1:210987654321:product/210987654321/default"
	other.AwsAccountID = "210987654321"
	invalid := validFinding("c")
	invalid.Title = ""
	tests := []struct {
		name     string
		findings []Finding
	}{
		{"invalid finding", []Finding{validFinding("a"), invalid}},
		{"another account's product", []Finding{validFinding("a"), other}},
		{"duplicate ID", []Finding{validFinding("a"), validFinding("a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{}
			err := newTestHub(t, api).Import(context.Background(), tt.findings)
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("Import = %v, want domain.ErrInvalid", err)
			}
			if len(api.imports) != 0 {
				t.Errorf("%d calls made, want none", len(api.imports))
			}
		})
	}
}

func TestImportReportsFailedFindings(t *testing.T) {
	tests := []struct {
		name       string
		failIDs    []int
		code       string
		notEnabled bool
	}{
		{"some refused", []int{3, 150}, "InvalidInput", false},
		{"all refused for lack of access", []int{0, 1, 2, 3, 4}, "InvalidAccess", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 5
			if tt.failIDs[len(tt.failIDs)-1] >= n {
				n = 200
			}
			in := findings(n)
			api := &fakeAPI{failIDs: map[string]bool{}, failCode: tt.code}
			for _, i := range tt.failIDs {
				api.failIDs[in[i].ID] = true
			}
			err := newTestHub(t, api).Import(context.Background(), in)
			var ie *ImportError
			if !errors.As(err, &ie) || len(ie.Failed) != len(tt.failIDs) {
				t.Fatalf("Import = %v, want an ImportError naming %d findings", err, len(tt.failIDs))
			}
			if ie.Failed[0].ID != in[tt.failIDs[0]].ID || ie.Failed[0].Code != tt.code {
				t.Errorf("first failure %+v", ie.Failed[0])
			}
			if got := errors.Is(err, ErrNotEnabled); got != tt.notEnabled {
				t.Errorf("errors.Is(err, ErrNotEnabled) = %v, want %v", got, tt.notEnabled)
			}
			if errors.Is(err, domain.ErrInvalid) {
				t.Error("refused findings classified as an invalid request: they are retryable")
			}
			if want := (n + MaxBatch - 1) / MaxBatch; len(api.imports) != want {
				t.Errorf("%d calls, want %d: every batch is tried", len(api.imports), want)
			}
		})
	}
}

func TestErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		invalid    bool
		notEnabled bool
	}{
		{"invalid input", &types.InvalidInputException{Message: aws.String("bad")}, true, false},
		{"not subscribed", &types.InvalidAccessException{Message: aws.String("Account is not subscribed to AWS Security Hub")}, false, true},
		{"throttled", &types.LimitExceededException{Message: aws.String("slow down")}, false, false},
		{"anything else", errors.New("connection reset"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := map[string]error{}
			h := newTestHub(t, &fakeAPI{importErr: tt.err})
			calls["Import"] = h.Import(context.Background(), findings(1))
			h = newTestHub(t, &fakeAPI{getErr: tt.err})
			_, calls["Findings"] = h.Findings(context.Background(), "p:")
			for op, err := range calls {
				if !errors.Is(err, tt.err) {
					t.Errorf("%s = %v, want it to wrap %v", op, err, tt.err)
				}
				if errors.Is(err, domain.ErrInvalid) != tt.invalid || errors.Is(err, ErrNotEnabled) != tt.notEnabled {
					t.Errorf("%s = %v: invalid %v not enabled %v, want %v %v", op, err, errors.Is(err, domain.ErrInvalid), errors.Is(err, ErrNotEnabled), tt.invalid, tt.notEnabled)
				}
			}
		})
	}
}

func TestFindingsPagesAndFilters(t *testing.T) {
	mine := func(id string) types.AwsSecurityFinding { return toSDK(validFinding(id)) }
	otherProduct := toSDK(validFinding("p:other-product"))
	otherProduct.ProductArn = aws.String("arn:aws:securityhub:eu-west-1::product/aws/inspector")
	api := &fakeAPI{
		pages: [][]types.AwsSecurityFinding{
			{mine("p:1"), otherProduct, mine("q:other-prefix")},
			{mine("p:2")},
			{mine("p:3")},
		},
		// The last token repeats the first: a misbehaving server must not
		// make the loop run forever.
		tokens: []string{"t1", "t2", "t1"},
	}
	got, err := newTestHub(t, api).Findings(context.Background(), "p:")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range got {
		ids = append(ids, f.ID)
	}
	if !reflect.DeepEqual(ids, []string{"p:1", "p:2", "p:3"}) {
		t.Errorf("findings %v, want p:1 p:2 p:3", ids)
	}
	if len(api.gets) != 3 {
		t.Fatalf("%d GetFindings calls, want 3", len(api.gets))
	}
	first := api.gets[0]
	if aws.ToInt32(first.MaxResults) != MaxBatch || first.NextToken != nil || aws.ToString(api.gets[1].NextToken) != "t1" || aws.ToString(api.gets[2].NextToken) != "t2" {
		t.Errorf("paging: max %d, tokens %v %v %v", aws.ToInt32(first.MaxResults), first.NextToken, aws.ToString(api.gets[1].NextToken), aws.ToString(api.gets[2].NextToken))
	}
	wantFilters := &types.AwsSecurityFindingFilters{
		ProductArn: []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(testProduct)}},
		Id:         []types.StringFilter{{Comparison: types.StringFilterComparisonPrefix, Value: aws.String("p:")}},
	}
	if !reflect.DeepEqual(first.Filters, wantFilters) {
		t.Errorf("filters %+v, want product EQUALS and Id PREFIX", first.Filters)
	}
	if !reflect.DeepEqual(got[0], validFinding("p:1")) {
		t.Errorf("finding read back differs from what was written:\n got %+v\nwant %+v", got[0], validFinding("p:1"))
	}
}

// TestReservedProductFields: Security Hub adds ProductFields keys under
// aws/ to what GetFindings returns, and refuses them from a provider
// (https://docs.aws.amazon.com/securityhub/latest/userguide/asff-top-level-attributes.html).
// A finding read back loses them, so it can be archived by importing it
// again; a finding built with one is refused before anything is sent.
func TestReservedProductFields(t *testing.T) {
	stored := toSDK(validFinding("p:1"))
	stored.ProductFields["aws/securityhub/FindingId"] = "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default/p:1"
	stored.ProductFields["aws/securityhub/ProductName"] = "Default"
	stored.ProductFields["aws/securityhub/CompanyName"] = "Personal"
	api := &fakeAPI{pages: [][]types.AwsSecurityFinding{{stored}}, tokens: []string{""}}
	h := newTestHub(t, api)
	got, err := h.Findings(context.Background(), "p:")
	if err != nil || len(got) != 1 {
		t.Fatalf("Findings = %d, %v", len(got), err)
	}
	archived := got[0]
	archived.RecordState = RecordStateArchived
	archived.UpdatedAt = archived.UpdatedAt.Add(time.Hour)
	if err := h.Import(context.Background(), []Finding{archived}); err != nil {
		t.Fatalf("re-import of a finding read back: %v", err)
	}
	sent := api.imports[0][0].ProductFields
	for k := range sent {
		if IsReservedField(k) {
			t.Errorf("re-import sends reserved key %s", k)
		}
	}
	if !reflect.DeepEqual(sent, validFinding("p:1").ProductFields) {
		t.Errorf("re-import sends ProductFields %v, want the provider's own %v", sent, validFinding("p:1").ProductFields)
	}

	t.Run("a finding built with an aws/ key is refused", func(t *testing.T) {
		api := &fakeAPI{}
		f := validFinding("p:2")
		f.ProductFields = map[string]string{"aws/securityhub/SeverityLabel": "LOW"}
		err := newTestHub(t, api).Import(context.Background(), []Finding{f})
		if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "reserved") || len(api.imports) != 0 {
			t.Errorf("Import = %v after %d calls, want ErrInvalid naming the reserved key and no call", err, len(api.imports))
		}
	})
	t.Run("only aws/ keys read back as none", func(t *testing.T) {
		s := toSDK(validFinding("p:3"))
		s.ProductFields = map[string]string{"aws/securityhub/FindingId": "x"}
		if f := fromSDK(s); f.ProductFields != nil {
			t.Errorf("ProductFields %v, want none", f.ProductFields)
		}
	})
}

func TestConvertRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    Finding
	}{
		{"every field", validFinding("a")},
		{"minimal", Finding{
			SchemaVersion: SchemaVersion, ID: "b", ProductARN: testProduct, GeneratorID: "g", AwsAccountID: "123456789012",
			Types: []string{"Sensitive Data Identifications/Passwords"}, CreatedAt: testTime, UpdatedAt: testTime,
			Severity: Severity{Label: SeverityHigh}, Title: "t", Description: "d",
			Resources: []Resource{{Type: "Other", ID: "r"}}, Workflow: Workflow{Status: WorkflowResolved}, RecordState: RecordStateArchived,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fromSDK(toSDK(tt.f)); !reflect.DeepEqual(got, tt.f) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tt.f)
			}
		})
	}
}
