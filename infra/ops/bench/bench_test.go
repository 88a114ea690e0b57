package main

import (
	"bytes"
	"io"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
)

func TestVerdict(t *testing.T) {
	tests := []struct {
		row  Row
		want string
	}{
		{ratioRow("x", 1.2, 1, "%.1f", 1.3), "PASS"},
		{ratioRow("x", 1.3, 1, "%.1f", 1.3), "PASS"},
		{ratioRow("x", 1.4, 1, "%.1f", 1.3), "OVER"},
		{ratioRow("x", 5, 1, "%.1f", 0), "info"},
		{errRow("x", io.EOF), "ERROR"},
	}
	for _, tc := range tests {
		if got := tc.row.Verdict(); got != tc.want {
			t.Errorf("%+v: verdict %s, want %s", tc.row, got, tc.want)
		}
	}
}

func TestPrintTableShowsEachRowOnce(t *testing.T) {
	var out bytes.Buffer
	PrintTable(&out, []Row{
		ratioRow("binary size scan", 9.6, 7.0, "%.1f MB", 1.3),
		{Measure: "pipeline p95", Figure: "2.10 s"},
		errRow("memory", io.ErrUnexpectedEOF),
		ratioRow("cost", 0.33, 90, "$%.2f", 0),
	})
	text := out.String()
	for _, want := range []string{"MEASURE", "binary size scan", "9.6 MB", "7.0 MB", "1.37×", "≤1.3×", "OVER", "pipeline p95", "info", "unexpected EOF", "ERROR", "0.0037×"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "\n"); n != 5 {
		t.Errorf("%d lines, want a header and four rows:\n%s", n, text)
	}
}

func TestParseMemoryBench(t *testing.T) {
	out := []byte("goos: linux\nBenchmarkAlertMemory-2   \t       1\t1234567 ns/op\t       256.0 mem-setting-MB\t        61.20 peak-MB\nPASS\n" +
		"BenchmarkSecurityHubMemory-2 1 99 ns/op 120.5 peak-MB 512 mem-setting-MB\n" +
		"BenchmarkTagMemory-2\ntime=x level=INFO msg=\"scan summary attached\"\n       1\t4056518245 ns/op\t        12.50 peak-MB\t       256.0 mem-setting-MB\n")
	got := parseMemoryBench(out)
	if len(got) != 3 || got[0] != (memoryPeak{"alert", 61.2, 256}) || got[1] != (memoryPeak{"securityhub", 120.5, 512}) || got[2] != (memoryPeak{"tag", 12.5, 256}) {
		t.Errorf("parsed %+v", got)
	}
}

func TestParseInitTraceCostliestFirst(t *testing.T) {
	out := "init internal/bytealg @0.005 ms, 0 ms clock, 0 bytes, 0 allocs\n" +
		"init github.com/aws/aws-sdk-go/aws/endpoints @1.2 ms, 6.5 ms clock, 3000000 bytes, 20000 allocs\n" +
		"init ecrscanner/events @9 ms, 0.8 ms clock, 100 bytes, 2 allocs\n"
	got := parseInitTrace(out)
	if len(got) != 3 || got[0].pkg != "github.com/aws/aws-sdk-go/aws/endpoints" || got[0].ms != 6.5 || got[1].pkg != "ecrscanner/events" {
		t.Errorf("parsed %+v", got)
	}
}

