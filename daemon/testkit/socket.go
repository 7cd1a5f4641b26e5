package testkit

import (
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
