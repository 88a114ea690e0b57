package local

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

type fakeEnrich struct{ out []byte }

func (f fakeEnrich) Invoke(context.Context, []byte, string) ([]byte, error) { return f.out, nil }

type fakeBus struct {
	entries []ebtypes.PutEventsRequestEntry
}

func (f *fakeBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.entries = append(f.entries, in.Entries...)
	return &eventbridge.PutEventsOutput{}, nil
}

// enrichedOf is an enrichment output of n events of alternating types.
func enrichedOf(t *testing.T, n int) []byte {
	t.Helper()
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = map[string]string{"eventType": []string{"ScanCompleted", "RecordRejected"}[i%2], "eventId": fmt.Sprint(i)}
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every element the enrichment returns, whatever its eventType, goes on the
// bus with the one static detail-type, in order; more elements than an
// event bus target takes fail the batch, as the Pipe would not invoke it.
func TestDeliverOnceUsesTheStaticDetailType(t *testing.T) {
	for _, n := range []int{0, 3, maxBusBatch, maxBusBatch + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			bus := &fakeBus{}
			p := &Pipe{Enrich: fakeEnrich{out: enrichedOf(t, n)}, Events: bus, Bus: "b", Source: "ecr-image-scanner", DetailType: "Image Scan Event"}
			err := p.deliverOnce(context.Background(), []byte("[]"))
			if n > maxBusBatch {
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("returned %d events", n)) || len(bus.entries) != 0 {
					t.Fatalf("error %v, %d entries put; want the batch refused", err, len(bus.entries))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(bus.entries) != n {
				t.Fatalf("%d entries, want %d", len(bus.entries), n)
			}
			for i, e := range bus.entries {
				if aws.ToString(e.DetailType) != "Image Scan Event" || aws.ToString(e.Source) != "ecr-image-scanner" || !strings.Contains(aws.ToString(e.Detail), fmt.Sprintf(`"eventId":"%d"`, i)) {
					t.Errorf("entry %d: %s %s %s", i, aws.ToString(e.Source), aws.ToString(e.DetailType), aws.ToString(e.Detail))
				}
			}
		})
	}
}
