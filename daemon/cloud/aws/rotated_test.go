package aws

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// TestAgingCountsFromTheLastRotation: an AWS key ages from its newest
// rotation in ListKeyRotations (the stand-in answers it; local-kms has
// none), not from its creation; a key never rotated ages from its
// creation; the history is read again only when the key's material moved.
func TestAgingCountsFromTheLastRotation(t *testing.T) {
	a, lk := newLocal(t)
	ctx := context.Background()
	st := storetest.New(t)
	src := cloud.NewSyncSource("aws-prod", a, time.Hour, nil)
	cloudtest.Attach(t, st, src)
	now := time.Now().UTC().Truncate(time.Second)
	ids := map[string]string{}
	// Made in the console (another client) before keyward first saw them.
	console := newAccount(t, LocalSettings(t, lk, "console"))
	for _, name := range []string{"recent", "old", "never"} {
		kv, err := console.Create(ctx, cloud.CreateRequest{Name: name, Type: "oct"})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = kv.Name
	}
	lk.AddAutomaticRotation(ids["recent"], now.Add(-500*24*time.Hour))
	lk.AddAutomaticRotation(ids["recent"], now.Add(-20*24*time.Hour))
	lk.AddAutomaticRotation(ids["old"], now.Add(-400*24*time.Hour))
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	// A year's rotation period, seen 300 days on: "recent" rotated 320
	// days before, "old" 700, "never" was created 300 days before.
	at, th := now.Add(300*24*time.Hour), engine.DefaultThresholds()
	want := map[string]engine.Bucket{"recent": engine.BucketHealthy, "old": engine.BucketOverdue, "never": engine.BucketHealthy}
	for name, b := range want {
		k, err := st.Key(ctx, engine.KeyID("aws-prod", ids[name], Version))
		if err != nil {
			t.Fatal(err)
		}
		if got := engine.Classify(k, at, th); got.Bucket != b {
			t.Errorf("%s (rotated %v, created %v): %s (%s), want %s", name, k.Rotated, k.Created, got.Bucket, got.Reason, b)
		}
		page, err := st.Keys(ctx, store.KeyQuery{Source: "aws-prod", Aging: b, Now: at, Thresholds: th, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range page.Keys {
			found = found || r.Name == ids[name]
		}
		if !found {
			t.Errorf("%s is not in the store's %s bucket", name, b)
		}
	}
	if k, _ := st.Key(ctx, engine.KeyID("aws-prod", ids["recent"], Version)); k.Rotated == nil || !k.Rotated.Equal(now.Add(-20*24*time.Hour)) {
		t.Errorf("recent: rotated %v, want its newest rotation %v", k.Rotated, now.Add(-20*24*time.Hour))
	}
	before := a.Calls()["ListKeyRotations"]
	src.FullEvery = 1
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if n := a.Calls()["ListKeyRotations"] - before; n != 0 {
		t.Errorf("a sync with no material changed read %d rotation histories", n)
	}
}
