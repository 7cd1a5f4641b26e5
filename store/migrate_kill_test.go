package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// The kill -9 tests of migrations run this test binary again as the
// migrating process: migrateChild is its body, told what to do by these
// variables.
const (
	envMigratePath = "KEYWARD_TEST_MIGRATE"      // the database
	envMigrateTo   = "KEYWARD_TEST_MIGRATE_TO"   // the last migration to apply (all when unset)
	envMigrateKill = "KEYWARD_TEST_MIGRATE_KILL" // a migrateHook step of that migration to die at
)

// migrateChild, in the child process, opens the database (migrating it up
// to envMigrateTo, on the tests' clock) and exits; with envMigrateKill it
// SIGKILLs itself at that step of the last migration, inside its
// transaction. It returns at once in the test process itself.
func migrateChild() {
	path := os.Getenv(envMigratePath)
	if path == "" {
		return
	}
	last := SchemaVersion()
	if v := os.Getenv(envMigrateTo); v != "" {
		last, _ = strconv.Atoi(v)
	}
	if point := os.Getenv(envMigrateKill); point != "" {
		migrateHook = func(v int, step string) {
			if v == last && step == point {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
	}
	fmt.Println("opening")
	s, err := openTo(context.Background(), path, last, func() time.Time { return now })
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	s.Close()
	fmt.Println("migrated")
	os.Exit(0)
}

// migrateKilled migrates the database at path up to migration last in a
// child process (this binary, running test) and kills it with SIGKILL:
// at step point of migration last (a migrateHook step), or, with point "",
// delay after it starts opening the database (with a negative delay, never).
// It reports whether the child had finished the migration when the kill
// came.
func migrateKilled(t *testing.T, test, path string, last int, point string, delay time.Duration) (finished bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), envMigratePath+"="+path, envMigrateTo+"="+strconv.Itoa(last), envMigrateKill+"="+point)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "opening" {
	}
	if point == "" && delay >= 0 {
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
	rest, _ := io.ReadAll(out)
	err = cmd.Wait()
	var exit *exec.ExitError
	killed := errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled()
	switch {
	case point != "" && !killed:
		t.Fatalf("migration %d: the child was to die at its %q step but ended with %v: %s", last, point, err, rest)
	case !killed && err != nil:
		t.Fatalf("migration %d: the child failed: %v: %s", last, err, rest)
	case delay < 0 && killed:
		t.Fatalf("migration %d: the child died on its own: %v: %s", last, err, rest)
	}
	return strings.Contains(string(rest), "migrated")
}

// migrateTimed migrates the database at path up to migration last in a
// child process left alone, and returns how long it took from the start
// of the open: the span the kills of migrateKilled aim at.
func migrateTimed(t *testing.T, test, path string, last int) time.Duration {
	t.Helper()
	start := time.Now()
	migrateKilled(t, test, path, last, "", -1)
	return time.Since(start)
}

// afterKill opens the database a killed migration left, without
// migrating it, and returns its schema version; the file must pass
// SQLite's integrity check (and the key search index its own).
func afterKill(t *testing.T, path, when string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ok string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("%s: integrity_check: %q (%v)", when, ok, err)
	}
	// The FTS indexes' own check (keys_display_search indexes only some
	// keys, so it is checked in itself, not against them).
	for _, fts := range []string{"keys_search", "keys_display_search"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = ?`, fts).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			if _, err := db.Exec(`INSERT INTO ` + fts + `(` + fts + `) VALUES ('integrity-check')`); err != nil {
				t.Fatalf("%s: the search index %s is damaged: %v", when, fts, err)
			}
		}
	}
	var v int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	return v
}

// tableDump is a table's rows (count) and a hash of their contents, in an
// order that does not depend on how they are stored.
type tableDump struct {
	rows int
	hash string
}

// dumpTables reads every table of the database at path (virtual and
// FTS shadow tables included, SQLite's own left out).
func dumpTables(t *testing.T, path string) map[string]tableDump {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	names, err := tableNames(db)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tableDump{}
	for _, name := range names {
		rows, err := db.Query(`SELECT * FROM "` + name + `"`)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%q", vals))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(lines)
		h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
		out[name] = tableDump{rows: len(lines), hash: hex.EncodeToString(h[:8])}
	}
	return out
}

func tableNames(db interface {
	Query(string, ...any) (*sql.Rows, error)
}) ([]string, error) {
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// derivedTables are kept by triggers or migrations from the others (or
// are the FTS indexes', keys_search* and keys_display_search*): the seed writes no rows of its own in them.
var derivedTables = map[string]bool{
	"key_counts": true, "app_key_counts": true, "events_daily": true, "usage_daily": true,
	"aging_days": true, "aging_params": true, "audit_head": true,
}

// seedCounts is how many rows seedAt writes per table the daemon writes
// (once, into an empty table; keys, events and usage get a batch at every
// schema instead), in the order written: a row's references come first. A
// table a new migration adds must be here or in derivedTables: seedAt
// fails naming it.
var seedCounts = []struct {
	table string
	rows  int
}{
	{"sources", 3}, {"keys", 0}, {"events", 0}, {"usage", 0}, {"sealed", 3},
	{"schedules", 4}, {"schedule_runs", 40}, {"schedule_steps", 80},
	{"audit_checkpoints", 5}, {"audit_archives", 2}, {"requests_in_flight", 3},
}

// seedSources are the sources of seeded keys: a KMIP server, an AWS
// account (keys shown by their alias) and an Azure vault.
var seedSources = []struct{ name, kind string }{{"kms", "kmip"}, {"aws", "aws"}, {"azure", "azure"}}

// seedKey is the i-th seeded key as the daemon would have stored it.
func seedKey(i int) engine.Key {
	src := seedSources[i%len(seedSources)]
	k := engine.Key{Source: src.name, Algorithm: "AES", Length: 256,
		State: []engine.State{engine.StateActive, engine.StateActive, engine.StatePreActive, engine.StateDeactivated,
			engine.StateDestroyed, engine.StateDisabled, engine.StateCompromised}[i%7]}
	switch src.kind {
	case "kmip":
		k.Name = fmt.Sprintf("app%d.key.%d", i%5, i)
		k.Application = fmt.Sprintf("app%d", i%5)
	case "aws":
		k.Name = fmt.Sprintf("%08x-1b2c-4d3e-8f40-%012x", i*2654435761%(1<<32), i)
		k.Version = "current"
		if i%2 == 1 {
			k.Tags = map[string]string{engine.TagAliases: fmt.Sprintf("alias/svc-%d", i%97)}
		}
	default:
		k.Name = fmt.Sprintf("vault-key-%d", i)
		k.Version = fmt.Sprintf("%032x", i)
	}
	k.ID = engine.KeyID(k.Source, k.Name, k.Version)
	return k
}

// seedValue is the value of column col of the i-th row of table, as the
// daemon writes it where that matters (references, states, JSON, times);
// ok false leaves it to the column's type.
func seedValue(table, col string, i int) (any, bool) {
	at := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	day := 24 * time.Hour
	switch table + "." + col {
	case "sources.name":
		return seedSources[i].name, true
	case "sources.kind":
		return seedSources[i].kind, true
	case "sources.health":
		return "ok", true
	case "sources.memory":
		return []byte(`{"cursor":"` + strconv.Itoa(i) + `"}`), true
	case "keys.id", "keys.source", "keys.name", "keys.version", "keys.state", "keys.application", "keys.tags", "keys.sort_name":
		k := seedKey(i)
		return map[string]any{"id": k.ID, "source": k.Source, "name": k.Name, "version": k.Version, "state": string(k.State),
			"application": k.Application, "tags": seedTags(k), "sort_name": sortName(engine.Key{Name: k.Name})}[col], true
	case "keys.display_name":
		return displayName(seedKey(i)), true // the alias, for the aliased AWS keys only
	case "keys.algorithm":
		return "AES", true
	case "keys.length":
		return 256, true
	case "keys.fingerprint", "keys.linked_to":
		return "", true
	case "keys.created":
		return at(-time.Duration(i%900) * day), true
	case "keys.activated":
		return at(-time.Duration(i%900)*day + time.Hour), true
	case "keys.expires", "keys.deactivated", "keys.destroyed", "keys.deleted", "keys.purge_at", "keys.rotated":
		if i%3 == 0 {
			return nil, true
		}
		return at(time.Duration(i%400-200) * day), true
	case "keys.rotate_after":
		return int64(i%2) * (90 * day).Milliseconds(), true
	case "events.key_id":
		return seedKey(i).ID, true
	case "events.source":
		return seedKey(i).Source, true
	case "events.time":
		return at(-time.Duration(i) * 37 * time.Second), true
	case "events.operation":
		return []string{"sync", "create", "rotate", "state"}[i%4], true
	case "events.origin":
		return string([]engine.Origin{engine.OriginSource, engine.OriginKeyward, engine.OriginSystem}[i%3]), true
	case "events.severity":
		return string(engine.SeverityInfo), true
	case "usage.hour":
		return now.Truncate(time.Hour).Add(-time.Duration(i%72) * time.Hour).UnixMilli(), true
	case "usage.application":
		return fmt.Sprintf("app%d", i%5), true
	case "usage.key_id":
		return seedKey(i).ID, true
	case "usage.last_use":
		return now.Truncate(time.Hour).Add(-time.Duration(i%72)*time.Hour + time.Duration(i%60)*time.Minute).UnixMilli(), true
	case "schedules.name", "schedule_runs.schedule":
		return fmt.Sprintf("rotate-%d", i%4), true
	case "schedules.spec":
		return `{"every":"720h","targets":["aws/*"]}`, true
	case "schedules.origin":
		return "config", true
	case "schedules.paused", "schedule_runs.late", "schedule_runs.resumed":
		return 0, true
	case "schedule_runs.id":
		return i + 1, true
	case "schedule_runs.due":
		return at(-time.Duration(i) * day), true
	case "schedule_runs.trigger":
		return "schedule", true
	case "schedule_runs.status", "schedule_steps.status":
		return "done", true
	case "schedule_steps.run":
		return i%40 + 1, true
	case "schedule_steps.target":
		return seedKey(i).ID, true
	case "audit_checkpoints.size":
		return i + 1, true
	}
	return nil, false
}

func seedTags(k engine.Key) string {
	if a := k.Tags[engine.TagAliases]; a != "" {
		return `{"` + engine.TagAliases + `":"` + a + `"}`
	}
	return ""
}

// seedAt writes rows into every table of s (a store at some schema) that
// the daemon writes, as a daemon at that schema would: keys, events (through
// the audit chain once it exists) and usage rows numbered from first on,
// and a few rows of every other table still empty. Called at each schema
// in turn, it leaves rows written by every version before.
func seedAt(t *testing.T, s *Store, first, batch int) {
	t.Helper()
	ctx := context.Background()
	var version int
	if err := s.db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	names, err := tableNames(s.db)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, c := range seedCounts {
		counts[c.table] = c.rows
	}
	batches := map[string]int{"keys": batch, "events": batch, "usage": batch / 2}
	for _, n := range names {
		if _, ok := counts[n]; !ok && !derivedTables[n] && !strings.HasPrefix(n, "keys_search") && !strings.HasPrefix(n, "keys_display_search") {
			t.Fatalf("schema %d has table %s: add it to seedCounts (the daemon writes it) or derivedTables (kept from others)", version, n)
		}
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		for _, c := range seedCounts {
			if !slices.Contains(names, c.table) {
				continue
			}
			from, n := first, batches[c.table]
			if _, ok := batches[c.table]; !ok {
				var have int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM "`+c.table+`"`).Scan(&have); err != nil || have > 0 {
					continue
				}
				from, n = 0, c.rows
			}
			if c.table == "events" && version >= chainVersion {
				if err := seedChained(ctx, tx, from, n); err != nil {
					return err
				}
				continue
			}
			if err := seedTable(ctx, tx, c.table, from, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed schema %d: %v", version, err)
	}
}

