package kmip

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/kek/kektest"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/pki/pkitest"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// env is one keyward "daemon" polling a backend: real SQLite store, real
// rings, real source.
type env struct {
	t      testing.TB
	b      *backend
	dbPath string
	st     *store.Store
	sink   storeSink
	rings  *keyring.Rings
	src    *Source
	cfg    config.KMIPSource
	deps   Deps
	logs   *testkit.Buffer
}

var crmApp = config.Application{Name: "crm", Pattern: "acme.crm.key.*"}
var hrApp = config.Application{Name: "hr", Pattern: "acme.hr.key.*"}

func newEnv(t testing.TB, b *backend, dbPath string, k *kek.KEK, apps ...config.Application) *env {
	t.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "keyward.db")
	}
	e := &env{t: t, b: b, dbPath: dbPath, logs: &testkit.Buffer{}}
	e.st = storetest.Open(t, dbPath)
	e.sink = storeSink{st: e.st}
	e.cfg = sourceConfig(b, apps...)
	if err := e.st.EnsureSource(context.Background(), e.cfg.Name, "kmip", b.addr); err != nil {
		t.Fatal(err)
	}
	e.rings = keyring.NewRings()
	e.deps = Deps{Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Rings: e.rings,
		Sealed: e.st, KEK: k, Persist: k != nil, Usage: e.st}
	e.rebuild()
	return e
}

// rebuild makes the source from e.cfg and e.deps: newEnv does, and so does
// a test that changed them after; it is closed when the test ends.
func (e *env) rebuild() *Source {
	e.t.Helper()
	src, err := New(e.cfg, e.deps)
	if err != nil {
		e.t.Fatal(err)
	}
	e.src = src
	e.t.Cleanup(func() { src.Close() })
	return src
}

func (e *env) poll() error {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.src.Poll(ctx, e.sink)
}

// polledCRM is a source over b for the crm application, polled once.
func polledCRM(t testing.TB, b *backend) *env {
	t.Helper()
	e := newEnv(t, b, "", nil, crmApp)
	e.mustPoll()
	return e
}

func (e *env) mustPoll() PollStats {
	e.t.Helper()
	if err := e.poll(); err != nil {
		e.t.Fatalf("poll: %v", err)
	}
	return e.src.LastPoll()
}

func (e *env) events(op string) []engine.Event {
	e.t.Helper()
	evs, _, err := e.st.Events(context.Background(), store.EventQuery{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []engine.Event
	for _, ev := range evs {
		if op == "" || ev.Operation == op {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) key(name string) engine.Key {
	e.t.Helper()
	k, err := e.st.Key(context.Background(), engine.KeyID("kms", name, ""))
	if err != nil {
		e.t.Fatalf("inventory row for %s: %v", name, err)
	}
	return k
}

func (e *env) ringNames(app string) []string {
	r, _ := e.rings.Ring(app)
	var out []string
	for _, g := range r.Gens {
		out = append(out, g.Name)
	}
	return out
}

func (e *env) encryptsWith(app string) string {
	r, _ := e.rings.Ring(app)
	for _, g := range r.Gens {
		if g.Encrypts {
			return g.Name
		}
	}
	return ""
}

func TestFirstPollOfSeveralApplications(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		var crm []string
		for i := 1; i <= 3; i++ {
			crm = append(crm, b.create(t, fmt.Sprintf("acme.crm.key.%d", i)))
		}
		b.revoke(t, crm[0], false)
		b.create(t, "acme.hr.key.1")
		b.create(t, "acme.hr.key.2")
		b.create(t, "other.team.key.1") // matches no application
		e := newEnv(t, b, "", nil, crmApp, hrApp)
		st := e.mustPoll()

		if got := strings.Join(e.ringNames("crm"), ","); got != "acme.crm.key.3,acme.crm.key.2,acme.crm.key.1" {
			t.Fatalf("crm ring = %s", got)
		}
		if got := strings.Join(e.ringNames("hr"), ","); got != "acme.hr.key.2,acme.hr.key.1" {
			t.Fatalf("hr ring = %s", got)
		}
		if e.encryptsWith("crm") != "acme.crm.key.3" {
			t.Fatalf("crm encrypts with %s", e.encryptsWith("crm"))
		}
		id, key, err := e.rings.EncryptionKey("crm")
		if err != nil || len(key) != 32 || len(id) != 8 {
			t.Fatalf("EncryptionKey: %q %d %v", id, len(key), err)
		}
		k1 := e.key("acme.crm.key.1")
		if k1.State != engine.StateDeactivated || k1.Application != "crm" || len(k1.Fingerprint) != 64 || k1.Algorithm != "AES" {
			t.Fatalf("inventory row %+v", k1)
		}
		if _, err := e.st.Key(context.Background(), engine.KeyID("kms", "other.team.key.1", "")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a key of no application entered the inventory: %v", err)
		}
		if n := len(e.events(engine.OpDiscovered)); n != 5 {
			t.Fatalf("%d discovered events, want 5", n)
		}
		if st.Gets != 5 {
			t.Fatalf("first poll fetched %d keys, want 5", st.Gets)
		}
		if st.Protocol != "1.4" {
			t.Fatalf("negotiated KMIP %s, want 1.4 (the highest both speak)", st.Protocol)
		}
		want := "client"
		if b.serverWildcards {
			want = "server"
		}
		if e.src.wildcards > 0 && want != "server" || e.src.wildcards < 0 && want != "client" {
			t.Fatalf("learned wildcard mode %d, want %s", e.src.wildcards, want)
		}
		// Learning it cost one listing and one pattern probe, not a Locate
		// per application (which a server without a name index answers
		// with a scan of every object it holds).
		if st.Locates != 2 || st.Wildcards != "probing" {
			t.Fatalf("first poll: %d Locates (%s), want the listing and one probe", st.Locates, st.Wildcards)
		}

		// A poll where nothing changed: one Locate, batched attribute reads, no Get.
		v := e.rings.Version("crm")
		before := len(e.events(""))
		quiet := e.mustPoll()
		if quiet.Gets != 0 || quiet.Requests != 2 {
			t.Fatalf("quiet poll: %+v; want 2 requests (Locate, Get Attributes batch) and no Get", quiet)
		}
		if e.rings.Version("crm") != v || len(e.events("")) != before {
			t.Fatal("a quiet poll changed the ring or recorded events")
		}
		// Health is ok and the socket view is metadata only.
		infos := e.src.Rings()
		if len(infos) != 2 || infos[0].Generations[0].KeyID != id || !infos[0].Generations[0].Encrypts {
			t.Fatalf("ring info %+v", infos)
		}
	})
}

func TestNewGenerationAndSeventeenthPushesOutFirst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		uids := map[int]string{}
		for i := 1; i <= 16; i++ {
			uids[i] = b.create(t, fmt.Sprintf("acme.crm.key.%d", i))
		}
		e := polledCRM(t, b)
		if n := len(e.ringNames("crm")); n != 16 {
			t.Fatalf("ring holds %d", n)
		}
		_, oldKey, _ := e.rings.EncryptionKey("crm")
		oldID := keyring.ShortID(keyring.Fingerprint(oldKey))

		b.create(t, "acme.crm.key.17")
		st := e.mustPoll()
		names := e.ringNames("crm")
		if len(names) != 16 || names[0] != "acme.crm.key.17" || names[15] != "acme.crm.key.2" {
			t.Fatalf("ring after 17th: %v", names)
		}
		if st.Gets != 1 {
			t.Fatalf("the new generation cost %d Gets, want 1", st.Gets)
		}
		if e.encryptsWith("crm") != "acme.crm.key.17" {
			t.Fatalf("encrypts with %s", e.encryptsWith("crm"))
		}
		// The previous newest still decrypts.
		if _, err := e.rings.DecryptionKey("crm", oldID); err != nil {
			t.Fatalf("generation 16 must still decrypt: %v", err)
		}
		dropped := e.events(engine.OpDropped)
		if len(dropped) != 1 || !strings.Contains(dropped[0].Details, "pushed out") || dropped[0].KeyID != engine.KeyID("kms", "acme.crm.key.1", "") {
			t.Fatalf("dropped events %+v", dropped)
		}
		if len(e.events(engine.OpRotated)) != 2 { // first poll + rotation
			t.Fatalf("rotated events %+v", e.events(engine.OpRotated))
		}
	})
}

