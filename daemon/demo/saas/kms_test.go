package saas

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/kmip"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
	"github.com/keyward/keyward/engine/token"
)

// memSink takes the inventory batches a KMIP poll reports; in the daemon
// the store does. Only the rings matter here.
type memSink struct {
	mu   sync.Mutex
	keys map[string][]engine.Key
}

func (s *memSink) Apply(_ context.Context, b sources.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[b.Source] = append(s.keys[b.Source], b.Upsert...)
	return nil
}
func (s *memSink) SetHealth(context.Context, string, engine.Health, string) error { return nil }
func (s *memSink) Known(_ context.Context, src string) ([]engine.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]engine.Key(nil), s.keys[src]...), nil
}

// TestKMSRotationThroughProxy is the whole chain with real parts: the
// embedded KMS over KMIP with mutual TLS, the KMIP poller filling the key
// rings, the proxy encrypting with the newest generation, and the demo
// application. A rotation in the KMS reaches the proxy at the next poll; the
// records made before it still read in plaintext.
func TestKMSRotationThroughProxy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := kms.Start(ctx, kms.Options{Dir: t.TempDir(), Apps: []kms.App{{Name: "crm", Prefix: "acme.crm.key.", Generations: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	rings := keyring.NewRings()
	src, err := kmip.New(srv.SourceConfig("acme-kms", time.Hour), kmip.Deps{Rings: rings, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{keys: map[string][]engine.Key{}}
	if err := src.Poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, ctx)
	m, base, done := startProxy(t, ctx, rings, app.URL())

	create := func(ssn string) string {
		r, err := http.Post(base+"/records", "application/json", strings.NewReader(`{"name":"Ann","ssn":"`+ssn+`","email":"ann@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var v struct{ ID, SSN string }
		json.NewDecoder(r.Body).Decode(&v)
		if r.StatusCode != 201 || v.SSN != ssn {
			t.Fatalf("create through the proxy: %d %+v", r.StatusCode, v)
		}
		return v.ID
	}
	keyOf := func(i int) string {
		var v struct{ SSN string }
		json.Unmarshal(app.Records()[i], &v)
		tk, err := token.Parse([]byte(v.SSN))
		if err != nil {
			t.Fatalf("stored ssn %q is not a token", v.SSN)
		}
		return tk.KeyID
	}
	first := create("111-11-1111")
	gen1 := keyOf(0)
	if st := m.Statuses()[0]; st.Ring.KeyID != gen1 || st.Ring.Size != 2 {
		t.Fatalf("ring %+v, first record made with %s", st.Ring, gen1)
	}

	if _, err := srv.Rotate("crm"); err != nil {
		t.Fatal(err)
	}
	if err := src.Poll(ctx, sink); err != nil {
		t.Fatal(err)
	}
	create("222-22-2222")
	gen2 := keyOf(1)
	if gen2 == gen1 {
		t.Fatalf("after the KMS rotated, the proxy still encrypts with %s", gen1)
	}
	if got := testkit.Get(t, base+"/records/"+first); !strings.Contains(got, "111-11-1111") {
		t.Fatalf("record of the previous generation: %s", got)
	}
	if held := testkit.Get(t, app.URL()+"/records/"+first); strings.Contains(held, "111-11") || !strings.Contains(held, "kw1gt."+token.AppTag("crm")+"."+gen1) {
		t.Fatalf("the application holds %s", held)
	}
	// The short id in tokens is the ring's, derived from the fingerprint the
	// inventory shows.
	found := false
	for _, k := range sink.keys["acme-kms"] {
		if keyring.ShortID(k.Fingerprint) == gen2 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no inventory key has the short id %s", gen2)
	}
	cancel()
	<-done
}
