package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// callProxy stands between the functions and moto: it forwards every
// request and, while recording, counts it by AWS operation and keeps a copy
// (the floor replays the copies straight to moto).
type callProxy struct {
	target    *url.URL
	client    *http.Client
	srv       *http.Server
	addr      string
	recording atomic.Bool
	mu        sync.Mutex
	calls     map[string]int // "service.Operation" → requests
	imported  int            // findings in the BatchImportFindings requests
	kept      []keptRequest
}

// keptRequest is one request as the function sent it, signature included.
type keptRequest struct {
	// host is the Host the request was signed for (SigV4 signs it).
	method, host, path string
	header             http.Header
	body               []byte
}

func startCallProxy(target string) (*callProxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("call proxy: target %q is not a URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &callProxy{target: u, addr: ln.Addr().String(), calls: map[string]int{},
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *callProxy) URL() string { return "http://" + p.addr }

func (p *callProxy) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
}

func (p *callProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if p.recording.Load() {
		p.mu.Lock()
		op := operationOf(r, body)
		p.calls[op]++
		if op == "securityhub.BatchImportFindings" {
			p.imported += countFindings(body)
		}
		p.kept = append(p.kept, keptRequest{r.Method, r.Host, r.URL.RequestURI(), r.Header.Clone(), body})
		p.mu.Unlock()
	}
	resp, err := p.send(r.Context(), keptRequest{r.Method, r.Host, r.URL.RequestURI(), r.Header, body})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// send forwards one request to moto as it was signed.
func (p *callProxy) send(ctx context.Context, k keptRequest) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, k.method, p.target.Scheme+"://"+p.target.Host+k.path, bytes.NewReader(k.body))
	if err != nil {
		return nil, err
	}
	req.Header = k.header.Clone()
	req.Host = k.host
	req.ContentLength = int64(len(k.body))
	return p.client.Do(req)
}

// take stops recording and returns what was recorded, clearing it.
func (p *callProxy) take() (map[string]int, []keptRequest) {
	p.recording.Store(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	calls, kept := p.calls, p.kept
	p.calls, p.kept = map[string]int{}, nil
	return calls, kept
}

// operationOf names a request "service.Operation": the signing scope gives
// the service; the JSON protocols' X-Amz-Target, the query protocol's
// Action, or for REST (S3, Security Hub) the method and path give the
// operation.
func operationOf(r *http.Request, body []byte) string {
	service := "unknown"
	if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		if parts := strings.Split(strings.SplitN(cred, ",", 2)[0], "/"); len(parts) >= 4 {
			service = parts[3]
		}
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return service + "." + t[strings.LastIndexByte(t, '.')+1:]
	}
	if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
		return service + "." + v.Get("Action")
	}
	path := r.URL.Path
	switch service {
	case "s3":
		objectKey := strings.Count(strings.Trim(path, "/"), "/") >= 1
		switch {
		case r.Method == http.MethodPut && objectKey:
			return "s3.PutObject"
		case r.Method == http.MethodGet && objectKey:
			return "s3.GetObject"
		case r.Method == http.MethodHead:
			return "s3.HeadObject"
		case r.Method == http.MethodGet:
			return "s3.ListObjectsV2"
		}
	case "securityhub":
		switch {
		case strings.HasSuffix(path, "/findings/import"):
			return "securityhub.BatchImportFindings"
		case strings.HasSuffix(path, "/findings"):
			return "securityhub.GetFindings"
		}
	}
	return service + "." + r.Method + " " + path
}

// replay sends the kept requests straight to moto, workers at a time, and
// returns how long they took: the floor of the round trips the pipeline
// made. Replies are read and dropped; a replayed write may be refused (a
// conditional put already applied), which is a round trip all the same.
func (p *callProxy) replay(ctx context.Context, kept []keptRequest, workers int) time.Duration {
	start := time.Now()
	next := make(chan keptRequest)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				if resp, err := p.send(ctx, k); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	for _, k := range kept {
		next <- k
	}
	close(next)
	wg.Wait()
	return time.Since(start)
}

// findings returns how many findings the recorded imports carried, and
// clears the count.
func (p *callProxy) findings() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.imported
	p.imported = 0
	return n
}

// countFindings counts the findings of a BatchImportFindings request body.
func countFindings(body []byte) int {
	var req struct {
		Findings []json.RawMessage
	}
	if json.Unmarshal(body, &req) != nil {
		return 0
	}
	return len(req.Findings)
}