func TestRevokeAndDestroy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		u1 := b.create(t, "acme.crm.key.1")
		b.create(t, "acme.crm.key.2")
		u3 := b.create(t, "acme.crm.key.3")
		e := polledCRM(t, b)
		id3, _, _ := e.rings.EncryptionKey("crm")

		b.revoke(t, u3, true) // compromised
		b.revoke(t, u1, false)
		e.mustPoll()
		if got := strings.Join(e.ringNames("crm"), ","); got != "acme.crm.key.2,acme.crm.key.1" {
			t.Fatalf("ring after compromise = %s", got)
		}
		if e.encryptsWith("crm") != "acme.crm.key.2" {
			t.Fatal("the newest key that is still Active must encrypt")
		}
		if _, err := e.rings.DecryptionKey("crm", id3); !errors.Is(err, keyring.ErrUnknownGeneration) {
			t.Fatalf("compromised key still decrypts: %v", err)
		}
		alerts := 0
		for _, ev := range e.events("") {
			if ev.Severity == engine.SeverityAlert && ev.KeyID == engine.KeyID("kms", "acme.crm.key.3", "") {
				alerts++
			}
		}
		if alerts != 2 { // compromised, dropped from the ring
			t.Fatalf("%d alert events for the compromised key, want 2", alerts)
		}
		if e.key("acme.crm.key.3").State != engine.StateCompromised || e.key("acme.crm.key.1").State != engine.StateDeactivated {
			t.Fatal("inventory states not updated")
		}

		b.destroy(t, u1)
		st := e.mustPoll()
		if got := strings.Join(e.ringNames("crm"), ","); got != "acme.crm.key.2" {
			t.Fatalf("ring after destroy = %s", got)
		}
		// PyKMIP deletes a destroyed object: it is missing from the Locate,
		// read by its identifier, and only then taken for destroyed. The
		// embedded KMS keeps it, in state Destroyed.
		if b.name == "pykmip" && (st.Rechecked != 1 || st.Recovered != 0) {
			t.Fatalf("poll after destroy %+v: want the vanished key rechecked once, not found", st)
		}
		if e.key("acme.crm.key.1").State != engine.StateDestroyed {
			t.Fatal("destroyed key not marked destroyed")
		}
		var destroyed []engine.Event
		for _, ev := range e.events(engine.OpDestroyed) {
			if ev.Severity == engine.SeverityAlert {
				destroyed = append(destroyed, ev)
			}
		}
		if len(destroyed) != 1 {
			t.Fatalf("destroyed alerts %+v", destroyed)
		}
	})
}

func TestKMSDownAndBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		e := polledCRM(t, b)
		b.closeAdmin()
		b.stop()
		for i := 0; i < 3; i++ {
			err := e.poll()
			if err == nil || !strings.Contains(err.Error(), "connection refused") {
				t.Fatalf("poll with the KMS down: %v", err)
			}
		}
		srcs, _ := e.st.Sources(context.Background())
		if srcs[0].Health != engine.HealthDegraded || !strings.Contains(srcs[0].Reason, "is the KMS running") || srcs[0].Since == nil {
			t.Fatalf("source status %+v", srcs[0])
		}
		if _, _, err := e.rings.EncryptionKey("crm"); err != nil {
			t.Fatalf("the ring must keep serving while the KMS is down: %v", err)
		}
		if n := len(e.events(engine.OpOutage)); n != 1 {
			t.Fatalf("%d outage events for one outage, want 1", n)
		}
		b.resume()
		e.mustPoll()
		srcs, _ = e.st.Sources(context.Background())
		if srcs[0].Health != engine.HealthOK || len(e.events(engine.OpRecovery)) != 1 {
			t.Fatalf("after recovery: %+v", srcs[0])
		}
	})
}

