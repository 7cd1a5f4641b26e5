package testkit

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

// ServeUnix serves h over HTTP on a real Unix socket in a new temporary
// directory until the test ends, and returns the socket's path: a stand-in
// daemon for a client's test (one that answers slowly, cuts a stream short,
// or serves one route with a canned answer).
func ServeUnix(tb testing.TB, h http.Handler) string {
	tb.Helper()
	sock := filepath.Join(tb.TempDir(), "keyward.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	return sock
}

// UnixClient is a plain HTTP client whose every request goes to the Unix
// socket at path, whatever the URL's host ("http://keyward/v1/status"):
// for a test that speaks raw HTTP to a daemon (headers, bodies, status
// lines the API client would not send or would hide).
func UnixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
}

// FreeAddr is an address of 127.0.0.1 ("127.0.0.1:port") that nothing
// listens on: it was free a moment ago. For a server the test is about to
// start there, or for a peer that is down.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
