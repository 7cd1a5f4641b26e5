package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/localapi"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// TestStatusDoesNotWaitForTheAgingSummary: the status's key counts come
// from the counts the store keeps, so a status asked before the aging
// summary was ever computed (the first request after a start, which at a
// million keys waited seconds for a full count) answers at once, exactly.
func TestStatusDoesNotWaitForTheAgingSummary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := storetest.Open(t, filepath.Join(dir, "keyward.db"))
	for _, src := range []string{"kms", "vault"} {
		if err := st.EnsureSource(ctx, src, "kmip", ""); err != nil {
			t.Fatal(err)
		}
	}
	var keys []engine.Key
	for _, name := range []string{"a.key.1", "a.key.2", "b.key.1"} {
		keys = append(keys, engine.Key{ID: "kms/" + name, Source: "kms", Name: name, Algorithm: "AES", State: engine.StateActive})
	}
	if _, err := st.Apply(ctx, store.Change{Source: "kms", Upsert: keys}); err != nil {
		t.Fatal(err)
	}
	// No runSummaries: the aging summary is never ready.
	d := &Daemon{cfg: &config.Config{DataDir: dir}, st: st, now: time.Now,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rctx, cancel := context.WithTimeout(api.WithCaller(ctx, api.Caller{User: "test", Role: api.RoleUser}), 2*time.Second)
	defer cancel()
	req := httptest.NewRequest(http.MethodGet, "/v1/status", nil).WithContext(rctx)
	w := httptest.NewRecorder()
	start := time.Now()
	localapi.New(localapi.Services{Daemon: d}).ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("status answered %d after %s: %s", w.Code, time.Since(start), w.Body)
	}
	var s api.Status
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Keys != 3 || len(s.Sources) != 2 || s.Sources[0].Keys != 3 || s.Sources[1].Keys != 0 {
		t.Fatalf("status counts: %d keys, sources %+v; want 3, kms 3, vault 0", s.Keys, s.Sources)
	}
}

// TestAgingTotalsAreExactAtOnce: a bucket filter's total and the aging
// summary are counted for the request from the store's kept dates: exact
// (no total_as_of) on the first request, at once after a change (no
// background count to wait for), and as the clock moves keys from one
// bucket into the next.
func TestAgingTotalsAreExactAtOnce(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var keys []engine.Key
	for i := 0; i < 120; i++ {
		created, expires := at.AddDate(0, 0, -3*i), at.AddDate(0, 0, 200-3*i)
		state := engine.StateActive
		if i%9 == 0 {
			state = engine.StateDestroyed
		}
		name := fmt.Sprintf("app.key.%d", i)
		k := engine.Key{ID: "kms/" + name, Source: "kms", Name: name, State: state, Created: &created}
		if i%4 != 0 {
			k.Expires = &expires
		}
		keys = append(keys, k)
	}
	if err := st.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(ctx, store.Change{Source: "kms", Upsert: keys}); err != nil {
		t.Fatal(err)
	}
	clock := at
	th := engine.DefaultThresholds()
	d := &Daemon{cfg: &config.Config{}, st: st, now: func() time.Time { return clock }, thresholds: th,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := localapi.New(localapi.Services{Daemon: d})
	get := func(path string, v any) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil).WithContext(api.WithCaller(ctx, api.Caller{User: "test", Role: api.RoleUser}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), v) != nil {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	check := func(when string) {
		t.Helper()
		want := map[engine.Bucket]int{}
		for _, k := range keys {
			want[engine.Classify(k, clock, th).Bucket]++
		}
		var sum report.AgingSummary
		get("/v1/reports/aging/summary", &sum)
		for _, b := range th.Buckets() {
			var p api.KeysPage
			get("/v1/keys?limit=5&aging="+string(b), &p)
			if p.Total != want[b] || p.TotalAsOf != nil {
				t.Fatalf("%s: aging=%s total %d (as of %v), want %d exactly", when, b, p.Total, p.TotalAsOf, want[b])
			}
		}
		for _, bc := range sum.Buckets {
			if bc.Count != want[bc.Bucket] {
				t.Fatalf("%s: summary %v, want %v", when, sum.Buckets, want)
			}
		}
	}
	check("first request")
	clock = at.AddDate(0, 0, 45) // keys cross into expired, expiring and overdue
	check("45 days later")
	keys[1].State = engine.StateCompromised
	keys[2].Expires = nil
	if _, err := st.Apply(ctx, store.Change{Source: "kms", Upsert: keys[1:3]}); err != nil {
		t.Fatal(err)
	}
	check("right after a change")
}
