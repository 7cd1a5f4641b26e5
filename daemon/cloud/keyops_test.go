package cloud

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// opConn is a cloud holding one key, "k", in two versions; every
// operation on a key answers fail when it is set, and is counted.
type opConn struct {
	backupConn
	fail  error
	calls *[]string
}

var opPurge = time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)

func (c opConn) done(op string) error { *c.calls = append(*c.calls, op); return c.fail }

func (opConn) Address() string { return "mem://eu" }
func (opConn) Capabilities() Capabilities {
	return Capabilities{engine.CapCreate, engine.CapUpload, engine.CapUpdate, engine.CapRotate, engine.CapDelete, engine.CapRecover, engine.CapPurge, engine.CapDeleteMaterial, engine.CapVersionDelete, engine.CapVersionRecover}
}
func (opConn) Get(_ context.Context, name, _ string) (KeyVersion, error) {
	return KeyVersion{Name: name, Version: "2", Type: "RSA", Size: 2048}, nil
}
func (opConn) Versions(_ context.Context, name string) ([]KeyVersion, error) {
	return []KeyVersion{{Name: name, Version: "1", Type: "RSA", Size: 2048}, {Name: name, Version: "2", Type: "RSA", Size: 2048}}, nil
}
func (c opConn) Rotate(_ context.Context, name string) (KeyVersion, error) {
	return KeyVersion{Name: name, Version: "3"}, c.done("rotate")
}
func (c opConn) Delete(_ context.Context, name string) (KeyVersion, error) {
	return KeyVersion{Name: name, Version: "2", PurgeAt: &opPurge}, c.done("delete")
}
func (c opConn) Recover(_ context.Context, name string) (KeyVersion, error) {
	return KeyVersion{Name: name}, c.done("recover")
}
func (c opConn) Purge(context.Context, string) error { return c.done("purge") }
func (c opConn) DeleteMaterial(_ context.Context, name string) (KeyVersion, error) {
	return KeyVersion{Name: name}, c.done("delete-material")
}
func (c opConn) DeleteVersion(_ context.Context, name, version string) (KeyVersion, error) {
	return KeyVersion{Name: name, Version: version, PurgeAt: &opPurge}, c.done("delete-version")
}
func (c opConn) RecoverVersion(_ context.Context, name, version string) (KeyVersion, error) {
	return KeyVersion{Name: name, Version: version}, c.done("recover-version")
}