func TestFailoverToSecondAddress(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	dead := testkit.FreeAddr(t)
	e := newEnv(t, b, "", nil, crmApp)
	e.cfg.Addresses = []string{dead, b.addr}
	e.rebuild()
	e.mustPoll()
	if e.src.connected != b.addr {
		t.Fatalf("connected to %s", e.src.connected)
	}
}

func TestWrongCertificates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		other, _ := pki.NewCA("some other CA")
		dir := t.TempDir()
		write := func(name string, data []byte) string { return testkit.WriteFile(t, dir, name, data) }
		strangerCert, strangerKey, _ := other.Issue(pki.IssueOptions{CommonName: "keyward", Client: true})
		noEKUCert, noEKUKey, _ := b.ca.Issue(pki.IssueOptions{CommonName: "keyward"})
		expCert, expKey, _ := b.ca.Issue(pki.IssueOptions{CommonName: "keyward", Client: true,
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
		earlyCert, earlyKey, _ := b.ca.Issue(pki.IssueOptions{CommonName: "keyward", Client: true,
			NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour)})
		cases := []struct {
			name   string
			modify func(c *config.KMIPSource)
			want   string
		}{
			{"client cert from an unknown CA", func(c *config.KMIPSource) {
				c.CertFile, c.KeyFile = write("s.pem", strangerCert), write("s.key", strangerKey)
			}, "does not accept the client certificate"},
			{"client cert without clientAuth", func(c *config.KMIPSource) {
				c.CertFile, c.KeyFile = write("n.pem", noEKUCert), write("n.key", noEKUKey)
			}, "lacks the clientAuth extended key usage"},
			{"expired client cert", func(c *config.KMIPSource) {
				c.CertFile, c.KeyFile = write("e.pem", expCert), write("e.key", expKey)
			}, "client certificate expired on"},
			{"client cert not valid yet", func(c *config.KMIPSource) {
				c.CertFile, c.KeyFile = write("y.pem", earlyCert), write("y.key", earlyKey)
			}, "client certificate is not valid before"},
			{"server signed by another CA", func(c *config.KMIPSource) {
				c.CAFile = write("other-ca.pem", other.PEM)
			}, "unknown CA"},
			{"hostname mismatch", func(c *config.KMIPSource) {
				c.ServerName = "kms.example.com"
			}, "hostname mismatch"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, b, "", nil, crmApp)
				tc.modify(&e.cfg)
				e.rebuild()
				err := e.poll()
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v; want it to say %q", err, tc.want)
				}
				srcs, _ := e.st.Sources(context.Background())
				if srcs[0].Health != engine.HealthDegraded || !strings.Contains(srcs[0].Reason, tc.want) {
					t.Fatalf("status %+v", srcs[0])
				}
			})
		}
	})
}

func TestRestartWithKMSDownRestoresRings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		b.create(t, "acme.crm.key.2")
		b.create(t, "acme.hr.key.1")
		k, _ := kektest.New(t)
		e := newEnv(t, b, "", k, crmApp, hrApp)
		e.mustPoll()
		id, key, _ := e.rings.EncryptionKey("crm")
		b.closeAdmin()
		b.stop()
		e.st.Close()

		// Restart: a new daemon on the same database, the KMS still down.
		e2 := newEnv(t, b, e.dbPath, k, crmApp, hrApp)
		if e2.src.Restored() != 3 {
			t.Fatalf("restored %d generations, want 3", e2.src.Restored())
		}
		id2, key2, err := e2.rings.EncryptionKey("crm")
		if err != nil || id2 != id || !bytes.Equal(key, key2) {
			t.Fatalf("restored ring encrypts with %q (%v), want %q", id2, err, id)
		}
		if err := e2.poll(); err == nil {
			t.Fatal("poll must fail with the KMS down")
		}
		if _, _, err := e2.rings.EncryptionKey("hr"); err != nil {
			t.Fatalf("hr ring lost after a failed poll: %v", err)
		}
		before, _ := e2.st.Sealed(context.Background(), SealedKind)
		e2.st.Close()

		// A wrong KEK is a clear error at start and changes nothing.
		wrong, _ := kektest.New(t)
		st3 := storetest.Open(t, e.dbPath)
		_, err = New(sourceConfig(b, crmApp, hrApp), Deps{Logger: quietLogger(), Rings: keyring.NewRings(), Sealed: st3, KEK: wrong, Persist: true})
		if err == nil || !strings.Contains(err.Error(), "different key-encryption key") {
			t.Fatalf("wrong KEK: %v", err)
		}
		after, _ := st3.Sealed(context.Background(), SealedKind)
		if len(after) != len(before) {
			t.Fatal("a failed start changed the wrapped rings")
		}
		for n, blob := range before {
			if !bytes.Equal(after[n], blob) {
				t.Fatalf("wrapped ring %s changed", n)
			}
		}
		// No KEK at all is also a clear error.
		if _, err := New(sourceConfig(b, crmApp), Deps{Logger: quietLogger(), Rings: keyring.NewRings(), Sealed: st3, Persist: true}); err == nil ||
			!strings.Contains(err.Error(), "kek_file") {
			t.Fatalf("missing KEK: %v", err)
		}
		// persist_material off: the copies are removed.
		if _, err := New(sourceConfig(b, crmApp), Deps{Logger: quietLogger(), Rings: keyring.NewRings(), Sealed: st3, Persist: false}); err != nil {
			t.Fatal(err)
		}
		if left, _ := st3.Sealed(context.Background(), SealedKind); len(left) != 0 {
			t.Fatalf("%d wrapped rings left with persist_material off", len(left))
		}
	})
}

