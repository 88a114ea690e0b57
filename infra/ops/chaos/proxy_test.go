package chaos

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

// backend stands in for moto: it counts the requests that reach it and
// answers each with an empty success.
type backend struct {
	*httptest.Server
	hits atomic.Int32
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(b.Close)
	return b
}

func startProxy(t *testing.T, target string, rates Rates, delay time.Duration) *Proxy {
	t.Helper()
	p, err := StartProxy(target, 42, rates, delay, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// sdkConfig points SDK clients at url without retries, so the test sees
// each fault as the SDK classifies it.
func sdkConfig(url string) aws.Config {
	return aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// calls are one request of each protocol the functions use.
var calls = map[string]func(ctx context.Context, cfg aws.Config) error{
	"dynamodb": func(ctx context.Context, cfg aws.Config) error {
		_, err := dynamodb.NewFromConfig(cfg).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]ddbtypes.AttributeValue{"k": &ddbtypes.AttributeValueMemberS{Value: "v"}}})
		return err
	},
	"sqs": func(ctx context.Context, cfg aws.Config) error {
		_, err := sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String("http://q/1/q"), MessageBody: aws.String("b")})
		return err
	},
	"sns": func(ctx context.Context, cfg aws.Config) error {
		_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:t"), Message: aws.String("m")})
		return err
	},
	"s3": func(ctx context.Context, cfg aws.Config) error {
		_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
		return err
	},
}

// Each service's throttling reply carries its own error code, which the
// SDK's standard retryer counts as throttling, and never reaches moto.
func TestProxyThrottlesInTheServiceShape(t *testing.T) {
	want := map[string]string{"dynamodb": "ProvisionedThroughputExceededException", "sqs": "RequestThrottled", "sns": "ThrottlingException", "s3": "SlowDown"}
	b := newBackend(t)
	p := startProxy(t, b.URL, Rates{Throttle: 1}, 0)
	for svc, call := range calls {
		err := call(context.Background(), sdkConfig(p.URL()))
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != want[svc] {
			t.Errorf("%s: error %v, want code %s", svc, err, want[svc])
			continue
		}
		if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
			t.Errorf("%s: the SDK does not count %s as throttling", svc, api.ErrorCode())
		}
	}
	if n := b.hits.Load(); n != 0 {
		t.Errorf("%d throttled requests reached the backend", n)
	}
}

func TestProxyServerErrorIsRetryable(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.URL, Rates{ServerError: 1}, 0)
	for svc, call := range calls {
		err := call(context.Background(), sdkConfig(p.URL()))
		if err == nil || retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
			t.Errorf("%s: error %v is not one the SDK retries", svc, err)
		}
	}
	if n := b.hits.Load(); n != 0 {
		t.Errorf("%d failed requests reached the backend", n)
	}
}

// A lost reply: the backend acted on the request, the client sees a
// connection error, which the SDK retries.
func TestProxyLostReplyLandsTheRequest(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.URL, Rates{LostReply: 1}, 0)
	err := calls["dynamodb"](context.Background(), sdkConfig(p.URL()))
	if err == nil || retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
		t.Errorf("lost reply: error %v, want one the SDK retries", err)
	}
	if n := b.hits.Load(); n != 1 {
		t.Errorf("backend saw %d requests, want the 1 whose reply was lost", n)
	}
}

// A delayed request outlives the client's deadline and still lands.
func TestProxyDelayLandsAfterTheClientGaveUp(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.URL, Rates{Delay: 1}, 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := calls["dynamodb"](ctx, sdkConfig(p.URL())); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delayed call: error %v, want the client's deadline", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := b.hits.Load(); n != 1 {
		t.Errorf("backend saw %d requests after the delay, want 1", n)
	}
}

func TestProxyForwardsUnfaulted(t *testing.T) {
	b := newBackend(t)
	p := startProxy(t, b.URL, Rates{}, 0)
	if err := calls["dynamodb"](context.Background(), sdkConfig(p.URL())); err != nil {
		t.Fatal(err)
	}
	counts, total := p.Counts()
	if b.hits.Load() != 1 || total != 1 || counts[FaultNone] != 1 {
		t.Errorf("backend hits %d, proxy counts %v of %d; want one clean request", b.hits.Load(), counts, total)
	}
}

// moto unreachable: the client gets a 502 that says why.
func TestProxyReportsAnUnreachableTarget(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	p := startProxy(t, url, Rates{}, 0)
	resp, err := http.Post(p.URL(), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "chaos proxy: forward:") {
		t.Errorf("status %d body %q, want 502 naming the forward failure", resp.StatusCode, body)
	}
}

func TestStartProxyRejectsABadTarget(t *testing.T) {
	if _, err := StartProxy("not a url", 1, Rates{}, 0, nil); err == nil || !strings.Contains(err.Error(), `target "not a url"`) {
		t.Errorf("error %v, want one naming the target", err)
	}
}

// Decisions depend on the seed and the request key only, and follow the
// rates.
func TestDecideIsSeededAndFollowsTheRates(t *testing.T) {
	run := func(seed uint64) []Fault {
		p := &Proxy{Seed: seed, Rates: DefaultRates, seen: map[string]int{}, counts: map[Fault]int{}}
		var out []Fault
		for i := range 20000 {
			out = append(out, p.decide(request{service: "dynamodb", operation: "PutItem", digest: string(rune('a' + i%50))}))
		}
		return out
	}
	a, b, c := run(1), run(1), run(2)
	same, differ := true, false
	counts := map[Fault]int{}
	for i := range a {
		same = same && a[i] == b[i]
		differ = differ || a[i] != c[i]
		counts[a[i]]++
	}
	if !same || !differ {
		t.Errorf("same seed same faults: %v; other seed other faults: %v", same, differ)
	}
	for f, rate := range map[Fault]float64{FaultServerError: DefaultRates.ServerError, FaultThrottle: DefaultRates.Throttle, FaultLostReply: DefaultRates.LostReply} {
		if got := float64(counts[f]) / 20000; got < rate*0.7 || got > rate*1.3 {
			t.Errorf("%s: %.4f of requests, want about %.4f", f, got, rate)
		}
	}
}

func TestDescribeReadsServiceOperationAndDigest(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"Key":{"digest":{"S":"sha256:`+hex+`"}}}`))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20261202/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x")
	r.Header.Set("X-Amz-Target", "DynamoDB_20120810.UpdateItem")
	body, _ := io.ReadAll(r.Body)
	got := describe(r, body)
	if got.service != "dynamodb" || got.operation != "UpdateItem" || got.digest != hex || got.protocol != protoJSON {
		t.Errorf("describe: %+v", got)
	}
}
