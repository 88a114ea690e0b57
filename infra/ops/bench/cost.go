package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"ecrscanner/infra/ops/stack"
)

// enrichAssumed is the enrichment function's duration per invocation in the
// model: the Pipe invokes it in moto's stead, outside the measured pollers.
const enrichAssumed = 10 * time.Millisecond

// costInputs are the burst's measured quantities the model prices.
type costInputs struct {
	scans int
	// per function logical ID
	invocations map[string]int
	billed      map[string]time.Duration
	memoryMB    map[string]int
	arm64       map[string]bool
	calls       map[string]int // "service.Operation"
	// findings imported into Security Hub, messages handled from queues,
	// events the Pipe put on the bus.
	findings, messages, busEvents int
}

// costLine is one service's share of the cost of the burst, in dollars.
type costLine struct {
	service string
	dollars float64
}

// priceBurst prices what the burst used. Assumptions, each an upper bound
// where it is not measured: every DynamoDB call is one request unit (the
// items are under 1 KB); SQS is one send per message plus a receive and a
// batch delete per invocation (empty polls, which depend on traffic, are
// left out); the Pipe invokes the enrichment once per bus event for
// enrichAssumed; every scan is one sampled X-Ray trace.
func priceBurst(in costInputs) []costLine {
	var lambda float64
	invocations := 0
	for fn, n := range in.invocations {
		gbs := in.billed[fn].Seconds() * float64(in.memoryMB[fn]) / 1024
		rate := lambdaGBSecondX86
		if in.arm64[fn] {
			rate = lambdaGBSecondARM
		}
		lambda += float64(n)*lambdaRequest + gbs*rate
		invocations += n
	}
	lambda += float64(in.busEvents) * (lambdaRequest + enrichAssumed.Seconds()*float64(in.memoryMB["EnrichFunction"])/1024*lambdaGBSecondARM)
	var dynamo, s3, sqs, sns, secrets float64
	for op, n := range in.calls {
		service, name, _ := strings.Cut(op, ".")
		switch {
		case service == "dynamodb" && isWrite(name):
			dynamo += float64(n) * dynamoWriteUnit
		case service == "dynamodb":
			dynamo += float64(n) * dynamoReadUnit
		case service == "s3" && (strings.HasPrefix(name, "Put") || strings.HasPrefix(name, "List") || strings.HasPrefix(name, "Copy")):
			s3 += float64(n) * s3PutRequest
		case service == "s3":
			s3 += float64(n) * s3GetRequest
		case service == "sqs":
			sqs += float64(n) * sqsRequest
		case service == "sns" && name == "Publish":
			sns += float64(n) * snsPublish
		case service == "secretsmanager":
			secrets += float64(n) * secretsAPICall
		}
	}
	sqs += float64(in.messages+2*invocations) * sqsRequest
	return []costLine{
		{"Lambda", lambda}, {"DynamoDB", dynamo}, {"S3", s3}, {"SQS", sqs}, {"SNS", sns},
		{"EventBridge", float64(in.busEvents) * eventBridgeEvent},
		{"Pipes", float64(in.busEvents) * pipesRequest},
		{"X-Ray", float64(in.scans) * xrayTrace},
		{"Security Hub", float64(in.findings) * securityHubIngestion},
		{"Secrets Manager", secrets},
	}
}

func isWrite(op string) bool {
	for _, p := range []string{"Put", "Update", "Delete", "BatchWrite", "TransactWrite"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

// measureCost prices the pipeline measure's burst per 1,000 scans, beside
// Amazon Inspector's price for scanning 1,000 images on push.
func (b *bench) measureCost(context.Context) section {
	res := b.pipeline
	if res == nil || res.scans == 0 {
		return section{rows: []Row{errRow("cost per 1,000 scans", fmt.Errorf("needs the pipeline measure's burst (run with -only pipeline,cost)"))}}
	}
	in, err := costInputsOf(res)
	if err != nil {
		return section{rows: []Row{errRow("cost per 1,000 scans", err)}}
	}
	lines := priceBurst(in)
	per := 1000 / float64(res.scans)
	total := 0.0
	var parts []string
	sort.Slice(lines, func(i, j int) bool { return lines[i].dollars > lines[j].dollars })
	for _, l := range lines {
		total += l.dollars * per
		parts = append(parts, fmt.Sprintf("%s $%.4f", l.service, l.dollars*per))
	}
	row := ratioRow("cost per 1,000 scans (excl. QScanner compute)", total, 1000*inspectorECRImage, "$%.4f", 0)
	row.Floor += " (Inspector, 1,000 images on push)"
	return section{rows: []Row{row}, notes: []string{
		fmt.Sprintf("cost: %d push events per scan as in the burst; by service per 1,000 scans: %s", res.burstEvents/max(res.burstDigests, 1), strings.Join(parts, ", ")),
		"cost: us-east-1 list prices read 2026-12-02 (infra/ops/bench/prices.go cites each page), no free tier; model and assumptions in the README's \"Performance and cost\"",
	}}
}

// costInputsOf reads the functions' memory settings and architectures from
// the template beside the burst's figures.
func costInputsOf(res *pipelineResult) (costInputs, error) {
	t, err := stack.Load()
	if err != nil {
		return costInputs{}, err
	}
	in := costInputs{scans: res.scans, invocations: res.invocations, billed: res.billed, calls: res.calls,
		memoryMB: map[string]int{}, arm64: map[string]bool{}, busEvents: res.busEvents, findings: res.findings, messages: res.messages}
	for _, f := range t.Functions() {
		mem, err := memorySize(t, f.LogicalID)
		if err != nil {
			return costInputs{}, err
		}
		in.memoryMB[f.LogicalID] = mem
		in.arm64[f.LogicalID] = deployArch(f.HandlerDir) == "arm64"
	}
	return in, nil
}

// memorySize is a function's MemorySize: a number, or a parameter's default.
func memorySize(t *stack.Template, logicalID string) (int, error) {
	v := t.Resources[logicalID].Properties["MemorySize"]
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["Ref"].(string); ok {
			v = t.Parameters[ref].Default
		}
	}
	switch n := v.(type) {
	case int:
		return n, nil
	case float64:
		return int(n), nil
	case string:
		if i, err := strconv.Atoi(n); err == nil {
			return i, nil
		}
	}
	return 0, fmt.Errorf("function %s: MemorySize %v is neither a number nor a parameter with a default", logicalID, v)
}
