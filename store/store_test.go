package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.SetClock(func() time.Time { return now })
	t.Cleanup(func() { s.Close() })
	return s
}

// openFile opens the database at path (made if new) with the real clock,
// for a test that closes and reopens it; the caller closes it.
func openFile(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tp(t time.Time) *time.Time { return &t }

func seed(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	if err := s.EnsureSource(ctx, "kms", "kmip", "127.0.0.1:5696"); err != nil {
		t.Fatal(err)
	}
	var keys []engine.Key
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("acme.crm.key.%d", i)
		keys = append(keys, engine.Key{ID: engine.KeyID("kms", name, ""), Source: "kms", Name: name, Algorithm: "AES", Length: 256,
			State: engine.StateActive, Created: tp(now.AddDate(0, 0, -i*40)), Expires: tp(now.AddDate(0, 0, 100-i*20))})
	}
	if _, err := s.Apply(ctx, Change{Source: "kms", Upsert: keys}); err != nil {
		t.Fatal(err)
	}
}

func TestKeysPagingFollowsNumericNameOrder(t *testing.T) {
	s := open(t)
	seed(t, s, 25)
	var names []string
	cur := ""
	pages := 0
	for {
		p, err := s.Keys(context.Background(), KeyQuery{Limit: 10, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		if pages == 0 && p.Total != 25 {
			t.Fatalf("total = %d, want 25", p.Total)
		}
		for _, k := range p.Keys {
			names = append(names, k.Name)
		}
		pages++
		if p.NextCursor == "" {
			break
		}
		cur = p.NextCursor
	}
	if pages != 3 || len(names) != 25 {
		t.Fatalf("pages=%d names=%d, want 3 pages of 25 keys", pages, len(names))
	}
	if names[9] != "acme.crm.key.9" || names[10] != "acme.crm.key.10" {
		t.Fatalf("numeric order broken: %v", names[8:12])
	}
	// Descending by expiry: the first row expires last.
	p, err := s.Keys(context.Background(), KeyQuery{Sort: "-expires", Limit: 2})
	if err != nil || p.Keys[0].Name != "acme.crm.key.0" {
		t.Fatalf("-expires first = %v, %v", p.Keys, err)
	}
	p2, err := s.Keys(context.Background(), KeyQuery{Sort: "-expires", Limit: 2, Cursor: p.NextCursor})
	if err != nil || p2.Keys[0].Name != "acme.crm.key.2" {
		t.Fatalf("-expires page 2 = %v, %v", p2.Keys, err)
	}
	if _, err := s.Keys(context.Background(), KeyQuery{Cursor: "garbage!"}); err != ErrBadCursor {
		t.Fatalf("bad cursor err = %v", err)
	}
	if _, err := s.Keys(context.Background(), KeyQuery{Sort: "colour"}); err == nil || !strings.Contains(err.Error(), "cannot sort") {
		t.Fatalf("bad sort err = %v", err)
	}
}

func TestAgingFilterAgreesWithEngine(t *testing.T) {
	s := open(t)
	seed(t, s, 12)
	th := engine.DefaultThresholds()
	all, _ := s.SourceKeys(context.Background(), "kms")
	want := map[engine.Bucket]int{}
	for _, k := range all {
		want[engine.Classify(k, now, th).Bucket]++
	}
	if len(want) < 3 {
		t.Fatalf("fixture covers too few buckets: %v", want)
	}
	for b, n := range want {
		p, err := s.Keys(context.Background(), KeyQuery{Aging: b, Now: now, Thresholds: th, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != n {
			t.Errorf("bucket %s: SQL says %d, engine says %d", b, p.Total, n)
		}
	}
}

func TestApplyIsAllOrNothing(t *testing.T) {
	s := open(t)
	seed(t, s, 3)
	ctx := context.Background()
	bad := Change{Source: "kms",
		Upsert: []engine.Key{{ID: "kms/new", Source: "kms", Name: "new", State: engine.StateActive}, {ID: "kms/broken", Source: "kms", Name: "broken"}},
		Events: []engine.Event{{Operation: engine.OpDiscovered, Actor: "kms", Origin: engine.OriginSource}}}
	if _, err := s.Apply(ctx, bad); err == nil {
		t.Fatal("a key with no state was accepted")
	}
	if n, _ := s.CountKeys(ctx); n != 3 {
		t.Fatalf("half-applied change: %d keys, want 3", n)
	}
	if ev, _, _ := s.Events(ctx, EventQuery{}); len(ev) != 0 {
		t.Fatalf("events of a failed change were recorded: %v", ev)
	}
}

func TestEventsFilterAndPage(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := s.Record(ctx, engine.Event{Time: now.Add(time.Duration(i) * time.Minute), KeyID: "kms/a", Operation: engine.OpRotated, Actor: "alice", Origin: engine.OriginKeyward}); err != nil {
			t.Fatal(err)
		}
	}
	s.Record(ctx, engine.Event{KeyID: "kms/b", Operation: engine.OpDeleted, Actor: "cloud", Origin: engine.OriginSource})
	ev, next, err := s.Events(ctx, EventQuery{KeyID: "kms/a", Limit: 3})
	if err != nil || len(ev) != 3 || next == "" {
		t.Fatalf("page 1: %d events next=%q err=%v", len(ev), next, err)
	}
	if !ev[0].Time.After(ev[2].Time) {
		t.Fatal("events not newest first")
	}
	ev2, next2, _ := s.Events(ctx, EventQuery{KeyID: "kms/a", Limit: 3, Cursor: next})
	if len(ev2) != 2 || next2 != "" {
		t.Fatalf("page 2: %d events next=%q", len(ev2), next2)
	}
	src, _, _ := s.Events(ctx, EventQuery{Origin: engine.OriginSource})
	if len(src) != 1 || src[0].Operation != engine.OpDeleted {
		t.Fatalf("origin filter: %v", src)
	}
}

func TestNewerSchemaIsRefusedUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := openFile(t, path)
	s.DB().Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+5))
	s.Close()
	_, err := Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "newer than this keyward") {
		t.Fatalf("newer schema: err = %v", err)
	}
	db, _ := sql.Open("sqlite", path)
	defer db.Close()
	var v int
	db.QueryRow("PRAGMA user_version").Scan(&v)
	if v != SchemaVersion()+5 {
		t.Fatalf("schema version was changed to %d", v)
	}
}

