package securityhubstore

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"ecrscanner/infra/ops/mototest"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

// motoProduct is the default product of moto's account in mototest's region.
const motoProduct = "arn:aws:securityhub:" + mototest.Region + ":123456789012:product/123456789012/default"

// motoFinding is a valid finding of motoProduct under prefix.
func motoFinding(prefix string, i int) Finding {
	f := validFinding(fmt.Sprintf("%svuln:%d", prefix, i))
	f.ProductARN = motoProduct
	f.Resources[0].Region = mototest.Region
	return f
}

func motoHub(t *testing.T) (*Hub, *securityhub.Client) {
	t.Helper()
	client := securityhub.NewFromConfig(mototest.Config(t))
	h, err := New(client, motoProduct)
	if err != nil {
		t.Fatal(err)
	}
	return h, client
}

// TestMotoImportReadUpdateArchive runs the adapter against moto's Security
// Hub: what it supports, the way this project uses it.
func TestMotoImportReadUpdateArchive(t *testing.T) {
	h, _ := motoHub(t)
	ctx := context.Background()
	prefix := "qualys-qscanner:123456789012:us-east-1:" + mototest.UniqueName("team/app") + ":"
	neighbour := strings.TrimSuffix(prefix, ":") + "-other:"

	var in []Finding
	for i := range 250 {
		in = append(in, motoFinding(prefix, i))
	}
	if err := h.Import(ctx, append(in, motoFinding(neighbour, 0))); err != nil {
		t.Fatalf("Import of 251 findings (three batches): %v", err)
	}
	got, err := h.Findings(ctx, prefix)
	if err != nil {
		t.Fatalf("Findings: %v", err)
	}
	if len(got) != len(in) {
		t.Fatalf("read %d findings under the prefix, want %d (the neighbouring repository's must not count)", len(got), len(in))
	}
	byID := map[string]Finding{}
	for _, f := range got {
		byID[f.ID] = f
	}
	if !reflect.DeepEqual(byID[in[42].ID], in[42]) {
		t.Errorf("finding read back differs from what was imported:\n got %+v\nwant %+v", byID[in[42].ID], in[42])
	}

	t.Run("an import with an existing Id updates that finding", func(t *testing.T) {
		f := in[7]
		f.Title = "QID 379201: OpenSSL (rescanned)"
		f.UpdatedAt = f.UpdatedAt.Add(24 * time.Hour)
		f.LastObservedAt = f.UpdatedAt
		if err := h.Import(ctx, []Finding{f}); err != nil {
			t.Fatal(err)
		}
		after, err := h.Findings(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(in) {
			t.Errorf("%d findings after the update, want %d: an update must not add one", len(after), len(in))
		}
		for _, a := range after {
			if a.ID == f.ID && !reflect.DeepEqual(a, f) {
				t.Errorf("updated finding:\n got %+v\nwant %+v", a, f)
			}
		}
	})

	t.Run("an import with RecordState ARCHIVED archives it", func(t *testing.T) {
		f := in[8]
		f.RecordState = RecordStateArchived
		f.UpdatedAt = f.UpdatedAt.Add(48 * time.Hour)
		if err := h.Import(ctx, []Finding{f}); err != nil {
			t.Fatal(err)
		}
		after, err := h.Findings(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range after {
			if a.ID == f.ID && a.RecordState != RecordStateArchived {
				t.Errorf("record state %s, want ARCHIVED", a.RecordState)
			}
		}
	})
}

// TestMotoGaps pins what moto 5.2's Security Hub does not do as AWS does, so
// that a moto upgrade that closes a gap is noticed (the test then fails and
// the comment here, and the handler's test doubles, can go).
func TestMotoGaps(t *testing.T) {
	h, client := motoHub(t)
	ctx := context.Background()
	prefix := "qualys-qscanner:123456789012:us-east-1:" + mototest.UniqueName("gaps") + ":"
	base := motoFinding(prefix, 0)
	if err := h.Import(ctx, []Finding{base}); err != nil {
		t.Fatal(err)
	}
	read := func(t *testing.T) Finding {
		t.Helper()
		got, err := h.Findings(ctx, prefix)
		if err != nil || len(got) != 1 {
			t.Fatalf("Findings = %d, %v", len(got), err)
		}
		return got[0]
	}

	t.Run("GetFindings ignores Filters", func(t *testing.T) {
		// AWS would return nothing for an Id no finding has; moto returns
		// every finding of the account and region. Hub.Findings filters
		// again on its side, which is why it works on moto at all.
		out, err := client.GetFindings(ctx, &securityhub.GetFindingsInput{Filters: &types.AwsSecurityFindingFilters{
			Id: []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String("no-such-finding")}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Findings) == 0 {
			t.Error("moto applied the filter: Hub.Findings' own filtering is no longer needed for moto")
		}
	})

	t.Run("an update with an older UpdatedAt is applied", func(t *testing.T) {
		// AWS ignores an update older than the stored finding.
		older := base
		older.Title = "older"
		older.CreatedAt = base.CreatedAt.Add(-time.Hour)
		older.UpdatedAt = base.UpdatedAt.Add(-time.Hour)
		if err := h.Import(ctx, []Finding{older}); err != nil {
			t.Fatal(err)
		}
		if got := read(t); got.Title != "older" {
			t.Errorf("title %q: moto now ignores older updates as AWS does", got.Title)
		}
	})

	t.Run("the Workflow of an update is applied", func(t *testing.T) {
		// AWS ignores Workflow (and Note, UserDefinedFields,
		// VerificationState) in an import of an existing finding.
		f := read(t)
		f.Workflow.Status = WorkflowNotified
		f.UpdatedAt = f.UpdatedAt.Add(time.Hour)
		if err := h.Import(ctx, []Finding{f}); err != nil {
			t.Fatal(err)
		}
		if got := read(t); got.Workflow.Status != WorkflowNotified {
			t.Errorf("workflow %s: moto now keeps the stored workflow as AWS does", got.Workflow.Status)
		}
	})

	t.Run("imports do not need Security Hub enabled", func(t *testing.T) {
		// AWS refuses every finding with InvalidAccess until the hub is
		// enabled; moto's DescribeHub says it is not, yet imports succeed.
		if _, err := client.DescribeHub(ctx, &securityhub.DescribeHubInput{}); err == nil {
			t.Skip("another test enabled the hub in this moto")
		}
		if err := h.Import(ctx, []Finding{motoFinding(prefix, 1)}); err != nil {
			t.Errorf("Import without an enabled hub: %v", err)
		}
	})

	t.Run("findings are not validated", func(t *testing.T) {
		// AWS refuses a finding with an empty Title or an unknown severity
		// label; moto only requires a non-empty Resources list. Validate
		// checks these before anything is sent.
		bad := toSDK(motoFinding(prefix, 2))
		bad.Title = aws.String("")
		bad.Severity.Label = "BOGUS"
		out, err := client.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: []types.AwsSecurityFinding{bad}})
		if err != nil {
			t.Fatalf("BatchImportFindings: %v", err)
		}
		if aws.ToInt32(out.FailedCount) != 0 {
			t.Errorf("moto refused an invalid finding (%d failed): it validates now", aws.ToInt32(out.FailedCount))
		}
	})
}
