package localapi

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/proxy"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring/keyringtest"
)

// audited collects what the audit hook hears.
type audited struct {
	mu      sync.Mutex
	actions []Action
}

func (a *audited) hook(_ context.Context, x Action) {
	a.mu.Lock()
	a.actions = append(a.actions, x)
	a.mu.Unlock()
}

func (a *audited) all() []Action {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Action(nil), a.actions...)
}

// events are the activity events the hook heard with operation op.
func (a *audited) events(op string) []engine.Event {
	var out []engine.Event
	for _, x := range a.all() {
		for _, ev := range x.Events {
			if ev.Operation == op {
				out = append(out, ev.Event)
			}
		}
	}
	return out
}

// serveAs serves h on a real Unix socket with every caller taken for c
// (the daemon derives the caller from the peer credentials) and returns a
// client of it.
func serveAs(t *testing.T, h http.Handler, c api.Caller) *api.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "k.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(api.WithCaller(r.Context(), c)))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return api.NewClient(sock)
}

// crmProxy is a proxy manager of one application, crm, whose ring holds
// one generation (its upstream is never reached: the socket routes do not
// forward).
func crmProxy(t *testing.T, allowUserDecrypt bool) *proxy.Manager {
	t.Helper()
	rings := keyringtest.OneGeneration(t, "crm")
	m, err := proxy.NewManager(config.Proxy{AllowUserDecrypt: allowUserDecrypt,
		Apps: []config.ProxyApp{{Name: "crm", Listen: "127.0.0.1:0", Upstream: "http://127.0.0.1:1"}}}, rings, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