// seedTable inserts rows first to first+n-1 into table, every column set
// (seedValue, or a value of its declared type).
func seedTable(ctx context.Context, tx *sql.Tx, table string, first, n int) error {
	rows, err := tx.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?)`, table)
	if err != nil {
		return err
	}
	var cols, types []string
	for rows.Next() {
		var c, ty string
		if err := rows.Scan(&c, &ty); err != nil {
			rows.Close()
			return err
		}
		cols, types = append(cols, c), append(types, strings.ToUpper(ty))
	}
	rows.Close()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO "`+table+`" ("`+strings.Join(cols, `","`)+`") VALUES (?`+strings.Repeat(",?", len(cols)-1)+`)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for i := first; i < first+n; i++ {
		args := make([]any, len(cols))
		for j, c := range cols {
			v, ok := seedValue(table, c, i)
			switch {
			case ok:
			case strings.Contains(types[j], "INT"):
				v = int64(i) + now.UnixMilli()
			case types[j] == "BLOB":
				h := sha256.Sum256([]byte(table + c + strconv.Itoa(i)))
				v = h[:]
			default:
				v = fmt.Sprintf("%s %s %d", table, c, i)
			}
			args[j] = v
		}
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("row %d of %s: %w", i, table, err)
		}
	}
	return nil
}

// seedChained writes events first to first+n-1 through the audit chain
// (chainer), as the daemon does from migration 13 on.
func seedChained(ctx context.Context, tx *sql.Tx, first, n int) error {
	c, err := newChainer(ctx, tx)
	if err != nil {
		return err
	}
	defer c.close()
	for i := first; i < first+n; i++ {
		v := func(col string) string { x, _ := seedValue("events", col, i); return fmt.Sprint(x) }
		e := engine.Event{Time: now.Add(-time.Duration(i) * 37 * time.Second), KeyID: v("key_id"), Source: v("source"),
			Operation: v("operation"), Actor: "daemon", Origin: engine.Origin(v("origin")), Severity: engine.SeverityInfo,
			Details: fmt.Sprintf("seeded event %d", i)}
		if _, err := c.add(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// copyDB copies the database file at from to to (the store is closed:
// its write-ahead log is checkpointed and gone).
func copyDB(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(from + "-wal"); err == nil {
		t.Fatalf("%s still has a write-ahead log: close the store first", from)
	}
	for _, side := range []string{"-wal", "-shm"} {
		os.Remove(to + side)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestMigrationsSurviveKill9: for every migration N, a database at N-1
// with rows in every table the daemon writes (written at each schema in
// turn) is migrated to N by a process killed with SIGKILL at each step
// inside the migration's transaction (after its SQL, its Go step, the new
// schema version) and half way through the open, as long as an
// uninterrupted child took. Each time the file passes integrity_check, is
// at N-1 (always, when cut before the commit) or N, and once migrated by a
// process left alone holds exactly what the uninterrupted migration wrote:
// every table's rows, none lost or doubled; and that migration kept every
// row of the tables that were at N-1.
func TestMigrationsSurviveKill9(t *testing.T) {
	migrateChild()
	if testing.Short() {
		t.Skip("kills about a hundred migrating processes")
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// cur is the database at schema prev: each migration's uninterrupted
	// run, the next one's start.
	cur := filepath.Join(t.TempDir(), "start.db")
	prev := 0
	for _, m := range ms {
		from := prev
		prev = m.version
		ok := t.Run(strings.TrimSuffix(m.name, ".sql"), func(t *testing.T) {
			dir := t.TempDir()
			base := filepath.Join(dir, "base.db")
			if from > 0 {
				copyDB(t, cur, base)
			}
			s, err := openTo(ctx, base, from, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			seedAt(t, s, from*migrationSeedBatch, migrationSeedBatch)
			s.Close()
			before := dumpTables(t, base)

			ref := filepath.Join(dir, "ref.db")
			copyDB(t, base, ref)
			took := migrateTimed(t, "TestMigrationsSurviveKill9", ref, m.version)
			want := dumpTables(t, ref)
			for name, d := range before {
				if w, ok := want[name]; !ok || w.rows != d.rows {
					t.Errorf("uninterrupted, the migration leaves table %s with %d rows of %d", name, w.rows, d.rows)
				}
			}
			copyDB(t, ref, cur)

			work := filepath.Join(dir, "keyward.db")
			kills := []struct {
				point string
				delay time.Duration
			}{{"sql", 0}, {"go", 0}, {"version", 0}, {"", took / 2}}
			for _, k := range kills {
				when := fmt.Sprintf("killed at %q", k.point)
				if k.point == "" {
					when = fmt.Sprintf("killed %v into the open", k.delay)
				}
				copyDB(t, base, work)
				finished := migrateKilled(t, "TestMigrationsSurviveKill9", work, m.version, k.point, k.delay)
				v := afterKill(t, work, when)
				switch {
				case k.point != "" && v != from:
					t.Fatalf("%s: schema %d, want %d: the migration committed part of itself", when, v, from)
				case v != from && v != m.version:
					t.Fatalf("%s: schema %d, want %d or %d", when, v, from, m.version)
				case finished && v != m.version:
					t.Fatalf("%s: the child had finished, yet the schema is %d", when, v)
				}
				rs, err := openTo(ctx, work, m.version, func() time.Time { return now })
				if err != nil {
					t.Fatalf("%s: migrate again: %v", when, err)
				}
				rs.Close()
				if got := dumpTables(t, work); !equalDumps(got, want) {
					t.Fatalf("%s (schema %d), then migrated: the tables differ from an uninterrupted migration's:\n%s", when, v, diffDumps(got, want))
				}
			}
		})
		if !ok {
			break
		}
	}
}

// migrationSeedBatch is how many keys and events TestMigrationsSurviveKill9
// writes at each schema (about 1,500 of each by the last): the whole test
// stays under 20 s on two loaded cores.
const migrationSeedBatch = 80

func equalDumps(a, b map[string]tableDump) bool { return diffDumps(a, b) == "" }

// diffDumps names the tables whose rows differ, with their counts.
func diffDumps(got, want map[string]tableDump) string {
	var out []string
	for name, w := range want {
		if g, ok := got[name]; !ok {
			out = append(out, fmt.Sprintf("  %s: missing", name))
		} else if g != w {
			out = append(out, fmt.Sprintf("  %s: %d rows (%s), want %d rows (%s)", name, g.rows, g.hash, w.rows, w.hash))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			out = append(out, fmt.Sprintf("  %s: not expected", name))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestSortNameMigrationSurvivesKill9: a database at schema 19 with 10,000
// keys, a third of them AWS keys and half of those with an alias (their
// sort_name still the key ID's, as keyward before migration 20 wrote it),
// is migrated to 20 by a process killed with SIGKILL at a quarter, half
// and three quarters of an uninterrupted migration's time, and once after
// the Go step rewrote sort_name but before the commit. The file then
// opens, passes integrity_check, and once migrated holds every key once
// with the sort name of its display name.
func TestSortNameMigrationSurvivesKill9(t *testing.T) {
	migrateChild()
	if testing.Short() {
		t.Skip("builds 10,000 keys and kills a process four times")
	}
	const keys = 10000
	ctx := context.Background()
	clock := func() time.Time { return now }
	dir := t.TempDir()
	base := filepath.Join(dir, "base.db")
	s, err := openTo(ctx, base, sortDisplayVersion-1, clock)
	if err != nil {
		t.Fatal(err)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := seedTable(ctx, tx, "sources", 0, len(seedSources)); err != nil {
			return err
		}
		return seedTable(ctx, tx, "keys", 0, keys)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	ref := filepath.Join(dir, "ref.db")
	copyDB(t, base, ref)
	took := migrateTimed(t, "TestSortNameMigrationSurvivesKill9", ref, sortDisplayVersion)
	t.Logf("migration %d at %d keys: %v", sortDisplayVersion, keys, took)

	work := filepath.Join(dir, "keyward.db")
	for _, k := range []struct {
		point string
		delay time.Duration
	}{{"", took / 4}, {"", took / 2}, {"", took * 3 / 4}, {"go", 0}} {
		copyDB(t, base, work)
		finished := migrateKilled(t, "TestSortNameMigrationSurvivesKill9", work, sortDisplayVersion, k.point, k.delay)
		when := fmt.Sprintf("killed %v into the migration", k.delay)
		if k.point != "" {
			when = "killed after its Go step, before its commit"
		}
		v := afterKill(t, work, when)
		if v != sortDisplayVersion-1 && v != sortDisplayVersion || k.point != "" && v != sortDisplayVersion-1 || finished && v != sortDisplayVersion {
			t.Fatalf("%s: schema %d (the child finished: %v)", when, v, finished)
		}
		t.Logf("%s: schema %d", when, v)
		steps := 0
		migrateHook = func(v int, step string) {
			if v == sortDisplayVersion && step == "go" {
				steps++
			}
		}
		s, err := openTo(ctx, work, sortDisplayVersion, clock)
		migrateHook = func(int, string) {}
		if err != nil {
			t.Fatalf("%s: open: %v", when, err)
		}
		if want := map[bool]int{true: 1, false: 0}[v == sortDisplayVersion-1]; steps != want {
			t.Errorf("%s: the Go step ran %d times on reopening, want %d", when, steps, want)
		}
		checkSortNames(t, s, keys, when)
		s.Close()
	}
}

// checkSortNames fails unless s holds n keys, each once, each with the
// sort name of its display name (an AWS key's alias).
func checkSortNames(t *testing.T, s *Store, n int, when string) {
	t.Helper()
	rows, err := s.db.Query(`SELECT id, name, tags, sort_name FROM keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	aliased := 0
	for rows.Next() {
		var k engine.Key
		var tags, got string
		if err := rows.Scan(&k.ID, &k.Name, &tags, &got); err != nil {
			t.Fatal(err)
		}
		if tags != "" {
			if err := json.Unmarshal([]byte(tags), &k.Tags); err != nil {
				t.Fatalf("key %s: tags %q: %v", k.ID, tags, err)
			}
			aliased++
		}
		if seen[k.ID] {
			t.Fatalf("%s: key %s twice", when, k.ID)
		}
		seen[k.ID] = true
		if want := sortName(k); got != want {
			t.Fatalf("%s: key %s sorts as %q, want %q (its display name's)", when, k.ID, got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n || aliased == 0 {
		t.Fatalf("%s: %d keys (%d with an alias), want %d", when, len(seen), aliased, n)
	}
}

// TestIncrementalVacuumSurvivesKill9: a database made before keyward
// gave pages back (auto_vacuum off) is rewritten once by VACUUM at the
// next open (incrementalVacuum); a process killed with SIGKILL at a
// quarter, half and three quarters of that rewrite leaves a file that
// passes integrity_check, and the next open finishes the job (auto_vacuum
// incremental) with every row as an uninterrupted rewrite leaves it.
func TestIncrementalVacuumSurvivesKill9(t *testing.T) {
	migrateChild()
	if testing.Short() {
		t.Skip("kills a process rewriting a database three times")
	}
	ctx := context.Background()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.db")
	s := openAt(t, base, SchemaVersion())
	seedAt(t, s, 0, 3000)
	var mode int
	if err := s.db.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 0 {
		t.Fatalf("the old database's auto_vacuum is %d (%v), want 0 (none)", mode, err)
	}
	s.Close()

	ref := filepath.Join(dir, "ref.db")
	copyDB(t, base, ref)
	took := migrateTimed(t, "TestIncrementalVacuumSurvivesKill9", ref, SchemaVersion())
	want := dumpTables(t, ref)
	t.Logf("VACUUM of a database of 3,000 keys and events in a child process: %v", took)

	work := filepath.Join(dir, "keyward.db")
	for _, delay := range []time.Duration{took / 4, took / 2, took * 3 / 4} {
		copyDB(t, base, work)
		finished := migrateKilled(t, "TestIncrementalVacuumSurvivesKill9", work, SchemaVersion(), "", delay)
		when := fmt.Sprintf("killed %v into the rewrite", delay)
		t.Logf("%s: the child had finished: %v", when, finished)
		if v := afterKill(t, work, when); v != SchemaVersion() {
			t.Fatalf("%s: schema %d, want %d", when, v, SchemaVersion())
		}
		s, err := openTo(ctx, work, SchemaVersion(), func() time.Time { return now })
		if err != nil {
			t.Fatalf("%s: open: %v", when, err)
		}
		if err := s.db.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 2 {
			t.Fatalf("%s: auto_vacuum %d (%v) after the next open, want 2 (incremental)", when, mode, err)
		}
		s.Close()
		if got := dumpTables(t, work); !equalDumps(got, want) {
			t.Fatalf("%s, then opened: the tables differ from an uninterrupted rewrite's:\n%s", when, diffDumps(got, want))
		}
	}
}
