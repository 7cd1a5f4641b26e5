package saas

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/proxy"
	"github.com/keyward/keyward/engine/keyring"
	"github.com/keyward/keyward/engine/keyring/keyringtest"
	"github.com/keyward/keyward/engine/token"
)

// TestDemoBehindProxy runs the demo application behind a real keyward proxy
// (with a real key ring, filled here as the KMIP poller would) and drives
// traffic at it: the application stores only tokens in the sensitive
// fields, a client through the proxy reads plaintext, and the deterministic
// email still finds records.
func TestDemoBehindProxy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := startApp(t, ctx)
	rings := keyringtest.OneGeneration(t, "crm")
	_, base, done := startProxy(t, ctx, rings, app.URL())

	// Drive until 30 requests went through (or 20 s on a starved machine).
	st := &DriveStats{}
	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	defer dcancel()
	go func() {
		for st.Requests.Load() < 30 && dctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		dcancel()
	}()
	if err := DriveWith(dctx, base, 50, st); err != nil {
		t.Fatal(err)
	}
	if st.Requests.Load() < 30 || st.Failures.Load() != 0 {
		t.Fatalf("driver: %d requests, %d failures", st.Requests.Load(), st.Failures.Load())
	}
	held := app.Records()
	if len(held) == 0 {
		t.Fatal("no records created")
	}
	for _, raw := range held {
		var r struct {
			Name, Email, SSN string
			Card             struct{ Number, Expiry string }
		}
		json.Unmarshal(raw, &r)
		for _, v := range []string{r.Email, r.SSN, r.Card.Number} {
			if token.Span([]byte(v)) != len(v) || v == "" {
				t.Fatalf("the application holds %q in plaintext: %s", v, raw)
			}
		}
		if r.Name == "" || strings.HasPrefix(r.Name, "kw1") || r.Card.Expiry == "" {
			t.Fatalf("unprotected fields were touched: %s", raw)
		}
	}
	// Through the proxy: plaintext, and search by deterministic email.
	resp, err := http.Get(base + "/records?limit=5")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "kw1") || !strings.Contains(string(b), "@example.com") {
		t.Fatalf("client through the proxy sees %s", b)
	}
	var list struct {
		Records []struct{ ID, Email string }
	}
	json.Unmarshal(b, &list)
	email := list.Records[0].Email
	resp, err = http.Get(base + "/records?email=" + url.QueryEscape(email))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	json.Unmarshal(b, &list)
	if len(list.Records) == 0 || list.Records[0].Email != email {
		t.Fatalf("search by email %s found %s", email, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// startApp starts the demo application on a loopback port until ctx ends.
func startApp(t *testing.T, ctx context.Context) *Server {
	t.Helper()
	app, err := Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func TestStoreRoutes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := startApp(t, ctx)
	resp, _ := http.Post(app.URL()+"/records", "application/json", strings.NewReader(`[1]`))
	if resp.StatusCode != 400 {
		t.Fatalf("array accepted: %d", resp.StatusCode)
	}
	resp, _ = http.Post(app.URL()+"/records", "application/json", strings.NewReader(`{"name":"x"}`))
	var r struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if resp.StatusCode != 201 || r.ID != "r000001" {
		t.Fatalf("create: %d %+v", resp.StatusCode, r)
	}
	if resp, _ := http.Get(app.URL() + "/records/r000001"); resp.StatusCode != 200 {
		t.Fatalf("get: %d", resp.StatusCode)
	}
	if resp, _ := http.Get(app.URL() + "/records/nope"); resp.StatusCode != 404 {
		t.Fatalf("missing: %d", resp.StatusCode)
	}
	if resp, _ := http.Get(app.URL() + "/records?limit=0"); resp.StatusCode != 400 {
		t.Fatalf("bad limit: %d", resp.StatusCode)
	}
}

// startProxy runs the demo's proxy configuration for crm in front of
// upstream, returning it, its base URL and the channel Run's result lands on.
func startProxy(t *testing.T, ctx context.Context, rings *keyring.Rings, upstream string) (*proxy.Manager, string, chan error) {
	t.Helper()
	m, err := proxy.NewManager(config.Proxy{Apps: []config.ProxyApp{ProxyApp("crm", "127.0.0.1:0", upstream)}}, rings, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return m, "http://" + m.Addr("crm"), done
}
