package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
)

// TestProbeRequestTimes prints how long each request of the first frame takes
// against a daemon with 100,000 keys. Only with KEYWARD_PROBE=1 (slow seeding).
func TestProbeRequestTimes(t *testing.T) {
	if os.Getenv("KEYWARD_PROBE") == "" {
		t.Skip("set KEYWARD_PROBE=1")
	}
	cfg := testConfig(t)
	runDaemon(t, cfg, bulkKeys(100_000))
	c := api.NewClient(cfg.SocketPath())
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		_, _ = c.Keys(ctx, api.KeyQuery{Sort: "name", Limit: 18})
		t1 := time.Now()
		_, _ = c.Status(ctx)
		t2 := time.Now()
		_, _ = c.Sources(ctx)
		t3 := time.Now()
		_, _ = c.Keys(ctx, api.KeyQuery{Sort: "name", Limit: 18, State: "active", Text: "bulk.key.9999"})
		t4 := time.Now()
		t.Logf("keys page %v · status %v · sources %v · filtered page %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3))
	}
}
