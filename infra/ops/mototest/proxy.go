package mototest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// Interpose starts a loopback proxy in front of the shared moto and returns
// its endpoint, for a test that needs a fault between an SDK client and moto.
// handle sees every request; forward passes it to moto and writes moto's
// answer to w (or, with a recorder, nowhere). The proxy stops with the test.
func Interpose(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, forward func(http.ResponseWriter))) string {
	t.Helper()
	target, err := url.Parse(Endpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(w, r, func(to http.ResponseWriter) { proxy.ServeHTTP(to, r) })
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// LoseReply has moto handle the request, then drops the client's connection
// without an answer: the write landed, the client sees a transport error.
func LoseReply(w http.ResponseWriter, forward func(http.ResponseWriter)) {
	forward(httptest.NewRecorder())
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
}
