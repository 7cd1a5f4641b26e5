package cloud

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
)

// TestResolvePendingSkipsUploadsUnderWay: a listing while an upload is
// between sealing its pending copy and keeping the backup must not take
// that copy for a crash's (settling it twice, or calling it interrupted).
func TestResolvePendingSkipsUploadsUnderWay(t *testing.T) {
	ctx := context.Background()
	m, _, _ := indexFixture(t, 0)
	id, err := m.holdPending(ctx, Caller{User: "alice"}, "vault", backupConn{}, ImportRequest{Name: "k", Symmetric: make([]byte, 32)})
	if err != nil || id == "" {
		t.Fatalf("hold: %q %v", id, err)
	}
	left, err := m.ResolvePending(ctx)
	if err != nil || len(left) != 0 {
		t.Fatalf("an upload under way was settled or listed: %+v %v", left, err)
	}
	m.settled(id)
	left, err = m.ResolvePending(ctx)
	if err != nil || len(left) != 1 || left[0].Pending == "" || left[0].ID != id {
		t.Fatalf("after the upload stopped: %+v %v", left, err)
	}
}

// keptConn is a cloud that cannot export: Get answers key (or not found),
// KeepMaterial returns the material.
type keptConn struct {
	backupConn
	key *KeyVersion
}

func (c keptConn) Get(_ context.Context, name, _ string) (KeyVersion, error) {
	if c.key == nil {
		return KeyVersion{}, &Error{Kind: ErrNotFound, Reason: "no key " + name}
	}
	return *c.key, nil
}

func (keptConn) KeepMaterial(kv KeyVersion, r ImportRequest) ([]byte, error) {
	return append([]byte(kv.Name+":"), r.Symmetric...), nil
}

// eventSink counts the events recorded on a source.
type eventSink struct{ events []engine.Event }

func (s *eventSink) Apply(_ context.Context, b sources.Batch) error {
	s.events = append(s.events, b.Events...)
	return nil
}
func (*eventSink) SetHealth(context.Context, string, engine.Health, string) error { return nil }
func (*eventSink) Known(context.Context, string) ([]engine.Key, error)            { return nil, nil }

// TestResolvePendingOutcomes: a copy whose key is in the cloud becomes
// its backup once (a crash after the backup was stored and before the
// copy was dropped makes no second backup); a key the cloud made before
// the upload is not taken for the upload's; a key not in the cloud stays
// pending, its warning recorded once however often it is listed.
func TestResolvePendingOutcomes(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		key         *KeyVersion
		backupFirst bool // the backup was stored before the crash
		backups     int
		pending     string
	}{
		{name: "in the cloud", key: &KeyVersion{Name: "k-id", Created: now}, backups: 1},
		{name: "backup stored, copy not dropped", key: &KeyVersion{Name: "k-id", Created: now}, backupFirst: true, backups: 1},
		{name: "not in the cloud", pending: "the key is not in vault"},
		{name: "an older key of that name", key: &KeyVersion{Name: "k-id", Created: now.Add(-time.Hour), Updated: now.Add(-time.Hour)}, pending: "before the upload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, st, _ := indexFixture(t, 0)
			m.Now = func() time.Time { return now }
			sink := &eventSink{}
			src := NewSyncSource("vault", keptConn{key: c.key}, time.Hour, nil)
			src.Attach(sink)
			m.Add(src)
			id, err := m.holdPending(ctx, Caller{User: "alice"}, "vault", backupConn{}, ImportRequest{Name: "k", Symmetric: bytes.Repeat([]byte{7}, 32)})
			if err != nil {
				t.Fatal(err)
			}
			m.settled(id) // the process died
			if c.backupFirst {
				// What keeping the copy stored: the same material.
				blob := append([]byte("k-id:"), bytes.Repeat([]byte{7}, 32)...)
				if _, err := m.sealBackup(ctx, Caller{User: "alice"}, "vault", backupConn{}, "k-id", 1, blob); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				bs, err := m.Backups(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var kept []BackupInfo
				var pending []string
				for _, b := range bs {
					if b.Pending != "" {
						pending = append(pending, b.Pending)
					} else {
						kept = append(kept, b)
					}
				}
				if len(kept) != c.backups {
					t.Fatalf("%d backups, want %d: %+v", len(kept), c.backups, bs)
				}
				if c.pending == "" && len(pending) != 0 || c.pending != "" && (len(pending) != 1 || !strings.Contains(pending[0], c.pending)) {
					t.Fatalf("pending %q, want one saying %q", pending, c.pending)
				}
			}
			left, _ := st.Sealed(ctx, PendingKind)
			if c.pending == "" && len(left) != 0 || c.pending != "" && len(left) != 1 {
				t.Fatalf("%d pending copies stored", len(left))
			}
			if want := 0; c.backupFirst && len(sink.events) != want {
				t.Errorf("%d events for a copy whose backup was there: %+v", len(sink.events), sink.events)
			} else if !c.backupFirst && len(sink.events) != 1 {
				t.Errorf("%d events over two listings, want 1: %+v", len(sink.events), sink.events)
			}
		})
	}
}

// FuzzOpenPending: whatever a sealed pending record holds once opened
// (damaged JSON, material that is not PKCS#8), opening it and rebuilding
// its request errs or succeeds, never panics, and never quotes material.
func FuzzOpenPending(f *testing.F) {
	k, err := kek.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"info":{"id":"x","key":"k"},"material":"AAEC"}`))
	f.Add([]byte(`{"info":{"id":"x","key":"k"},"symmetric":true,"material":"AAEC"}`))
	f.Add([]byte(`{"info":{"id":"y"}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, plain []byte) {
		sealed, err := k.Wrap(plain, pendingAAD("x"))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := openPending(k, "x", sealed)
		if err != nil {
			return
		}
		defer clear(rec.Material)
		ir, err := rec.request()
		if err != nil {
			if len(rec.Material) > 3 && strings.Contains(err.Error(), string(rec.Material)) {
				t.Fatalf("the error quotes the material: %v", err)
			}
			return
		}
		zeroPrivate(ir.Private)
	})
}

// TestOpenSealedRefusesAnotherRecord: a record sealed under a backup's or
// a pending copy's name but saying it is another one (or a pending copy
// without material) is refused with the reason, not used.
func TestOpenSealedRefusesAnotherRecord(t *testing.T) {
	k, err := kek.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, plain, want string
		open              func(sealed []byte) error
		aad               []byte
	}{
		{"pending of another upload", `{"info":{"id":"y"},"material":"AAEC"}`, "open pending upload copy x: the record is not this upload's",
			func(b []byte) error { _, err := openPending(k, "x", b); return err }, pendingAAD("x")},
		{"pending without material", `{"info":{"id":"x"}}`, "open pending upload copy x: the record is not this upload's",
			func(b []byte) error { _, err := openPending(k, "x", b); return err }, pendingAAD("x")},
		{"backup of another key", `{"info":{"id":"y"},"blob":"AAEC"}`, "open backup x: the record says it is y",
			func(b []byte) error { _, err := openBackup(k, "x", b); return err }, backupAAD("x")},
		{"pending sealed as a backup", `{"info":{"id":"x"},"material":"AAEC"}`, "open pending upload copy x: ",
			func(b []byte) error { _, err := openPending(k, "x", b); return err }, backupAAD("x")},
	} {
		sealed, err := k.Wrap([]byte(c.plain), c.aad)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.open(sealed); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