// TestNoKeyMaterialInLogsAPIOrDatabase plants a known key in the KMS and
// searches the logs, the socket-facing ring info and the SQLite files for
// it, raw, hex and base64.
func TestNoKeyMaterialInLogsAPIOrDatabase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		planted := randKey(t)
		b.register(t, "acme.crm.key.1", planted)
		k, _ := kektest.New(t)
		e := newEnv(t, b, "", k, crmApp)
		e.mustPoll()
		_, got, err := e.rings.EncryptionKey("crm")
		if err != nil || !bytes.Equal(got, planted) {
			t.Fatal("the planted key is not the one the ring encrypts with")
		}
		api, _ := json.Marshal(e.src.Rings())
		keys, _ := e.st.SourceKeys(context.Background(), "kms")
		rows, _ := json.Marshal(keys)
		e.st.Close()
		db, _ := os.ReadFile(e.dbPath)
		wal, _ := os.ReadFile(e.dbPath + "-wal")
		forms := map[string][]byte{
			"raw": planted, "hex": []byte(hex.EncodeToString(planted)), "HEX": []byte(strings.ToUpper(hex.EncodeToString(planted))),
			"base64": []byte(base64.StdEncoding.EncodeToString(planted)), "base64url": []byte(base64.RawURLEncoding.EncodeToString(planted)),
		}
		for where, hay := range map[string][]byte{"logs": e.logs.Bytes(), "ring API": api, "inventory API": rows, "database": append(db, wal...)} {
			if len(hay) == 0 && where != "logs" {
				t.Fatalf("%s is empty: the search would prove nothing", where)
			}
			for form, needle := range forms {
				if bytes.Contains(hay, needle) {
					t.Errorf("key material found in the %s (%s)", where, form)
				}
			}
		}
		if !bytes.Contains(api, []byte(keyring.Fingerprint(planted))) {
			t.Error("the ring API should show the fingerprint")
		}
	})
}

func TestLocateNameIsRechecked(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := startKMS(ctx, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: "loose", addr: s.Addr(), caFile: s.CAFile, certFile: s.CertFile, keyFile: s.KeyFile, ca: s.CA, stop: s.Stop}
	t.Cleanup(b.closeAdmin)
	b.create(t, "zzz.unrelated.1")
	b.create(t, "acme.crm.key.1")
	e := newEnv(t, b, "", nil, crmApp)
	e.cfg.Locate = "server"
	e.src, _ = New(e.cfg, e.deps)
	st := e.mustPoll()
	if st.Mismatched == 0 {
		t.Fatalf("the KMS returned a stray object but nothing was rechecked: %+v", st)
	}
	if got := strings.Join(e.ringNames("crm"), ","); got != "acme.crm.key.1" {
		t.Fatalf("ring = %s: an object with the wrong name got in", got)
	}
}

func TestOneRequestPerKeyStillWorks(t *testing.T) {
	b := embeddedBackend(t)
	for i := 1; i <= 3; i++ {
		b.create(t, fmt.Sprintf("acme.crm.key.%d", i))
	}
	e := newEnv(t, b, "", nil, crmApp)
	e.cfg.BatchSize = 1
	e.src, _ = New(e.cfg, e.deps)
	st := e.mustPoll()
	// The listing and the wildcard probe, three Get Attributes, three Gets.
	if st.Requests != 2+3+3 || len(e.ringNames("crm")) != 3 {
		t.Fatalf("unbatched poll: %+v", st)
	}
}

func TestRunRetriesWithBackoffAndRecovers(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	e := newEnv(t, b, "", nil, crmApp)
	e.cfg.PollInterval = engine.Duration(time.Hour)
	e.cfg.RetryMax = engine.Duration(2 * time.Second)
	e.src, _ = New(e.cfg, e.deps)
	b.closeAdmin()
	b.stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.src.Run(ctx, e.sink) }()
	// The first poll failed and at least one retry did, whatever the
	// machine's speed (a sleep here let a slow machine resume the KMS
	// before the first poll: no outage at all).
	testkit.Eventually(t, 30*time.Second, "a failed poll and a failed retry", func() bool {
		return strings.Count(e.logs.String(), "sync failed") >= 2
	}, e.logs.String)
	b.resume()
	e.waitHealth(engine.HealthOK, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(e.events(engine.OpOutage)); n != 1 {
		t.Fatalf("%d outage events, want 1", n)
	}
}

// TestCertInstallTakesEffectWithoutRestart follows the CSR option of the
// CASB guide: the source starts with no identity (degraded, saying so),
// the administrator generates a CSR, the KMS's CA signs it, and after
// install the next poll connects.
func TestCertInstallTakesEffectWithoutRestart(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	e := newEnv(t, b, "", nil, crmApp)
	e.cfg.CertFile, e.cfg.KeyFile = "", ""
	e.deps.DataDir = t.TempDir()
	src, err := New(e.cfg, e.deps)
	if err != nil {
		t.Fatalf("a missing identity must not stop the daemon: %v", err)
	}
	e.src = src
	if err := e.poll(); err == nil || !strings.Contains(err.Error(), "no usable client identity") {
		t.Fatalf("poll without identity: %v", err)
	}
	f := pki.Paths(e.deps.DataDir, "kms")
	csr, err := pki.GenerateCSR(f, pki.CSROptions{CommonName: "keyward"})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := b.ca.SignCSR(csr, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.Install(f, signed, b.ca.PEM, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.mustPoll()
	if got := e.ringNames("crm"); len(got) != 1 {
		t.Fatalf("ring %v", got)
	}
}

// TestBatchContinuesPastItemErrors: one bad identifier in a batched Get
// fails only its own item.
func TestBatchContinuesPastItemErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		u1 := b.create(t, "acme.crm.key.1")
		u2 := b.create(t, "acme.crm.key.2")
		e := newEnv(t, b, "", nil, crmApp)
		ctx := context.Background()
		c, err := e.src.connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var st PollStats
		mats, failed, err := e.src.getMaterial(ctx, c, []string{u1, "999999", u2}, &st)
		if err != nil {
			t.Fatal(err)
		}
		if len(mats) != 2 || len(failed) != 1 || failed["999999"] == nil || st.Requests != 1 {
			t.Fatalf("materials %d, failed %v, requests %d", len(mats), failed, st.Requests)
		}
		for _, m := range mats {
			clear(m)
		}
		e.src.Close()
	})
}

