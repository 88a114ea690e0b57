package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"ecrscanner/infra/attr"
)

// Fault is what the proxy does to one request.
type Fault string

const (
	FaultNone Fault = "none"
	// FaultServerError answers 5xx in the service's own error shape without
	// forwarding: the request never reached the service.
	FaultServerError Fault = "server_error"
	// FaultThrottle answers the service's throttling error without
	// forwarding.
	FaultThrottle Fault = "throttle"
	// FaultDelay holds the request for Proxy.Delay (longer than a function's
	// timeout) and then forwards it: the client gave up, the write may still
	// land.
	FaultDelay Fault = "delay"
	// FaultLostReply forwards the request, lets the service act on it, and
	// then drops the connection: the write landed, the client sees an error.
	FaultLostReply Fault = "lost_reply"
)

// Rates are the per-request probabilities of each fault.
type Rates struct {
	ServerError, Throttle, Delay, LostReply float64
}

// DefaultRates fault about one request in thirteen. The SDK's standard
// retryer makes three attempts, so most faults are retried away inside one
// call; some exhaust them and reach the handlers' own retries.
var DefaultRates = Rates{ServerError: 0.025, Throttle: 0.03, Delay: 0.002, LostReply: 0.025}

// Proxy is a loopback reverse proxy in front of moto that injects faults by a
// seeded decision per request. The functions reach moto through it
// (AWS_ENDPOINT_URL); the harness reads moto directly.
type Proxy struct {
	Seed  uint64
	Rates Rates
	Delay time.Duration
	// Logger receives one line per injected fault.
	Logger *slog.Logger

	target *url.URL
	client *http.Client
	srv    *http.Server
	addr   string
	mu     sync.Mutex
	seen   map[string]int // occurrences per request key
	counts map[Fault]int
	total  int
}

// StartProxy serves the proxy on a loopback port in front of target.
func StartProxy(target string, seed uint64, rates Rates, delay time.Duration, logger *slog.Logger) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("chaos proxy: target %q is not a URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("chaos proxy: listen: %w", err)
	}
	p := &Proxy{
		Seed: seed, Rates: rates, Delay: delay, Logger: logger, target: u,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		addr:   ln.Addr().String(), seen: map[string]int{}, counts: map[Fault]int{},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL is the endpoint to give the functions.
func (p *Proxy) URL() string { return "http://" + p.addr }

// Counts returns how many requests saw each fault, and the total proxied.
func (p *Proxy) Counts() (map[Fault]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Fault]int, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out, p.total
}

// Close stops the proxy.
func (p *Proxy) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "chaos proxy: read request: "+err.Error(), http.StatusBadGateway)
		return
	}
	req := describe(r, body)
	fault := p.decide(req)
	if fault != FaultNone && p.Logger != nil {
		p.Logger.Info("chaos fault", slog.String("fault", string(fault)), slog.String("service", req.service),
			slog.String("operation", req.operation), slog.String(attr.ImageDigest, req.digest))
	}
	switch fault {
	case FaultServerError, FaultThrottle:
		writeError(w, req, fault)
		return
	case FaultDelay:
		time.Sleep(p.Delay)
	}
	resp, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "chaos proxy: forward: "+err.Error(), http.StatusBadGateway)
		return
	}
	if fault == FaultLostReply {
		dropConnection(w)
		return
	}
	for k, vs := range resp.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// forward sends the request to moto, detached from the client: a request
// held past the client's deadline still lands, as it may in AWS.
func (p *Proxy) forward(r *http.Request, body []byte) (reply, error) {
	out, err := http.NewRequestWithContext(context.Background(), r.Method, p.target.Scheme+"://"+p.target.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host // the signature covers the host header
	out.ContentLength = int64(len(body))
	resp, err := p.client.Do(out)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// dropConnection closes the client's connection without a reply.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// No hijacking (HTTP/2): abort the handler, which resets the stream.
	panic(http.ErrAbortHandler)
}

// request is what the proxy knows of a request to decide its fault.
type request struct {
	service, operation, digest string
	protocol                   protocol
}

var (
	credentialRE = regexp.MustCompile(`Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request`)
	hexDigestRE  = regexp.MustCompile(`[0-9a-f]{64}`)
	actionRE     = regexp.MustCompile(`(?:^|&)Action=([A-Za-z]+)`)
)

// describe reads the service from the SigV4 credential scope, the operation
// from X-Amz-Target, the query Action or the method, and the first image
// digest (hex) named in the path or body.
func describe(r *http.Request, body []byte) request {
	req := request{service: "unknown"}
	if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		req.service = m[1]
	}
	target := r.Header.Get("X-Amz-Target")
	ct := r.Header.Get("Content-Type")
	switch {
	case req.service == "s3":
		req.protocol, req.operation = protoS3, r.Method
	case target != "":
		req.protocol = protoJSON
		req.operation = target[strings.LastIndex(target, ".")+1:]
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		req.protocol = protoQuery
		if m := actionRE.FindSubmatch(body); m != nil {
			req.operation = string(m[1])
		}
	default:
		req.protocol, req.operation = protoRESTJSON, r.Method+" "+firstSegment(r.URL.Path)
	}
	if d := hexDigestRE.Find([]byte(r.URL.Path)); d != nil {
		req.digest = string(d)
	} else if d := hexDigestRE.Find(body); d != nil {
		req.digest = string(d)
	}
	return req
}

func firstSegment(path string) string {
	path = strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return path
}

// decide picks the fault for the n-th request with req's key: a hash of the
// seed and (service, operation, digest, n), so a digest's faults do not
// depend on how its work interleaves with other digests'.
func (p *Proxy) decide(req request) Fault {
	key := req.service + "|" + req.operation + "|" + req.digest
	p.mu.Lock()
	n := p.seen[key]
	p.seen[key] = n + 1
	p.total++
	p.mu.Unlock()
	f := pick(unit(p.Seed, fmt.Sprintf("%s#%d", key, n)), p.Rates)
	p.mu.Lock()
	p.counts[f]++
	p.mu.Unlock()
	return f
}

// unit hashes the seed and key to a number in [0,1). SHA-256, not a fast
// hash: keys differ only in their last characters (the occurrence count),
// which FNV's high bits barely notice.
func unit(seed uint64, key string) float64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	sum := sha256.Sum256(append(b[:], key...))
	return float64(binary.LittleEndian.Uint64(sum[:8])>>11) / float64(1<<53)
}

// pick maps u in [0,1) onto the rates, in a fixed order.
func pick(u float64, r Rates) Fault {
	for _, c := range []struct {
		f    Fault
		rate float64
	}{{FaultServerError, r.ServerError}, {FaultThrottle, r.Throttle}, {FaultDelay, r.Delay}, {FaultLostReply, r.LostReply}} {
		if u < c.rate {
			return c.f
		}
		u -= c.rate
	}
	return FaultNone
}