func TestHealthChangeRecordsOneEvent(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	s.EnsureSource(ctx, "kms", "kmip", "")
	outage := func(prev engine.Health) *engine.Event {
		return &engine.Event{Operation: engine.OpOutage, Actor: "keyward", Origin: engine.OriginSystem, Source: "kms"}
	}
	for i := 0; i < 3; i++ {
		s.SetHealth(ctx, "kms", engine.HealthDegraded, "connection refused", outage)
	}
	ev, _, _ := s.Events(ctx, EventQuery{Source: "kms"})
	if len(ev) != 1 {
		t.Fatalf("%d outage events for one outage, want 1", len(ev))
	}
	srcs, _ := s.Sources(ctx)
	if srcs[0].Health != engine.HealthDegraded || srcs[0].Reason != "connection refused" || srcs[0].Since == nil {
		t.Fatalf("source = %+v", srcs[0])
	}
}

// TestSuccessfulSyncIsTheLastSync: a poll that succeeds without changing
// anything still moves the source's last sync; a failed one does not.
func TestSuccessfulSyncIsTheLastSync(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	s.EnsureSource(ctx, "kms", "kmip", "")
	at := now
	s.SetClock(func() time.Time { return at })
	s.SetHealth(ctx, "kms", engine.HealthOK, "", nil)
	at = now.Add(5 * time.Minute)
	s.SetHealth(ctx, "kms", engine.HealthOK, "", nil) // a quiet poll: nothing else written
	srcs, _ := s.Sources(ctx)
	if srcs[0].LastSync == nil || !srcs[0].LastSync.Equal(at) {
		t.Fatalf("last sync %v after a quiet poll at %v", srcs[0].LastSync, at)
	}
	at = now.Add(10 * time.Minute)
	s.SetHealth(ctx, "kms", engine.HealthDegraded, "connection refused", nil)
	srcs, _ = s.Sources(ctx)
	if !srcs[0].LastSync.Equal(now.Add(5 * time.Minute)) {
		t.Fatalf("a failed poll moved the last sync to %v", srcs[0].LastSync)
	}
}

