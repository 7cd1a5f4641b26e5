// Package store is keyward's SQLite database (modernc.org/sqlite, no cgo):
// the sources, the key inventory, the activity log and sealed secrets, with
// numbered migrations applied at open. Every multi-row change is one
// transaction.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrNotFound is returned when a row asked for by ID does not exist.
var ErrNotFound = errors.New("not found")

// Store is an open keyward database.
type Store struct {
	db *sql.DB
	// durable is a second pool on the same file with synchronous=FULL:
	// every transaction that records activity commits through it, so an
	// audit event survives a power loss once its change is acknowledged
	// (WAL with synchronous=NORMAL, the rest's setting, may lose the last
	// commits). SQLite sets synchronous per connection, hence two pools.
	durable *sql.DB
	path    string
	now     func() time.Time
	// writer is the turn to write: one token, held for each write
	// transaction (tx, durableTx). A channel rather than a mutex so a
	// caller whose context ends while it waits gives up its place.
	writer chan struct{}
	// stmts are the read pool's prepared statements by query (prepared).
	stmts  sync.Map
	nstmts atomic.Int32
	// readOnly: opened by OpenReadOnly; snap: its snapshot (Snapshot).
	readOnly bool
	snap     *sql.Tx
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	return openTo(ctx, path, SchemaVersion(), time.Now)
}

// openTo is Open migrating up to version last only, with the clock now
// (tests stop a migration part way and compare with one run in full).
func openTo(ctx context.Context, path string, last int, now func() time.Time) (*Store, error) {
	if err := private(path); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn+"&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// Concurrent readers each hold a connection; keeping them open (the
	// default keeps 2) spares opening a connection and parsing the schema
	// again for each request under load. 64 is the most connections one
	// user may hold to the socket: with 16, 45 concurrent readers opened
	// a connection (and parsed the schema, triggers included) for every
	// other request, 14% of a read's CPU.
	db.SetMaxIdleConns(64)
	durable, err := sql.Open("sqlite", dsn+"&_pragma=synchronous(FULL)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	durable.SetMaxIdleConns(4)
	s := &Store{db: db, durable: durable, path: path, now: now, writer: make(chan struct{}, 1)}
	if err := s.incrementalVacuum(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	if err := s.migrateTo(ctx, last); err != nil {
		s.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return s, nil
}

// incrementalVacuum makes the file give pages freed by retention back to
// the file system (ReclaimSpace) instead of keeping them: set before the
// first table of a new database; an older database is rewritten once
// (VACUUM, at the first start of a keyward with retention: seconds per GB,
// before the socket answers).
func (s *Store) incrementalVacuum(ctx context.Context) error {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var mode int
	if err := c.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return err
	}
	if mode == 2 {
		return nil
	}
	if _, err := c.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
		return fmt.Errorf("set incremental vacuum: %w", err)
	}
	// The WAL pragma has already written the header of even a new file,
	// so the mode takes effect only through VACUUM (instant when empty).
	if _, err := c.ExecContext(ctx, "VACUUM"); err != nil {
		return fmt.Errorf("rewrite the database for incremental vacuum (needs free disk space the size of the database): %w", err)
	}
	return nil
}

// OpenReadOnly opens an existing database for reading only, without
// migrating it (keyward audit verify, which must not change what it checks).
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if v < chainVersion {
		db.Close()
		return nil, fmt.Errorf("database %s is at schema %d, before the audit chain (%d): start the daemon once to migrate it", path, v, chainVersion)
	}
	return &Store{db: db, durable: db, path: path, now: time.Now, readOnly: true, writer: make(chan struct{}, 1)}, nil
}

// private makes the database file exist with mode 0600 before SQLite opens
// it. SQLite creates a new database 0644 whatever the umask, and gives its
// WAL and shared-memory files the database's mode: made 0600 here, all three
// are readable by the daemon's user only. Looser files left by an older
// version are tightened.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return unwritable(path, err, "the database")
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("database %s: make it readable by its owner only: %w", path, err)
	}
	for _, side := range []string{path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Lstat(side)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		// SQLite opens a side file it cannot write read-only, and every
		// write then fails with "attempt to write a readonly database":
		// refuse to start instead, naming the file.
		sf, err := os.OpenFile(side, os.O_RDWR, 0)
		if err != nil {
			what := map[string]string{"-wal": "the write-ahead log", "-shm": "the shared-memory index", "-journal": "the rollback journal"}[side[len(path):]]
			return unwritable(side, err, what)
		}
		sf.Close()
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(side, 0o600); err != nil {
				return fmt.Errorf("database file %s: make it readable by its owner only: %w", side, err)
			}
		}
	}
	// SQLite creates the -wal and -shm files beside the database.
	dir := filepath.Dir(path)
	probe, err := os.CreateTemp(dir, ".keyward-write-check-*")
	if err != nil {
		return unwritable(dir, err, "the data directory (SQLite creates keyward.db-wal and keyward.db-shm in it)")
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// unwritable explains why the daemon cannot write file, and the fix.
func unwritable(file string, err error, what string) error {
	var fix string
	switch {
	case errors.Is(err, syscall.EROFS):
		fix = "its file system is mounted read-only: remount it read-write, or point data_dir elsewhere"
	case errors.Is(err, syscall.EPERM):
		fix = fmt.Sprintf("it is marked immutable or append-only: lsattr %s; chattr -i -a %s", file, file)
	default:
		owner := ""
		if fi, serr := os.Stat(file); serr == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				owner = fmt.Sprintf(" (owner uid %d, mode %04o)", st.Uid, fi.Mode().Perm())
			}
		}
		fix = fmt.Sprintf("it is not writable by uid %d%s: give it to the daemon's user: chown %d %s && chmod u+rw %s", os.Geteuid(), owner, os.Geteuid(), file, file)
	}
	if strings.HasSuffix(file, "-shm") {
		fix += fmt.Sprintf("; or, with no daemon running, remove it (rm %s): it holds no data, only the index SQLite rebuilds", file)
	}
	if strings.HasSuffix(file, "-wal") {
		fix += " (do not delete it: it holds committed changes not yet in the database)"
	}
	return fmt.Errorf("cannot write %s %s: %s (%v)", what, file, fix, errors.Unwrap(err))
}

