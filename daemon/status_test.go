package daemon

import (
	"context"
	"encoding/json"
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
	"github.com/keyward/keyward/store"
)

// TestStatusDoesNotWaitForTheAgingSummary: the status's key counts come
// from the counts the store keeps, so a status asked before the aging
// summary was ever computed (the first request after a start, which at a
// million keys waited seconds for a full count) answers at once, exactly.
func TestStatusDoesNotWaitForTheAgingSummary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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

// TestAgingTotalSaysWhenItIsAnEstimate: a bucket filter's total read from
// a summary too costly to recount per request carries the instant it was
// counted (total_as_of); a cheap one is recounted and carries none.
func TestAgingTotalSaysWhenItIsAnEstimate(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, cost := range []time.Duration{time.Millisecond, 3 * time.Second} {
		d := &Daemon{cfg: &config.Config{}, st: st, now: func() time.Time { return at.Add(time.Minute) },
			log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		d.summary.init()
		d.summary.val = map[string]map[engine.Bucket]int{"kms": {engine.BucketExpired: 42}}
		d.summary.at, d.summary.cost = at, cost
		close(d.summary.ready)
		req := httptest.NewRequest(http.MethodGet, "/v1/keys?aging=expired", nil).WithContext(
			api.WithCaller(ctx, api.Caller{User: "test", Role: api.RoleUser}))
		w := httptest.NewRecorder()
		localapi.New(localapi.Services{Daemon: d}).ServeHTTP(w, req)
		var p api.KeysPage
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != http.StatusOK {
			t.Fatalf("cost %s: %d %s", cost, w.Code, w.Body)
		}
		estimated := cost >= cheapSummary
		if p.Total != 42 || (p.TotalAsOf != nil) != estimated || (estimated && !p.TotalAsOf.Equal(at)) {
			t.Fatalf("cost %s: total %d as of %v; want 42, as of %s: %v", cost, p.Total, p.TotalAsOf, at, estimated)
		}
	}
}