func TestEventsOrderedByTimeWhenRecordedOutOfOrder(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	// A cloud sync reports an old deletion after keyward's newer rotation.
	s.Record(ctx, engine.Event{Time: now, KeyID: "az/k", Operation: engine.OpRotated, Actor: "alice", Origin: engine.OriginKeyward})
	s.Record(ctx, engine.Event{Time: now.Add(-time.Hour), KeyID: "az/k", Operation: engine.OpDeleted, Actor: "azure", Origin: engine.OriginSource})
	s.Record(ctx, engine.Event{Time: now.Add(-2 * time.Hour), KeyID: "az/k", Operation: engine.OpCreated, Actor: "azure", Origin: engine.OriginSource})
	ev, next, _ := s.Events(ctx, EventQuery{Limit: 2})
	if ev[0].Operation != engine.OpRotated || ev[1].Operation != engine.OpDeleted {
		t.Fatalf("order %s, %s", ev[0].Operation, ev[1].Operation)
	}
	ev, _, _ = s.Events(ctx, EventQuery{Limit: 2, Cursor: next})
	if len(ev) != 1 || ev[0].Operation != engine.OpCreated {
		t.Fatalf("page 2 %v", ev)
	}
	if _, _, err := s.Events(ctx, EventQuery{Cursor: "12"}); err != ErrBadCursor {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestTextSearch(t *testing.T) {
	s := open(t)
	seed(t, s, 30)
	ctx := context.Background()
	s.Apply(ctx, Change{Source: "kms", Upsert: []engine.Key{{ID: "kms/payments-signing", Source: "kms", Name: "payments-signing",
		Application: "Billing", State: engine.StateActive, Fingerprint: "abcdef0123"}}})
	cases := map[string]int{
		"crm.key.2":    11, // 2, 20..29
		"CRM.KEY.29":   1,  // case-insensitive
		"billing":      1,  // application
		"abcdef":       1,  // fingerprint prefix
		"ke":           30, // short text: scan
		"ng":           1,  // short text: scan finds payments-signing
		"nothing":      0,
		`"; DROP --`:   0, // quoted, not SQL or FTS syntax
		"crm.key.1%":   0,
		"acme.crm.key": 30,
	}
	for q, want := range cases {
		p, err := s.Keys(ctx, KeyQuery{Text: q, Limit: 100})
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if p.Total != want || len(p.Keys) != want {
			t.Errorf("%q: total %d, page %d, want %d", q, p.Total, len(p.Keys), want)
		}
	}
	// The index follows renames and removals.
	s.Apply(ctx, Change{Source: "kms", Upsert: []engine.Key{{ID: "kms/payments-signing", Source: "kms", Name: "ledger-signing", State: engine.StateActive}}})
	if p, _ := s.Keys(ctx, KeyQuery{Text: "payments"}); p.Total != 0 {
		t.Fatal("search still finds the old name")
	}
	if p, _ := s.Keys(ctx, KeyQuery{Text: "ledger"}); p.Total != 1 {
		t.Fatal("search does not find the new name")
	}
	s.Apply(ctx, Change{Source: "kms", Remove: []string{"kms/payments-signing"}})
	if p, _ := s.Keys(ctx, KeyQuery{Text: "ledger"}); p.Total != 0 {
		t.Fatal("search finds a removed key")
	}
}

// What a source asks to keep survives a reopen; an unknown source is an
// error, not a silent no-op.
func TestSourceMemory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	s := openFile(t, path)
	if err := s.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		t.Fatal(err)
	}
	if b, err := s.SourceMemory(ctx, "kms"); err != nil || b != nil {
		t.Fatalf("memory of a new source: %q %v", b, err)
	}
	if err := s.SetSourceMemory(ctx, "kms", []byte(`{"wildcards":"client"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSourceMemory(ctx, "nope", []byte("x")); err == nil {
		t.Error("memory of an unknown source was accepted")
	}
	s.Close()
	s = openFile(t, path)
	defer s.Close()
	if b, err := s.SourceMemory(ctx, "kms"); err != nil || string(b) != `{"wildcards":"client"}` {
		t.Fatalf("memory after a reopen: %q %v", b, err)
	}
}

// openAt opens a new database migrated only up to version (an older
// keyward's database), closed at the end of the test.
func openAt(t testing.TB, path string, version int) *Store {
	t.Helper()
	if err := private(path); err != nil {
		t.Fatal(err)
	}
	s := &Store{path: path, now: func() time.Time { return now }, writer: make(chan struct{}, 1)}
	var err error
	s.db, err = sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	s.durable = s.db
	if err := s.migrateTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// laterKeyColumns are the columns of keys that today's code writes and
// later migrations added: keys.rotated (0018), keys.display_name (0021).
var laterKeyColumns = []struct{ name, decl string }{
	{"rotated", "INTEGER"},
	{"display_name", "TEXT NOT NULL DEFAULT ''"},
}

// withLaterKeyColumns runs write on a store opened at an older schema with
// the key columns it lacks (laterKeyColumns) there for as long as it runs,
// so today's code can write the keys an older daemon would have.
func withLaterKeyColumns(t testing.TB, s *Store, write func()) {
	t.Helper()
	var added []string
	for _, c := range laterKeyColumns {
		var n int
		if err := s.db.QueryRow(`SELECT count(*) FROM pragma_table_info('keys') WHERE name = ?`, c.name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			continue
		}
		if _, err := s.db.Exec(`ALTER TABLE keys ADD COLUMN ` + c.name + ` ` + c.decl); err != nil {
			t.Fatal(err)
		}
		added = append(added, c.name)
	}
	write()
	for _, name := range added {
		if _, err := s.db.Exec(`ALTER TABLE keys DROP COLUMN ` + name); err != nil {
			t.Fatal(err)
		}
	}
}

// A change's events, usage and the source's new memory (a cursor over a
// cloud's log) are written together or not at all: a change that fails
// anywhere leaves the cursor where it was, so the next read records what
// it read exactly once.
func TestApplyUsageAndMemoryTogether(t *testing.T) {
	ctx := context.Background()
	s := openFile(t, filepath.Join(t.TempDir(), "k.db"))
	defer s.Close()
	if err := s.EnsureSource(ctx, "aws", "aws", ""); err != nil {
		t.Fatal(err)
	}
	hour := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ev := engine.Event{Time: hour, KeyID: "aws/k/current", Source: "aws", Operation: engine.OpDisabled, Actor: "bob", Origin: engine.OriginSource}
	good := Change{Source: "aws", Events: []engine.Event{ev}, Memory: []byte(`{"trail":"1"}`),
		Usage: []engine.Usage{{Hour: hour, Application: "s3.amazonaws.com", KeyID: "aws/k/current", Decrypts: 120}}}
	if _, err := s.Apply(ctx, good); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.Memory = []byte(`{"trail":"2"}`)
	bad.Usage = append(slices.Clone(good.Usage), engine.Usage{Hour: hour, KeyID: "aws/k/current", Decrypts: 1}) // no application
	if _, err := s.Apply(ctx, bad); err == nil {
		t.Fatal("a usage row without an application was accepted")
	}
	if b, _ := s.SourceMemory(ctx, "aws"); string(b) != `{"trail":"1"}` {
		t.Errorf("memory after a failed change: %s", b)
	}
	evs, _, err := s.Events(ctx, EventQuery{Source: "aws", Limit: 10})
	if err != nil || len(evs) != 1 {
		t.Errorf("events after a failed change: %d %v", len(evs), err)
	}
	u, err := s.Usage(ctx, UsageQuery{})
	if err != nil || len(u) != 1 || u[0].Decrypts != 120 {
		t.Errorf("usage after a failed change: %+v %v", u, err)
	}
}
