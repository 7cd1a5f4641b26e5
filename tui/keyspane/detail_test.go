package keyspane

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/styles"
)

// A purged key's scheduled purge date is history: the detail says when it
// was purged, never "purge at … (in 89d)". A key still soft-deleted shows
// the date it waits for.
func TestDetailPurgeDate(t *testing.T) {
	ctx := &common.Context{Ctx: context.Background(), Styles: styles.Default(), Keys: common.DefaultKeyMap(),
		Now: func() time.Time { return now }}
	deleted, purgeAt, purged := now.Add(-time.Hour), now.Add(89*24*time.Hour), now.Add(-time.Minute)
	k := engine.Key{ID: "vault/k/1", Source: "vault", Name: "k", State: engine.StatePurged,
		Deleted: &deleted, PurgeAt: &purgeAt, Destroyed: &purged}
	view := func(k engine.Key) string {
		d := newDetailView(ctx, k)
		d.setSize(100, 40)
		d.set(&api.KeyDetail{Key: k}, nil)
		return d.vp.View()
	}
	v := view(k)
	if strings.Contains(v, "purge at") || strings.Contains(v, "in 89d") {
		t.Errorf("a purged key shows a purge to come:\n%s", v)
	}
	if !strings.Contains(v, "purged       2026-11-23 11:59 UTC (1m ago)") {
		t.Errorf("a purged key does not say when it was purged:\n%s", v)
	}
	k.State, k.Destroyed = engine.StateDeleted, nil
	if v := view(k); !strings.Contains(v, "purge at     2027-02-20 12:00 UTC (in 89d)") {
		t.Errorf("a soft-deleted key does not show its purge date:\n%s", v)
	}
}
