package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/engine"
)

// TestRotationRecordedOnceAndAnnounced: a whole daemon polls a KMS (the
// embedded one, over mutual TLS) into the crm ring, which an encryption
// proxy uses and publishes the status of every few milliseconds. A KMS
// administrator rotates the crm key. The daemon announces each change of
// the ring as a "ring" notice on the event stream, numbered in the
// stream's sequence, and records the rotation once: one "rotated" event
// naming the new key and its generation, by the source, none by the
// proxy however often its status is read.
func TestRotationRecordedOnceAndAnnounced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := crmKMS(ctx, t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer up.Close()

	r := start(t, func(cfg *config.Config) {
		crmProxy(cfg, srv, "127.0.0.1:0", up.URL, 10*time.Millisecond) // polls at start, then when asked
	})
	c := api.NewClient(r.socket)
	got := make(chan api.Notification, 256)
	go c.Watch(ctx, func(n api.Notification) { got <- n })
	hello := <-got
	if hello.Type != api.NoteHello {
		t.Fatalf("first notification %+v", hello)
	}
	seq := hello.Seq
	// latest is the sequence number of the latest notice sent, which a new
	// stream's hello carries.
	latest := func() uint64 {
		t.Helper()
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		h := make(chan api.Notification, 1)
		go c.Watch(wctx, func(n api.Notification) {
			select {
			case h <- n:
			default:
			}
		})
		select {
		case n := <-h:
			return n.Seq
		case <-ctx.Done():
			t.Fatal("no hello")
			return 0
		}
	}
	// waitRing waits for a ring notice for crm numbered after since, and
	// for the proxy's status published after it (its getter ran on the
	// new ring).
	waitRing := func(since uint64) {
		t.Helper()
		ring := false
		for {
			select {
			case n := <-got:
				if n.Seq <= seq {
					t.Fatalf("notice %s at seq %d after seq %d", n.Type, n.Seq, seq)
				}
				seq = n.Seq
				if n.Type == api.NoteRing && n.Source == "crm" && n.Seq > since {
					ring = true
				}
				if ring && n.Type == api.NoteProxy {
					return
				}
			case <-ctx.Done():
				t.Fatal("no ring notice for crm, or no proxy status after it")
			}
		}
	}
	// The first poll may fill the ring before the stream is watched: its
	// ring notice is then before the hello, and the listing shows it.
	before := encrypting(ctx, t, c)

	name, err := srv.Rotate("crm")
	if err != nil {
		t.Fatal(err)
	}
	since := latest() // the first poll's notices are at or before it
	if _, err := c.Sync(ctx, "kms"); err != nil {
		t.Fatal(err)
	}
	waitRing(since)
	after := encrypting(ctx, t, c)
	if after == before {
		t.Fatalf("still encrypting with %s after the rotation to %s", before, name)
	}
	// Let the proxy publish (and read its ring) a few more times.
	time.Sleep(100 * time.Millisecond)
	encrypting(ctx, t, c)

	// The source's own status, translated at the API's edge: its ring
	// (the new generation encrypts), its poll and its client identity.
	info := sourceNamed(ctx, t, c, "kms")
	if info == nil || len(info.Rings) != 1 || info.Rings[0].Application != "crm" || len(info.Rings[0].Generations) != 3 ||
		info.Rings[0].Generations[0].KeyID != after || !info.Rings[0].Generations[0].Encrypts || info.Rings[0].Generations[0].Name != name ||
		info.Rings[0].LastChange == nil {
		t.Fatalf("GET /v1/sources rings: %+v", info)
	}
	if info.Poll == nil || info.Poll.Matched != 3 || info.Poll.Protocol == "" || info.Poll.Address != srv.Addr() {
		t.Fatalf("GET /v1/sources poll: %+v", info.Poll)
	}
	if info.Client == nil || info.Client.Identity == nil || info.Client.Identity.Subject == "" || info.Client.TLSMinVersion != "1.2" {
		t.Fatalf("GET /v1/sources client: %+v", info.Client)
	}

	rep, err := c.ActivityReport(ctx, api.ReportQuery{Operation: engine.OpRotated, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ofRotation []engine.Event
	for _, ev := range rep.Events {
		if ev.Origin == engine.OriginProxy || strings.HasPrefix(ev.Actor, "proxy") {
			t.Errorf("the proxy recorded a rotation: %+v", ev)
		}
		if strings.Contains(ev.Details, after) {
			ofRotation = append(ofRotation, ev)
		}
	}
	if len(ofRotation) != 1 {
		t.Fatalf("%d events of the rotation to %s (%s), want 1: %+v", len(ofRotation), name, after, rep.Events)
	}
	ev := ofRotation[0]
	if ev.Actor != "kms" || ev.Source != "kms" || ev.KeyID != engine.KeyID("kms", name, "") || !strings.Contains(ev.Details, name) {
		t.Fatalf("the rotation's event does not name its key and generation, by the source: %+v", ev)
	}
}

// crmKMS starts the embedded KMS holding two generations of the crm
// application's keys (acme.crm.key.*), stopped when the test ends.
func crmKMS(ctx context.Context, t *testing.T) *kms.Server {
	t.Helper()
	srv, err := kms.Start(ctx, kms.Options{Dir: filepath.Join(t.TempDir(), "kms"),
		Apps: []kms.App{{Name: "crm", Prefix: "acme.crm.key.", Generations: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// crmProxy makes cfg poll srv hourly (at start, then when asked) into the
// crm ring and put an encryption proxy for crm's ssn field, publishing
// its status every statusEvery, between listen and upstream.
func crmProxy(cfg *config.Config, srv *kms.Server, listen, upstream string, statusEvery time.Duration) {
	src := srv.SourceConfig("kms", time.Hour)
	src.Applications = []config.Application{{Name: "crm", Pattern: "acme.crm.key.*", Generations: 16}}
	cfg.KMIP = []config.KMIPSource{src}
	cfg.Proxy.StatusInterval = engine.Duration(statusEvery)
	cfg.Proxy.Apps = []config.ProxyApp{{Name: "crm", Listen: listen, Upstream: upstream, Fields: []string{"ssn"}}}
}

// encrypting waits for the daemon's one proxy to encrypt with a key of
// its ring and returns that key's id.
func encrypting(ctx context.Context, t *testing.T, c *api.Client) string {
	t.Helper()
	for {
		ps, err := c.Proxy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 1 && ps[0].Ring.KeyID != "" {
			return ps[0].Ring.KeyID
		}
		select {
		case <-ctx.Done():
			t.Fatal("the crm ring never encrypted")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