// Every operation on a key through keyward records one event that says
// what it did, to which key or version, as the caller; a cloud's refusal
// is named with the operation, key and source and records nothing; a
// destructive operation whose confirmation is not the key's name never
// reaches the cloud.
func TestKeyOperationsRecordWhatTheyDid(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	alice := Caller{User: "alice"}
	do := map[string]func(m *Manager, confirm string) (*KeyResult, error){
		"rotate":          func(m *Manager, _ string) (*KeyResult, error) { return m.Rotate(ctx, alice, "vault", "k") },
		"delete":          func(m *Manager, c string) (*KeyResult, error) { return m.Delete(ctx, alice, "vault", "k", c) },
		"recover":         func(m *Manager, _ string) (*KeyResult, error) { return m.Recover(ctx, alice, "vault", "k") },
		"purge":           func(m *Manager, c string) (*KeyResult, error) { return m.Purge(ctx, alice, "vault", "k", c) },
		"delete-material": func(m *Manager, c string) (*KeyResult, error) { return m.DeleteMaterial(ctx, alice, "vault", "k", c) },
		"delete-version": func(m *Manager, c string) (*KeyResult, error) {
			return m.DeleteVersion(ctx, alice, "vault", "k", "1", c)
		},
		"recover-version": func(m *Manager, _ string) (*KeyResult, error) { return m.RecoverVersion(ctx, alice, "vault", "k", "1") },
	}
	const lost = "imported key material deleted via keyward; the key is unusable until it is imported again (no copy is kept in keyward: only the same material brings the key back)"
	ops := []struct {
		call, what, op string
		sev            engine.Severity
		keyID, details string
		confirms       bool
	}{
		{"rotate", "rotate k", engine.OpRotated, engine.SeverityInfo, "vault/k/3", "rotated via keyward: new version 3", false},
		{"delete", "delete k", engine.OpDeleted, engine.SeverityWarn, "vault/k/2", "soft-deleted via keyward, purge scheduled 2026-12-31", true},
		{"recover", "recover k", engine.OpRecovered, engine.SeverityInfo, "vault/k/2", "recovered via keyward", false},
		{"purge", "purge k", engine.OpPurged, engine.SeverityAlert, "vault/k", "purged via keyward: the key material is gone unless a backup exists", true},
		{"delete-material", "delete the material of k", engine.OpEdited, engine.SeverityWarn, "vault/k/2", lost, true},
		{"delete-version", "delete version 1 of k", engine.OpDeleted, engine.SeverityWarn, "vault/k/1", "version 1 deleted via keyward, purge scheduled 2026-12-31", true},
		{"recover-version", "recover version 1 of k", engine.OpRecovered, engine.SeverityInfo, "vault/k/1", "version 1 recovered via keyward", false},
	}
	for _, o := range ops {
		t.Run(o.call, func(t *testing.T) {
			m, sink, calls := opManager(t, now, nil)
			res, err := do[o.call](m, "k")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(*calls, []string{o.call}) {
				t.Errorf("cloud calls %v, want [%s]", *calls, o.call)
			}
			if len(sink.events) != 1 {
				t.Fatalf("%d events recorded, want 1: %+v", len(sink.events), sink.events)
			}
			ev := sink.events[0]
			if ev.Operation != o.op || ev.Severity != o.sev || ev.Details != o.details || ev.KeyID != o.keyID ||
				ev.Actor != "alice" || ev.Source != "vault" || ev.Origin != engine.OriginKeyward || !ev.Time.Equal(now) {
				t.Errorf("event %+v\nwant %s %v %q on %s by alice at %s", ev, o.op, o.sev, o.details, o.keyID, now)
			}
			if res.Event == nil || *res.Event != ev {
				t.Errorf("answered event %+v, recorded %+v", res.Event, ev)
			}

			m, sink, calls = opManager(t, now, errors.New("boom"))
			if _, err := do[o.call](m, "k"); err == nil || err.Error() != o.what+" in vault: boom" {
				t.Errorf("refused by the cloud: %v, want %q", err, o.what+" in vault: boom")
			}
			if len(sink.events) != 0 {
				t.Errorf("a refused operation recorded %+v", sink.events)
			}
			if !o.confirms {
				return
			}
			*calls = nil
			if _, err := do[o.call](m, "K"); !errors.Is(err, ErrInvalid) || len(*calls) != 0 {
				t.Errorf("confirmed with another name: %v, cloud calls %v", err, *calls)
			}
		})
	}
}

// A create, upload or update that gives a date to a source whose keys
// have none is refused with the front ends' words before any request; a
// source that is not there is named.
func TestDatesRefusedBeforeAnyRequest(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	m, sink, calls := opManager(t, now, nil)
	alice := Caller{User: "alice"}
	for op, err := range map[string]error{
		"create k": second(m.Create(ctx, alice, "vault", CreateRequest{Name: "k", Type: "RSA", Size: 2048, Expires: &now})),
		"upload k": second(m.Upload(ctx, alice, "vault", UploadRequest{CreateRequest: CreateRequest{Name: "k", NotBefore: &now}})),
		"update k": second(m.Update(ctx, alice, "vault", "k", UpdateRequest{Expires: &now})),
	} {
		var ce *Error
		if !errors.As(err, &ce) || ce.Kind != ErrUnsupported || ce.Op != op || ce.Reason != engine.NoDates("vault") {
			t.Errorf("%s with a date: %v, want %s refused: %s", op, err, op, engine.NoDates("vault"))
		}
	}
	if _, err := m.Update(ctx, alice, "nowhere", "k", UpdateRequest{Expires: &now}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update in a source that is not there: %v", err)
	}
	if len(*calls) != 0 || len(sink.events) != 0 {
		t.Errorf("refused requests reached the cloud %v or recorded %+v", *calls, sink.events)
	}
}