// Close closes the database.
func (s *Store) Close() error {
	if s.snap != nil {
		s.snap.Rollback()
	}
	err := s.db.Close()
	if s.durable != s.db {
		if err2 := s.durable.Close(); err == nil {
			err = err2
		}
	}
	return err
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// DB exposes the handle to packages that add their own queries in this
// package's files.
func (s *Store) DB() *sql.DB { return s.db }

// SetClock replaces the clock used for "updated" stamps (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its number", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a number", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// SchemaVersion is the highest migration this binary knows.
func SchemaVersion() int {
	ms, _ := migrations()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrateTo applies the migrations up to version last (tests build older
// databases with it).
func (s *Store) migrateTo(ctx context.Context, last int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var current int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if known := SchemaVersion(); current > known {
		return fmt.Errorf("schema version %d is newer than this keyward knows (%d): run a newer keyward, or restore a backup made by this one; nothing was changed", current, known)
	}
	for _, m := range ms {
		if m.version <= current || m.version > last {
			continue
		}
		err := s.durableTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			migrateHook(m.version, "sql")
			if step := goMigrations[m.version]; step != nil {
				if err := step(ctx, tx, s.now()); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
			migrateHook(m.version, "go")
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
				return err
			}
			migrateHook(m.version, "version")
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// migrateHook sees each migration's steps inside its transaction: after its
// SQL ("sql"), its Go step ("go") and the new schema version ("version").
// Tests kill the process there (migrate_kill_test.go).
var migrateHook = func(version int, step string) {}

// chainVersion is the migration that introduced the audit chain.
const chainVersion = 13

// goMigrations are the steps of a migration that SQL cannot do, run after
// its SQL in the same transaction.
var goMigrations = map[int]func(context.Context, *sql.Tx, time.Time) error{
	chainVersion:         chainLegacy,
	agingDaysVersion:     migrateAgingDays,
	sortDisplayVersion:   migrateSortDisplay,
	displaySearchVersion: migrateDisplaySearch,
	allAliasesVersion:    migrateAllAliases,
}

// agingDaysVersion is the migration that keeps the aging dates (aging.go).
const agingDaysVersion = 19

// tx runs fn in one transaction, committing only if it returns nil.
// Writers take turns in the process (writer) instead of in SQLite: a
// second BEGIN IMMEDIATE would fail with SQLITE_BUSY and retry in the
// busy handler's sleeps (1, 2, 5 … 100 ms), so a writer could wait up to
// 100 ms after the lock was free; the token is handed over at once.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.writeTurn(ctx, s.db, fn)
}

// durableTx is tx for a change that records activity: it commits with
// synchronous=FULL.
func (s *Store) durableTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.writeTurn(ctx, s.durable, fn)
}

// writeTurn waits for the turn to write, or for ctx to end (a request
// whose client went away does not queue behind a long sync), and runs fn
// in a transaction of db.
func (s *Store) writeTurn(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for the database's other writers: %w", context.Cause(ctx))
	}
	defer func() { <-s.writer }()
	return runTx(ctx, db, fn)
}

// runTx runs fn in one transaction of db, committing only if it returns
// nil. A panic in fn rolls the transaction back before it goes on up:
// left open, it would keep SQLite's write lock on its connection and
// every later writer would fail with SQLITE_BUSY.
func runTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// After Commit the deferred Rollback does nothing (sql.ErrTxDone).
	defer tx.Rollback() //nolint:errcheck // see above
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// maxStmts bounds the prepared statements kept: a page's query depends on
// its filters and sort, a few dozen forms in all.
const maxStmts = 256

// prepared is query prepared for tx, a transaction of the read pool.
// Preparing a page's statements (parsing the query, looking up the
// schema) was a quarter of a read's CPU; the store keeps each query's
// *sql.Stmt, which database/sql prepares once per connection and reuses.
// The statement returned is closed with tx.
func (s *Store) prepared(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if v, ok := s.stmts.Load(query); ok {
		return tx.StmtContext(ctx, v.(*sql.Stmt)), nil
	}
	if s.nstmts.Load() >= maxStmts {
		return tx.PrepareContext(ctx, query)
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if v, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		st = v.(*sql.Stmt)
	} else {
		s.nstmts.Add(1)
	}
	return tx.StmtContext(ctx, st), nil
}

// Tx runs fn in one transaction, for queries other files of this package add.
func (s *Store) Tx(ctx context.Context, fn func(*sql.Tx) error) error { return s.tx(ctx, fn) }

func ms(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.UnixMilli(v.Int64).UTC()
	return &t
}
