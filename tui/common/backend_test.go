package common_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/tui/common"
)

// TestUnserved: over a real socket, the daemon's answer to a route it does
// not serve is Unserved (the pane offers nothing), and a 404 for a thing
// that does not exist on a served route is not (the pane says so).
func TestUnserved(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/keys/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such key %q", "k1")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such endpoint %s %s (the API is under /%s/)", r.Method, r.URL.Path, api.Version)
	})
	sock := testkit.ServeUnix(t, mux)
	c := api.NewClient(sock)
	var b common.Backend = c
	_, err := b.AgingReport(context.Background(), api.ReportQuery{})
	if !common.Unserved(err) {
		t.Fatalf("unserved route: Unserved(%v) = false", err)
	}
	_, err = b.Key(context.Background(), "k1")
	if err == nil || common.Unserved(err) {
		t.Fatalf("missing key: Unserved(%v) = true or no error", err)
	}
}