// TestWildcardModeLearnedWithAnEmptyApplication: a server that expands
// wildcards is recognised even while one application has no keys yet.
func TestWildcardModeLearnedWithAnEmptyApplication(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	e := newEnv(t, b, "", nil, crmApp, hrApp)
	e.mustPoll()
	if e.src.wildcards != 1 {
		t.Fatalf("wildcard mode %d, want server", e.src.wildcards)
	}
	st := e.mustPoll()
	if st.Locates != 2 || st.Requests != 2 || st.Wildcards != "server" {
		t.Fatalf("second poll %+v: want the two pattern Locates in one request and one attribute batch", st)
	}
}

// TestWildcardProbeIsOneLocateWhateverTheApplications: the first poll of
// many applications costs the same two Locates, and a server that does not
// expand wildcards (like PyKMIP) is recognised from them.
func TestWildcardProbeIsOneLocateWhateverTheApplications(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var apps []config.Application
	var kapps []kms.App
	for i := range 40 {
		name := fmt.Sprintf("app%02d", i)
		apps = append(apps, config.Application{Name: name, Pattern: "acme." + name + ".key.*"})
		kapps = append(kapps, kms.App{Name: name, Prefix: "acme." + name + ".key.", Generations: 2})
	}
	s, err := kms.Start(ctx, kms.Options{Dir: t.TempDir(), Apps: kapps, ExactNames: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	b := &backend{name: "exact", addr: s.Addr(), caFile: s.CAFile, certFile: s.CertFile, keyFile: s.KeyFile, ca: s.CA, stop: s.Stop}
	e := newEnv(t, b, "", nil, apps...)
	st := e.mustPoll()
	if st.Locates != 2 || st.Matched != 80 || e.src.wildcards != -1 {
		t.Fatalf("first poll %+v, mode %d: want 2 Locates, 80 keys matched here, client-side mode", st, e.src.wildcards)
	}
	if got := len(e.ringNames("app39")); got != 2 {
		t.Fatalf("app39 ring holds %d generations, want 2", got)
	}
	if st = e.mustPoll(); st.Locates != 1 || st.Wildcards != "client" || st.Gets != 0 {
		t.Fatalf("second poll %+v: want one listing, no Get", st)
	}
}

// TestLocateThatMissesKeysLosesNothing: a KMS with a result limit of its
// own (answering fewer identifiers than Maximum Items asks) would make the
// keys past the limit look destroyed. They are read by their identifiers
// first and stay; where the KMS reports the full count in Located Items the
// listing is paged to the end and nothing needs rechecking.
func TestLocateThatMissesKeysLosesNothing(t *testing.T) {
	b := embeddedBackend(t)
	var uids []string
	for i := 1; i <= 15; i++ {
		uids = append(uids, b.create(t, fmt.Sprintf("acme.crm.key.%d", i)))
	}
	e := newEnv(t, b, "", nil, crmApp)
	e.cfg.Locate = "client" // one listing of every key, paged
	e.src, _ = New(e.cfg, e.deps)
	if st := e.mustPoll(); st.Matched != 15 {
		t.Fatalf("first poll matched %d keys, want 15", st.Matched)
	}

	b.embedded.SetLocateLimit(10, false)
	st := e.mustPoll()
	if st.Located != 10 || st.Rechecked != 5 || st.Recovered != 5 || st.Matched != 15 {
		t.Fatalf("capped Locate: %+v; want 10 located, 5 rechecked and recovered, 15 matched", st)
	}
	if n := len(e.events(engine.OpDestroyed)) + len(e.events(engine.OpDropped)); n != 0 {
		t.Fatalf("%d destroyed/dropped events although every key is still in the KMS", n)
	}
	if got := len(e.ringNames("crm")); got != 15 {
		t.Fatalf("ring holds %d generations, want 15", got)
	}
	// The administrator hears of it: new keys past the limit would be
	// missed too.
	srcs, _ := e.st.Sources(context.Background())
	if srcs[0].Health != engine.HealthDegraded || !strings.Contains(srcs[0].Reason, "Locate missed 5 known keys") {
		t.Fatalf("source after a capped Locate: %+v", srcs[0])
	}
	// A missed key whose read fails (not "no such object") is kept.
	b.embedded.SetRefusal(kmip.OperationGetAttributes, uids[13], true)
	if st := e.mustPoll(); st.Recovered != 4 || e.key("acme.crm.key.14").State != engine.StateActive || len(e.ringNames("crm")) != 15 {
		t.Fatalf("a missed key whose read failed: %+v, state %s, ring %d", st, e.key("acme.crm.key.14").State, len(e.ringNames("crm")))
	}
	if srcs, _ := e.st.Sources(context.Background()); !strings.Contains(srcs[0].Reason, "acme.crm.key.14: the KMS refused GetAttributes") {
		t.Fatalf("source reason %q", srcs[0].Reason)
	}
	b.embedded.SetRefusal(kmip.OperationGetAttributes, uids[13], false)

	// One of the missed keys really goes: it is destroyed, the others stay.
	b.revoke(t, uids[14], false)
	b.destroy(t, uids[14])
	b.embedded.SetLocateLimit(10, true) // and says how many match
	st = e.mustPoll()
	// Four Locates: two pages, and two again because key.15, which
	// encrypted, was destroyed with nothing newer located (settle: perhaps
	// a rotation the poll saw half of).
	if st.Located != 15 || st.Locates != 4 || st.Rechecked != 0 {
		t.Fatalf("Locate reporting its total: %+v; want all 15 located over two pages (twice), nothing rechecked", st)
	}
	if e.key("acme.crm.key.15").State != engine.StateDestroyed || e.key("acme.crm.key.3").State != engine.StateActive {
		t.Fatalf("states after the destroy: key 15 %s, key 3 %s", e.key("acme.crm.key.15").State, e.key("acme.crm.key.3").State)
	}
	if got := len(e.ringNames("crm")); got != 14 {
		t.Fatalf("ring holds %d generations, want 14", got)
	}
}

// TestAttributeReadFailureKeepsWhatWasKnown: when the KMS fails to answer
// Get Attributes for a known key, the key keeps its inventory row (its
// algorithm and dates) and its place in the ring; nothing is recorded.
func TestAttributeReadFailureKeepsWhatWasKnown(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	u2 := b.create(t, "acme.crm.key.2")
	e := polledCRM(t, b)
	before, events := e.key("acme.crm.key.2"), len(e.events(""))

	b.embedded.SetRefusal(kmip.OperationGetAttributes, u2, true)
	e.mustPoll()
	after := e.key("acme.crm.key.2")
	if after.Algorithm != "AES" || after.Length != 256 || after.Created == nil || after.Activated == nil || !after.Updated.Equal(before.Updated) {
		t.Fatalf("row after a failed attribute read %+v, before %+v", after, before)
	}
	if e.encryptsWith("crm") != "acme.crm.key.2" || len(e.events("")) != events {
		t.Fatalf("encrypts with %s, %d new events", e.encryptsWith("crm"), len(e.events(""))-events)
	}
}

// TestRefusedGetIsRetriedAndDegradesTheSource: a new generation whose Get
// the KMS refuses is retried at every poll, with one event (not one per
// poll) and the source degraded, naming the key, while the ring lags the
// KMS; once the Get works the key joins, encrypts, and the source is ok.
func TestRefusedGetIsRetriedAndDegradesTheSource(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	e := polledCRM(t, b)
	u2 := b.create(t, "acme.crm.key.2")
	b.embedded.SetRefusal(kmip.OperationGet, u2, true)
	health := func() engine.Source {
		srcs, _ := e.st.Sources(context.Background())
		return srcs[0]
	}
	var lastSync time.Time
	for i := range 2 {
		time.Sleep(5 * time.Millisecond)
		st := e.mustPoll()
		if st.Gets != 1 || len(st.LeftOut) != 1 || e.encryptsWith("crm") != "acme.crm.key.1" {
			t.Fatalf("poll %d with the Get refused: %+v, encrypts with %s", i, st, e.encryptsWith("crm"))
		}
		if h := health(); h.Health != engine.HealthDegraded || !strings.Contains(h.Reason, "acme.crm.key.2: cannot fetch the key material") {
			t.Fatalf("poll %d: source %+v", i, h)
		}
		if n := len(e.events(engine.OpRefused)); n != 1 {
			t.Fatalf("poll %d: %d refused events, want 1", i, n)
		}
		// Degraded, but the poll worked: its last sync moves.
		if h := health(); h.LastSync == nil || !h.LastSync.After(lastSync) {
			t.Fatalf("poll %d: last sync %v did not move past %v", i, h.LastSync, lastSync)
		} else {
			lastSync = *h.LastSync
		}
	}
	b.embedded.SetRefusal(kmip.OperationGet, u2, false)
	if st := e.mustPoll(); st.Gets != 1 || len(st.LeftOut) != 0 {
		t.Fatalf("poll with the Get allowed again: %+v", st)
	}
	if e.encryptsWith("crm") != "acme.crm.key.2" || health().Health != engine.HealthOK {
		t.Fatalf("encrypts with %s, source %+v", e.encryptsWith("crm"), health())
	}
}

// TestKEKFromTheKMSThatDoesNotOpenTheRings: with kek_name and the KMS down
// at start, the rings start empty; when the KMS comes back with a key that
// does not open the wrapped rings in the database, it is not adopted, the
// wrapped rings are left as they are, and the source says why.
func TestKEKFromTheKMSThatDoesNotOpenTheRings(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "keyward.kek") // not the KEK the rings were sealed with
	b.create(t, "acme.crm.key.1")
	dbPath := filepath.Join(t.TempDir(), "keyward.db")
	k, _ := kektest.New(t)
	e := newEnv(t, b, dbPath, k, crmApp)
	e.mustPoll()
	sealed, _ := e.st.Sealed(context.Background(), SealedKind)
	if len(sealed) != 1 {
		t.Fatalf("%d wrapped rings, want 1", len(sealed))
	}
	e.src.Close()
	e.st.Close()

	b.closeAdmin()
	b.stop()
	e2 := &env{t: t, b: b, dbPath: dbPath, logs: &testkit.Buffer{}, st: storetest.Open(t, dbPath), rings: keyring.NewRings()}
	e2.sink = storeSink{st: e2.st}
	e2.cfg = sourceConfig(b, crmApp)
	e2.cfg.KEKName, e2.cfg.Timeout = "keyward.kek", engine.Duration(time.Second)
	e2.deps = Deps{Logger: quietLogger(), Rings: e2.rings, Sealed: e2.st, Persist: true}
	var err error
	if e2.src, err = New(e2.cfg, e2.deps); err != nil {
		t.Fatalf("start with the KMS holding the KEK down: %v", err)
	}
	b.resume()
	e2.mustPoll()
	srcs, _ := e2.st.Sources(context.Background())
	if srcs[0].Health != engine.HealthDegraded || !strings.Contains(srcs[0].Reason, "sealed under a different key-encryption key") {
		t.Fatalf("source %+v", srcs[0])
	}
	after, _ := e2.st.Sealed(context.Background(), SealedKind)
	for name, blob := range sealed {
		if !bytes.Equal(after[name], blob) {
			t.Fatalf("wrapped ring %s was overwritten under a KEK that does not open it", name)
		}
	}
	if e2.encryptsWith("crm") != "acme.crm.key.1" {
		t.Fatalf("the ring did not fill from the KMS: encrypts with %q", e2.encryptsWith("crm"))
	}
}

// TestStateChangesAreRecorded: a Pre-Active key waits outside the ring;
// its activation and later deactivation in the KMS are recorded as
// activity events, and the ring follows (it encrypts while Active, only
// decrypts once Deactivated).
func TestStateChangesAreRecorded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		c := b.adminClient(t)
		resp, err := c.Create().AES(256, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).WithName("acme.crm.key.1").Exec()
		if err != nil {
			t.Fatal(err)
		}
		uid := resp.UniqueIdentifier
		e := polledCRM(t, b)
		if len(e.ringNames("crm")) != 0 || e.key("acme.crm.key.1").State != engine.StatePreActive {
			t.Fatalf("a Pre-Active key: ring %v, state %s", e.ringNames("crm"), e.key("acme.crm.key.1").State)
		}
		if _, err := c.Activate(uid).Exec(); err != nil {
			t.Fatal(err)
		}
		e.mustPoll()
		if n := len(e.events(engine.OpActivated)); n != 1 || e.encryptsWith("crm") != "acme.crm.key.1" {
			t.Fatalf("after activation: %d activated events, encrypts with %q", n, e.encryptsWith("crm"))
		}
		b.revoke(t, uid, false)
		e.mustPoll()
		if n := len(e.events(engine.OpDeactivated)); n != 1 || e.encryptsWith("crm") != "" || len(e.ringNames("crm")) != 1 {
			t.Fatalf("after deactivation: %d deactivated events, encrypts with %q, ring %v", n, e.encryptsWith("crm"), e.ringNames("crm"))
		}
	})
}

