package api

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/keyward/keyward/engine"
	"testing"
)

// TestClientKeepsOneConnection: a client asking one request after another
// uses one connection, as the daemon counts them per user (64 at most).
// An answer decoded but not read to its end (the encoder's last newline,
// a chunked body's last chunk) made the transport drop the connection and
// dial a new one for every request; under 50 clients the closed ones not
// yet released by the daemon made reads refused ("uid 0 already has 64
// connections").
func TestClientKeepsOneConnection(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "k.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	big := strings.Repeat("k", 8<<10) // past the decoder's first read
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/v1/keys":
				WriteKeysPage(w, http.StatusOK, KeysPage{Keys: []engine.Key{{ID: "a/" + big, Name: big}}, Total: 1})
			default:
				WriteJSON(w, http.StatusOK, map[string]string{"name": big})
			}
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := NewClient(sock)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if _, err := c.Keys(ctx, KeyQuery{Limit: 50}); err != nil {
			t.Fatal(err)
		}
		var out map[string]string
		if err := c.Do(ctx, http.MethodGet, "/other", nil, nil, &out); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("40 requests one after another opened %d connections, want 1", n)
	}
}
