package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// TestWritersTakeTurnsInTheProcess: concurrent write transactions wait
// for each other in the store, not in SQLite's busy handler. With no busy
// timeout at all, eight goroutines applying changes at once all succeed;
// left to SQLite, the second BEGIN IMMEDIATE fails with SQLITE_BUSY
// (which a busy timeout turns into sleeps of up to 100 ms).
func TestWritersTakeTurnsInTheProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := openAt(t, path, SchemaVersion())
	s.db.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(0)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	s.db, s.durable = db, db
	ctx := context.Background()
	if err := s.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				name := fmt.Sprintf("g%d.key.%d", g, i)
				at := now.Add(time.Duration(i) * time.Hour)
				_, err := s.Apply(ctx, Change{Source: "kms", Upsert: []engine.Key{{ID: "kms/" + name, Source: "kms", Name: name,
					State: engine.StateActive, Expires: &at}}, Events: []engine.Event{{Time: at, KeyID: "kms/" + name, Source: "kms",
					Operation: "created", Actor: "test", Origin: engine.OriginSource}}})
				errs <- err
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent write failed: %v", err)
		}
	}
	if n, err := s.CountKeys(ctx); err != nil || n != 160 {
		t.Fatalf("%d keys written (%v), want 160", n, err)
	}
}

// TestConcurrentReadersKeepTheirConnections: 45 readers holding a
// connection at once (the 50-client test's) leave them idle for the next
// requests instead of closing them; a new connection parses the whole
// schema again.
func TestConcurrentReadersKeepTheirConnections(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for round := 0; round < 2; round++ {
		var conns []*sql.Conn
		for i := 0; i < 45; i++ {
			c, err := s.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ExecContext(ctx, "SELECT count(*) FROM keys"); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
	}
	if st := s.db.Stats(); st.MaxIdleClosed > 0 || st.OpenConnections < 45 {
		t.Fatalf("%d reader connections closed for want of idle room (%d open)", st.MaxIdleClosed, st.OpenConnections)
	}
}

// TestWriterWaitEndsWithTheCallersContext: a write whose context ends
// while another transaction holds the turn returns at once with the
// context's error, instead of queueing until the holder is done (a
// request whose client gave up must not run later behind a long sync).
func TestWriterWaitEndsWithTheCallersContext(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "keyward.db"), SchemaVersion())
	ctx := context.Background()
	if err := s.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		t.Fatal(err)
	}
	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.tx(ctx, func(*sql.Tx) error { close(holding); <-release; return nil })
	}()
	<-holding
	waitCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Record(waitCtx, engine.Event{Time: now, Source: "kms", Operation: "note", Actor: "test", Origin: engine.OriginSource})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("write with an ended context: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("a write waited for the writer's turn long after its context ended")
		defer func() { <-done }()
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	// The turn is free again: a write with a live context goes through.
	if _, err := s.Record(ctx, engine.Event{Time: now, Source: "kms", Operation: "note", Actor: "test", Origin: engine.OriginSource}); err != nil {
		t.Fatalf("write after the holder finished: %v", err)
	}
}

// TestPanicInAWriteLeavesTheDatabaseWritable: a panic inside a write
// transaction (recovered above it, as net/http recovers a handler's)
// rolls the transaction back; left open, its connection would keep
// SQLite's write lock and every later write would fail with SQLITE_BUSY.
func TestPanicInAWriteLeavesTheDatabaseWritable(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "keyward.db"), SchemaVersion())
	ctx := context.Background()
	if err := s.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the transaction's panic did not reach its caller")
			}
		}()
		_ = s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sources (name, kind, address) VALUES ('half', 'kmip', '')`); err != nil {
				t.Fatal(err)
			}
			panic("bug in a write")
		})
	}()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.Record(wctx, engine.Event{Time: now, Source: "kms", Operation: "note", Actor: "test", Origin: engine.OriginSource}); err != nil {
		t.Fatalf("write after a panicking transaction: %v", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sources WHERE name = 'half'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the panicking transaction's insert is there (%d rows, %v): it was not rolled back", n, err)
	}
}