func TestOperationOf(t *testing.T) {
	auth := func(service string) string {
		return "AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/" + service + "/aws4_request, SignedHeaders=host, Signature=x"
	}
	tests := []struct {
		method, path, service, target, body, want string
	}{
		{"POST", "/", "dynamodb", "DynamoDB_20120810.UpdateItem", "{}", "dynamodb.UpdateItem"},
		{"POST", "/", "sns", "", "Action=Publish&TopicArn=x", "sns.Publish"},
		{"PUT", "/bucket/reports/a.json.gz", "s3", "", "", "s3.PutObject"},
		{"GET", "/bucket/reports/a.json.gz", "s3", "", "", "s3.GetObject"},
		{"GET", "/bucket?list-type=2", "s3", "", "", "s3.ListObjectsV2"},
		{"POST", "/findings/import", "securityhub", "", "{}", "securityhub.BatchImportFindings"},
		{"POST", "/findings", "securityhub", "", "{}", "securityhub.GetFindings"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		r.Header.Set("Authorization", auth(tc.service))
		if tc.target != "" {
			r.Header.Set("X-Amz-Target", tc.target)
		}
		if got := operationOf(r, []byte(tc.body)); got != tc.want {
			t.Errorf("%s %s (%s): %q, want %q", tc.method, tc.path, tc.service, got, tc.want)
		}
	}
}

func TestCountFindings(t *testing.T) {
	if n := countFindings([]byte(`{"Findings":[{"Id":"a"},{"Id":"b"}]}`)); n != 2 {
		t.Errorf("%d findings, want 2", n)
	}
	if n := countFindings([]byte(`not json`)); n != 0 {
		t.Errorf("%d findings in garbage, want 0", n)
	}
}

func TestPercentileAndMedian(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 20; i++ {
		ds = append(ds, time.Duration(21-i)*time.Second)
	}
	if p := percentile(ds, 50); p != 10*time.Second {
		t.Errorf("p50 %v, want 10s", p)
	}
	if p := percentile(ds, 95); p != 19*time.Second {
		t.Errorf("p95 %v, want 19s", p)
	}
	if m := median([]time.Duration{3, 1, 2}); m != 2 {
		t.Errorf("median %v, want 2", m)
	}
	if p := percentile(nil, 95); p != 0 {
		t.Errorf("p95 of nothing %v", p)
	}
}

func TestBurstEventsCoverEveryDigest(t *testing.T) {
	refs := []domain.ImageRef{{Digest: "sha256:a"}, {Digest: "sha256:b"}, {Digest: "sha256:c"}}
	got := burstEvents(refs, 10)
	count := map[domain.Digest]int{}
	for _, r := range got {
		count[r.Digest]++
	}
	if len(got) != 10 || count["sha256:a"] != 4 || count["sha256:b"] != 3 || count["sha256:c"] != 3 {
		t.Errorf("events per digest %v over %d events", count, len(got))
	}
}

func TestCountDigests(t *testing.T) {
	log := `{"argv":["image","x@sha256:a"]}` + "\n" + `{"argv":["image","y@sha256:a"]}` + "\n" + `{"argv":["image","x@sha256:b"]}` + "\n"
	got := countDigests(log, []domain.Digest{"sha256:a", "sha256:b", "sha256:c"})
	if got["sha256:a"] != 2 || got["sha256:b"] != 1 || got["sha256:c"] != 0 {
		t.Errorf("counted %v", got)
	}
}

func TestPriceBurst(t *testing.T) {
	in := costInputs{
		scans:       1,
		invocations: map[string]int{"ScanFunction": 1, "TagFunction": 2},
		billed:      map[string]time.Duration{"ScanFunction": time.Second, "TagFunction": 2 * time.Second},
		memoryMB:    map[string]int{"ScanFunction": 2048, "TagFunction": 256, "EnrichFunction": 128},
		arm64:       map[string]bool{"TagFunction": true},
		calls:       map[string]int{"dynamodb.UpdateItem": 2, "dynamodb.GetItem": 4, "s3.PutObject": 1, "s3.GetObject": 10, "sns.Publish": 1, "ecr.TagResource": 3},
		findings:    100, messages: 5, busEvents: 2,
	}
	got := map[string]float64{}
	for _, l := range priceBurst(in) {
		got[l.service] = l.dollars
	}
	lambda := 3*lambdaRequest + 2*lambdaGBSecondX86 + 0.5*lambdaGBSecondARM + 2*(lambdaRequest+0.01*0.125*lambdaGBSecondARM)
	want := map[string]float64{
		"Lambda": lambda, "DynamoDB": 2*dynamoWriteUnit + 4*dynamoReadUnit, "S3": s3PutRequest + 10*s3GetRequest,
		"SQS": (5 + 2*3) * sqsRequest, "SNS": snsPublish, "EventBridge": 2 * eventBridgeEvent, "Pipes": 2 * pipesRequest,
		"X-Ray": xrayTrace, "Security Hub": 100 * securityHubIngestion, "Secrets Manager": 0,
	}
	for k, v := range want {
		if math.Abs(got[k]-v) > 1e-12 {
			t.Errorf("%s: $%g, want $%g", k, got[k], v)
		}
	}
}

func TestParseFlagsRefusesNonsense(t *testing.T) {
	for _, args := range [][]string{{"-runs", "0"}, {"-pushes", "-1"}, {"-burst-events", "10", "-burst-digests", "20"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	o, err := parseFlags([]string{"-only", "size, ingest"}, io.Discard)
	if err != nil || !o.only["size"] || !o.only["ingest"] || len(o.only) != 2 || o.runs != 11 || o.burstEvents != 150 || o.burstDigests != 30 || o.pushes != 15 {
		t.Errorf("parsed %+v, %v", o, err)
	}
}

// TestCostInputsReadTheTemplate holds the model to the template: every
// function has a memory setting, the scan function's from its parameter.
func TestCostInputsReadTheTemplate(t *testing.T) {
	in, err := costInputsOf(&pipelineResult{scans: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.memoryMB) < 6 {
		t.Errorf("memory settings of %d functions, want every function's: %v", len(in.memoryMB), in.memoryMB)
	}
	for fn, mb := range in.memoryMB {
		if mb < 128 {
			t.Errorf("%s: memory %d MB", fn, mb)
		}
	}
	if in.memoryMB["ScanFunction"] != 2048 || in.arm64["ScanFunction"] || !in.arm64["TagFunction"] {
		t.Errorf("scan function %d MB arm64=%v, tag arm64=%v", in.memoryMB["ScanFunction"], in.arm64["ScanFunction"], in.arm64["TagFunction"])
	}
}
