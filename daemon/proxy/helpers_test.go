package proxy

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/proxy/proxytest"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// ring wraps a real keyring.Rings and plays the KMIP poller: each rotate
// adds a new Active generation named app.key.N, as a KMS would after a
// rotation, and re-applies the whole candidate list.
type ring struct {
	t     testing.TB
	mu    sync.Mutex
	rings *keyring.Rings
	cands map[string][]keyring.Candidate
	mats  map[string][]byte
}

func newRing(t testing.TB, capacity int, apps ...string) *ring {
	r := &ring{t: t, rings: keyring.NewRings(), cands: map[string][]keyring.Candidate{}, mats: map[string][]byte{}}
	for _, a := range apps {
		r.rings.Configure(a, a+".key.*", capacity)
		r.rotate(a)
	}
	t.Cleanup(r.rings.Close)
	return r
}

func (r *ring) rotate(app string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.cands[app])
	uid := fmt.Sprintf("%s-%d", app, n)
	m := make([]byte, 32)
	rand.Read(m)
	r.mats[uid] = m
	r.cands[app] = append(r.cands[app], keyring.Candidate{UID: uid, Name: fmt.Sprintf("%s.key.%d", app, n), State: engine.StateActive})
	r.applyLocked(app)
}

// deactivateAll leaves app with no Active generation.
func (r *ring) deactivateAll(app string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.cands[app] {
		r.cands[app][i].State = engine.StateDeactivated
	}
	r.applyLocked(app)
}

func (r *ring) applyLocked(app string) {
	cands := make([]keyring.Candidate, len(r.cands[app]))
	copy(cands, r.cands[app])
	for i := range cands {
		cands[i].Material = append([]byte(nil), r.mats[cands[i].UID]...)
	}
	if _, err := r.rings.Apply(app, cands); err != nil {
		r.t.Fatal(err)
	}
}

// recorder captures what the proxy hands the daemon. In the daemon this is
// the store and the event hub; usage goes to a real SQLite store in
// TestUsagePersistsInSQLite.
type recorder = proxytest.Recorder

// upstream is a real HTTP server that records every request it receives.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	method, path, query, contentType string
	header                           http.Header
	body                             []byte
}

func newUpstream(t testing.TB, h func(w http.ResponseWriter, r *http.Request, body []byte)) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Clone(), b})
		u.mu.Unlock()
		h(w, r, b)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) seen() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

// echo answers with the request body and content type.
func echo(w http.ResponseWriter, r *http.Request, body []byte) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Write(body)
}

// startProxy runs a Manager for apps on free loopback ports until the test ends.
func startProxy(t testing.TB, keys keyring.KeySource, rec Recorder, apps ...config.ProxyApp) *Manager {
	t.Helper()
	for i := range apps {
		if apps[i].Listen == "" {
			apps[i].Listen = "127.0.0.1:0"
		}
	}
	m, err := NewManager(config.Proxy{Apps: apps, MetricsListen: "127.0.0.1:0", AllowUserDecrypt: false}, keys, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("proxy did not stop")
		}
	})
	return m
}

func proxyURL(m *Manager, app string) string { return "http://" + m.Addr(app) }

// frequentGC makes collections frequent (GOGC 10) until the test ends, so
// the heap measured is what is held, not garbage waiting for the next
// cycle.
func frequentGC(t testing.TB) {
	old := debug.SetGCPercent(10)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

// heapInUse is the heap in use right after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
