package daemon

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
)

// TestUpstreamOutageLogIsFolded: a whole daemon's proxy in front of an
// upstream that is down, 100 requests: the daemon's log holds a few
// "upstream failed" lines with a count, not one line per request.
func TestUpstreamOutageLogIsFolded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := crmKMS(ctx, t)
	down := testkit.FreeAddr(t) // nothing listens there: every request fails the same way
	listen := testkit.FreeAddr(t)

	logs := &testkit.Buffer{}
	cfg := testConfig(t)
	crmProxy(cfg, srv, listen, "http://"+down, time.Second)
	r := startOpts(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	encrypting(ctx, t, api.NewClient(r.socket))
	addr := listen
	for i := 0; i < 100; i++ {
		resp, err := http.Get("http://" + addr + "/records/" + string(rune('a'+i%26)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("request %d: %d, want 502", i, resp.StatusCode)
		}
	}
	r.stop() // the last count is written at stop
	n := strings.Count(string(logs.Bytes()), `msg="upstream failed"`)
	if n == 0 || n > 4 || !strings.Contains(string(logs.Bytes()), "repeated=99") {
		t.Fatalf("%d \"upstream failed\" lines for 100 failed requests, want 2 (the first, then repeated=99):\n%s", n, string(logs.Bytes()))
	}
}
