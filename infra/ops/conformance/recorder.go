// Package conformance checks the requests the functions' adapters send
// against AWS's own service models and documented limits, without an AWS
// account: the real adapters, with SDK clients built as the functions build
// them (infra/awsconfig), talk to a loopback server that records each
// request and answers minimally; validate.py then reads each request back
// into the operation's parameters and checks them with botocore's
// ParamValidator and the model's bounds. Operator/test-only: no function
// links it (handlers/depcheck_test.go).
package conformance

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"ecrscanner/infra/awsconfig"
)

// Request is one captured request, as validate.py reads it.
type Request struct {
	Service string            `json:"service"` // botocore's service name
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   string            `json:"query"`
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"body_b64"`
}

// Recorder is a loopback server standing in for one AWS service.
type Recorder struct {
	service string
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []Request
}

// NewRecorder starts a recorder for service (botocore's name: "sns",
// "securityhub", "ecr", "dynamodb", "s3", "events"), closed when t ends.
func NewRecorder(t testing.TB, service string) *Recorder {
	t.Helper()
	r := &Recorder{service: service}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// Requests returns what was captured so far.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Config is the aws.Config a function would load (awsconfig.Load) with its
// endpoint set to the recorder: AWS_ENDPOINT_URL, static credentials, no
// retries, no shared files. It sets process environment through t.Setenv,
// so a test using it cannot run in parallel.
func (r *Recorder) Config(t *testing.T) aws.Config {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDCONFORMANCE", "AWS_SECRET_ACCESS_KEY": "conformance",
		"AWS_SESSION_TOKEN": "", "AWS_ENDPOINT_URL": r.srv.URL, "AWS_MAX_ATTEMPTS": "1",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PROFILE": "",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	return cfg
}

func (r *Recorder) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if strings.Contains(req.Header.Get("Content-Encoding"), "aws-chunked") {
		body = dechunk(body)
	}
	headers := map[string]string{}
	for k := range req.Header {
		headers[k] = req.Header.Get(k)
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, Request{Service: r.service, Method: req.Method, Path: req.URL.EscapedPath(), Query: req.URL.RawQuery, Headers: headers, Body: body})
	r.mu.Unlock()
	r.answer(w, req)
}

// answer writes the smallest response the SDK reads as success.
func (r *Recorder) answer(w http.ResponseWriter, req *http.Request) {
	switch {
	case r.service == "sns":
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>`)
	case r.service == "s3":
		w.Header().Set("ETag", `"conformance"`)
		w.WriteHeader(http.StatusOK)
	case req.Header.Get("X-Amz-Target") != "":
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		// DynamoDB's client checks the body against this header.
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte("{}"))), 10))
		fmt.Fprint(w, "{}")
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "{}")
	}
}

// dechunk reads an aws-chunked body (<hex size>[;chunk-signature=…]\r\n
// <data>\r\n … 0\r\n<trailers>) back into its data.
func dechunk(b []byte) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			break
		}
		sizeHex, _, _ := bytes.Cut(line, []byte(";"))
		var n int
		if _, err := fmt.Sscanf(string(sizeHex), "%x", &n); err != nil || n == 0 || n > len(rest) {
			break
		}
		out.Write(rest[:n])
		b = bytes.TrimPrefix(rest[n:], []byte("\r\n"))
	}
	return out.Bytes()
}