// TestPersistOffWritesNoMaterial: with a KEK but keys.persist_material off,
// a poll leaves no wrapped ring in the database.
func TestPersistOffWritesNoMaterial(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	k, _ := kektest.New(t)
	e := newEnv(t, b, "", k, crmApp)
	e.deps.Persist = false
	e.src, _ = New(e.cfg, e.deps)
	e.mustPoll()
	if e.encryptsWith("crm") != "acme.crm.key.1" {
		t.Fatal("the ring did not fill")
	}
	if blobs, _ := e.st.Sealed(context.Background(), SealedKind); len(blobs) != 0 {
		t.Fatalf("%d wrapped rings written with persist_material off", len(blobs))
	}
}

// TestConfiguredProtocolVersion: a version set in the config is spoken
// instead of the highest both sides know.
func TestConfiguredProtocolVersion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		e := newEnv(t, b, "", nil, crmApp)
		e.cfg.Version = "1.2"
		e.src, _ = New(e.cfg, e.deps)
		if st := e.mustPoll(); st.Protocol != "1.2" || st.Matched != 1 {
			t.Fatalf("poll %+v; want KMIP 1.2 spoken and the key found", st)
		}
	})
}

// TestLocateQuirks: a KMS that refuses wildcards in a Name is taken as one
// that does not expand them (the poll works, names are matched here); a
// KMS that ignores Offset Items while saying more keys match ends the
// listing at the first page that brings nothing new, instead of paging for
// ever, and the known keys past it are read by their identifiers.
func TestLocateQuirks(t *testing.T) {
	b := embeddedBackend(t)
	for i := 1; i <= 15; i++ {
		b.create(t, fmt.Sprintf("acme.crm.key.%d", i))
	}
	b.embedded.SetLocateQuirks(false, true)
	e := newEnv(t, b, "", nil, crmApp)
	if st := e.mustPoll(); st.Matched != 15 || e.src.wildcards != -1 {
		t.Fatalf("first poll %+v, mode %d: want the keys matched here and client mode", st, e.src.wildcards)
	}

	b.embedded.SetLocateQuirks(true, false)
	b.embedded.SetLocateLimit(10, true)
	done := make(chan PollStats, 1)
	go func() { done <- e.mustPoll() }()
	select {
	case st := <-done:
		if st.Located != 10 || st.Locates != 2 || st.Recovered != 5 || len(e.ringNames("crm")) != 15 {
			t.Fatalf("poll %+v: want two pages (the second brings nothing), 5 keys recovered by identifier", st)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the listing of a KMS that ignores Offset never ended")
	}
}

// TestServerStopsExpandingWildcards: when a KMS that matched wildcards
// answers every pattern with nothing (a failover KMS of another make, an
// upgrade), the keys are listed and the mode learned again; nothing is
// taken for destroyed and the rings stand.
func TestServerStopsExpandingWildcards(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	b.create(t, "acme.crm.key.2")
	e := newEnv(t, b, "", nil, crmApp, hrApp)
	e.mustPoll()
	if e.src.wildcards != 1 {
		t.Fatalf("wildcard mode %d, want server", e.src.wildcards)
	}
	b.embedded.SetExactNames(true)
	st := e.mustPoll()
	if n := len(e.events(engine.OpDestroyed)) + len(e.events(engine.OpDropped)); n != 0 {
		t.Fatalf("%d destroyed/dropped events after the KMS stopped matching wildcards", n)
	}
	if got := strings.Join(e.ringNames("crm"), ","); got != "acme.crm.key.2,acme.crm.key.1" {
		t.Fatalf("crm ring = %s", got)
	}
	if e.src.wildcards != -1 || st.Matched != 2 {
		t.Fatalf("poll %+v, mode %d: want the keys matched here and client-side mode learned", st, e.src.wildcards)
	}
}

func TestFromConfig(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	dir := t.TempDir()
	st := storetest.Open(t, filepath.Join(dir, "keyward.db"))
	k, kekFile := kektest.New(t)
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Keys = config.Keys{KEKFile: kekFile, PersistMaterial: true}
	cfg.KMIP = []config.KMIPSource{sourceConfig(b, crmApp, hrApp)}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rings := keyring.NewRings()
	srcs, err := FromConfig(cfg, k, st, rings, quietLogger())
	if err != nil || len(srcs) != 1 {
		t.Fatalf("%d sources, %v", len(srcs), err)
	}
	st.EnsureSource(context.Background(), "kms", "kmip", b.addr)
	if err := srcs[0].Poll(context.Background(), storeSink{st: st}); err != nil {
		t.Fatal(err)
	}
	if blobs, _ := st.Sealed(context.Background(), SealedKind); len(blobs) != 1 {
		t.Fatalf("%d wrapped rings, want 1 (crm; hr is empty)", len(blobs))
	}
	// The same application in two sources is refused.
	second := sourceConfig(b, crmApp)
	second.Name = "kms2"
	cfg.KMIP = append(cfg.KMIP, second)
	if _, err := FromConfig(cfg, k, st, keyring.NewRings(), quietLogger()); err == nil || !strings.Contains(err.Error(), "unique") {
		t.Fatalf("duplicate application: %v", err)
	}
}

// TestKeystoreIdentityPolls: the client identity from a JKS keystore (the
// seed's second option) and from a PKCS#12 file works against real servers.
func TestKeystoreIdentityPolls(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		certPEM, _ := os.ReadFile(b.certFile)
		keyPEM, _ := os.ReadFile(b.keyFile)
		leaf, keyDER := pkitest.Pair(t, certPEM, keyPEM)
		dir := t.TempDir()
		ks := keystore.New()
		if err := ks.SetPrivateKeyEntry("keyward", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: bytes.Clone(keyDER),
			CertificateChain: []keystore.Certificate{{Type: "X509", Content: leaf.Raw}}}, []byte("changeit")); err != nil {
			t.Fatal(err)
		}
		var jks bytes.Buffer
		if err := ks.Store(&jks, []byte("changeit")); err != nil {
			t.Fatal(err)
		}
		p12 := pkitest.PKCS12(t, certPEM, keyPEM, "changeit")
		os.WriteFile(filepath.Join(dir, "pw"), []byte("changeit\n"), 0o600)
		for name, data := range map[string][]byte{"client.jks": jks.Bytes(), "client.p12": p12} {
			os.WriteFile(filepath.Join(dir, name), data, 0o600)
			e := newEnv(t, b, "", nil, crmApp)
			e.cfg.CertFile, e.cfg.KeyFile = "", ""
			e.cfg.KeystoreFile, e.cfg.PasswordFile = filepath.Join(dir, name), filepath.Join(dir, "pw")
			e.rebuild()
			e.mustPoll()
			if len(e.ringNames("crm")) != 1 {
				t.Fatalf("%s: ring %v", name, e.ringNames("crm"))
			}
			e.src.Close()
		}
	})
}

