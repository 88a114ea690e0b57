package main

import (
	"maps"
	"testing"
	"time"

	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/securityhubstore"
)

// Security Hub adds ProductFields keys under aws/ to the findings GetFindings
// returns, and refuses them in an import from a provider
// (https://docs.aws.amazon.com/securityhub/latest/userguide/asff-top-level-attributes.html):
// a vanished finding read back with them is archived without them. (The
// store drops them on reading too; this holds even for a store that did not.)
func TestArchivedFindingsCarryNoReservedKeys(t *testing.T) {
	env := newTestEnv(t)
	first := testkit.Report()
	if err := env.handle(t, testkit.CompletedEventOf(first, testkit.ScanID, testkit.ScannedAt, testkit.MustRef(t, "team/app", "v1")), first); err != nil {
		t.Fatal(err)
	}
	id := vulnID("team/app", "380112")
	stored := env.hub.get(t, id)
	stored.ProductFields = maps.Clone(stored.ProductFields)
	stored.ProductFields["aws/securityhub/FindingId"] = stored.ProductARN + "/" + id
	stored.ProductFields["aws/securityhub/ProductName"] = "Default"
	env.hub.findings[id] = stored

	second := rescanReport()
	if err := env.handle(t, testkit.CompletedEventOf(second, "scan2", testkit.ScannedAt.Add(time.Hour), testkit.MustRef(t, "team/app", "v2")), second); err != nil {
		t.Fatalf("Handle = %v: the archive import was refused", err)
	}
	gone := env.hub.get(t, id)
	if gone.RecordState != securityhubstore.RecordStateArchived {
		t.Fatalf("record state %s, want ARCHIVED", gone.RecordState)
	}
	for k := range gone.ProductFields {
		if securityhubstore.IsReservedField(k) {
			t.Errorf("archived with reserved key %s", k)
		}
	}
	if gone.ProductFields["qualys-qscanner/qid"] != "380112" {
		t.Errorf("ProductFields %v lost the provider's own keys", gone.ProductFields)
	}
}
