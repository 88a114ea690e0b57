package dynamostore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

type countingClient struct {
	ScanClient
	mu   sync.Mutex
	puts map[string]int
}

func (c *countingClient) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	owner := ctx.Value("owner").(string)
	c.mu.Lock()
	c.puts[owner]++
	c.mu.Unlock()
	return c.ScanClient.PutItem(ctx, in, o...)
}

func TestZZMeasure(t *testing.T) {
	for round := 0; round < 3; round++ {
		client, name, _ := newScansTable(t)
		cc := &countingClient{ScanClient: client, puts: map[string]int{}}
		s, _ := NewScanStore(cc, name)
		d := randomDigest(t)
		now := time.Now()
		var wg sync.WaitGroup
		start := time.Now()
		var errs int
		var mu sync.Mutex
		for i := range 50 {
			wg.Go(func() {
				owner := fmt.Sprintf("owner-%d", i)
				ctx := context.WithValue(context.Background(), "owner", owner)
				_, err := claim(ctx, s, imageRef(t, d, "app", fmt.Sprintf("t%d", i)), owner, now)
				if err != nil {
					mu.Lock(); errs++; mu.Unlock()
				}
			})
		}
		wg.Wait()
		mx := 0
		for _, v := range cc.puts { mx = max(mx, v) }
		got, _ := s.Get(context.Background(), d)
		_ = domain.ErrUnchanged
		t.Logf("elapsed %v max puts %d errs %d refs %d version %d", time.Since(start), mx, errs, len(got.References()), got.Version())
	}
}