// TestExpiredServerCertificate uses a real TLS listener whose certificate
// (from the right CA) has expired, or is not valid yet.
func TestExpiredServerCertificate(t *testing.T) {
	ca, _ := pki.NewCA("root")
	for _, tc := range []struct {
		name          string
		before, after time.Time
		want          string
	}{
		{"expired", time.Now().Add(-72 * time.Hour), time.Now().Add(-24 * time.Hour), "the KMS certificate expired on"},
		{"not yet valid", time.Now().Add(24 * time.Hour), time.Now().Add(72 * time.Hour), "not valid yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tlsServer(t, ca, pki.IssueOptions{NotBefore: tc.before, NotAfter: tc.after}, &tls.Config{})
			e := newEnv(t, b, "", nil, crmApp)
			if err := e.poll(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want %q", err, tc.want)
			}
		})
	}
}

// TestKEKHeldByTheKMS: with kek_name and no KEK file, the rings are wrapped
// under a key fetched from the KMS; a restart with the KMS up restores them,
// a restart with it down starts empty without error and changes nothing.
func TestKEKHeldByTheKMS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "keyward.kek")
		b.create(t, "acme.crm.key.1")
		b.create(t, "acme.crm.key.2")
		dbPath := filepath.Join(t.TempDir(), "keyward.db")
		start := func() *env {
			e := &env{t: t, b: b, dbPath: dbPath, logs: &testkit.Buffer{}}
			e.st = storetest.Open(t, dbPath)
			e.sink = storeSink{st: e.st}
			e.cfg = sourceConfig(b, crmApp)
			e.cfg.KEKName = "keyward.kek"
			e.cfg.Timeout = engine.Duration(3 * time.Second)
			e.st.EnsureSource(context.Background(), "kms", "kmip", b.addr)
			e.rings = keyring.NewRings()
			e.deps = Deps{Logger: quietLogger(), Rings: e.rings, Sealed: e.st, Persist: true}
			var err error
			if e.src, err = New(e.cfg, e.deps); err != nil {
				t.Fatal(err)
			}
			return e
		}
		e := start()
		e.mustPoll()
		if len(e.ringNames("crm")) != 2 {
			t.Fatalf("ring %v", e.ringNames("crm"))
		}
		// A kek_name that an application's pattern would match is refused.
		bad := e.cfg
		bad.Applications = []config.Application{{Name: "all", Pattern: "*", Generations: 16}}
		if _, err := New(bad, e.deps); err == nil || !strings.Contains(err.Error(), "must not be a data key") {
			t.Fatalf("overlapping kek_name: %v", err)
		}
		_, want, _ := e.rings.EncryptionKey("crm")
		e.src.Close()
		e.st.Close()

		e2 := start()
		if e2.src.Restored() == 0 {
			t.Fatal("nothing restored with the KMS up")
		}
		if _, got, _ := e2.rings.EncryptionKey("crm"); !bytes.Equal(got, want) {
			t.Fatal("restored ring differs")
		}
		before, _ := e2.st.Sealed(context.Background(), SealedKind)
		e2.src.Close()
		e2.st.Close()

		b.closeAdmin()
		b.stop()
		e3 := start()
		if e3.src.Restored() != 0 {
			t.Fatal("restored without the KEK?")
		}
		after, _ := e3.st.Sealed(context.Background(), SealedKind)
		if len(after) != len(before) {
			t.Fatal("wrapped rings changed while the KEK was unreachable")
		}
		e3.src.Close()
	})
}