func second[T any](_ T, err error) error { return err }

// opManager is a manager over one opConn source, "vault", with its clock
// at now; the cloud answers fail to every operation on a key.
func opManager(t *testing.T, now time.Time, fail error) (*Manager, *eventSink, *[]string) {
	t.Helper()
	m, _, _ := indexFixture(t, 0)
	m.Now = func() time.Time { return now }
	calls := &[]string{}
	src := NewSyncSource("vault", opConn{fail: fail, calls: calls}, time.Hour, nil)
	src.Now = m.Now
	sink := &eventSink{}
	src.Attach(sink)
	m.Add(src)
	return m, sink, calls
}

// capConn is opConn declaring caps, with Update answered and counted.
type capConn struct {
	opConn
	caps Capabilities
}

func (c capConn) Capabilities() Capabilities { return c.caps }
func (c capConn) Update(_ context.Context, name, version string, _ Update) (KeyVersion, error) {
	return KeyVersion{Name: name, Version: version}, c.done("update")
}

// Enabling or disabling one version asks the source for version-enable,
// not update (a cloud may edit keys but not toggle versions alone, or the
// other way round); the key's own toggle and a version's tags ask update.
// A refused request never reaches the cloud.
func TestUpdateAsksTheCapabilityOfWhatItChanges(t *testing.T) {
	ctx := context.Background()
	on := true
	whole := UpdateRequest{Enabled: &on}
	version := UpdateRequest{Version: "1", Enabled: &on}
	versionTags := UpdateRequest{Version: "1", Tags: map[string]string{"team": "pay"}}
	both := UpdateRequest{Version: "1", Enabled: &on, Tags: map[string]string{"team": "pay"}}
	for _, tc := range []struct {
		name    string
		caps    Capabilities
		r       UpdateRequest
		refused string // "" = done
	}{
		{"update only: the key", Capabilities{engine.CapUpdate}, whole, ""},
		{"update only: a version's tags", Capabilities{engine.CapUpdate}, versionTags, ""},
		{"update only: a version", Capabilities{engine.CapUpdate}, version, "enables and disables whole keys, not single versions"},
		{"update only: a version and tags", Capabilities{engine.CapUpdate}, both, "enables and disables whole keys, not single versions"},
		{"version-enable only: a version", Capabilities{engine.CapVersionEnable}, version, ""},
		{"version-enable only: the key", Capabilities{engine.CapVersionEnable}, whole, `cannot update`},
		{"version-enable only: a version's tags", Capabilities{engine.CapVersionEnable}, versionTags, `cannot update`},
		{"version-enable only: a version and tags", Capabilities{engine.CapVersionEnable}, both, `cannot update`},
		{"both: a version and tags", Capabilities{engine.CapUpdate, engine.CapVersionEnable}, both, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, _ := indexFixture(t, 0)
			calls := &[]string{}
			src := NewSyncSource("vault", capConn{opConn: opConn{calls: calls}, caps: tc.caps}, time.Hour, nil)
			src.Attach(&eventSink{})
			m.Add(src)
			_, err := m.Update(ctx, Caller{User: "alice"}, "vault", "k", tc.r)
			if tc.refused == "" {
				if err != nil || !slices.Equal(*calls, []string{"update"}) {
					t.Fatalf("update: %v, calls %v; want it done", err, *calls)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Kind != ErrUnsupported || !strings.Contains(ce.Error(), tc.refused) {
				t.Fatalf("update: %v; want refused as unsupported: %s", err, tc.refused)
			}
			if len(*calls) != 0 {
				t.Fatalf("a refused update reached the cloud: %v", *calls)
			}
		})
	}
}
