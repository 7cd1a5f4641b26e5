package store

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
)

func TestUsageAddsUpPerHourAndSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyward.db")
	s := openFile(t, path)
	h := time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)
	add := []engine.Usage{
		{Hour: h.Add(5 * time.Minute), Application: "crm", KeyID: "AAAAAAAA", Encrypts: 3, Decrypts: 1},
		{Hour: h.Add(50 * time.Minute), Application: "crm", KeyID: "AAAAAAAA", Encrypts: 2},
		{Hour: h.Add(time.Hour), Application: "crm", KeyID: "BBBBBBBB", Decrypts: 7},
		{Hour: h, Application: "hr", KeyID: "AAAAAAAA", Encrypts: 1},
	}
	if err := s.AddUsage(ctx, add); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUsage(ctx, []engine.Usage{{Hour: h, Application: "", KeyID: "x"}}); err == nil {
		t.Fatal("row without application accepted")
	}
	s.Close()
	s = openFile(t, path)
	defer s.Close()
	got, err := s.Usage(ctx, UsageQuery{Application: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Encrypts != 5 || got[0].Decrypts != 1 || !got[0].Hour.Equal(h) || got[1].KeyID != "BBBBBBBB" || got[1].Decrypts != 7 {
		t.Fatalf("usage = %+v", got)
	}
	got, _ = s.Usage(ctx, UsageQuery{From: h.Add(time.Hour)})
	if len(got) != 1 {
		t.Fatalf("From filter: %+v", got)
	}
}

func TestKeyUseSumsAWindowPerKey(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	h := time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)
	if err := s.AddUsage(ctx, []engine.Usage{
		{Hour: h.Add(-10 * 24 * time.Hour), Application: "crm", KeyID: "AAAAAAAA", Decrypts: 100}, // before the window
		{Hour: h, Application: "crm", KeyID: "AAAAAAAA", Decrypts: 4, Encrypts: 1},
		{Hour: h.Add(2 * time.Hour), Application: "crm", KeyID: "AAAAAAAA", Encrypts: 9},
		{Hour: h.Add(time.Hour), Application: "crm", KeyID: "AAAAAAAA", Decrypts: 3},
		{Hour: h, Application: "hr", KeyID: "AAAAAAAA", Decrypts: 50},
		{Hour: h, Application: "crm", KeyID: "CCCCCCCC", Encrypts: 2},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.KeyUse(ctx, "crm", []string{"AAAAAAAA", "BBBBBBBB", "CCCCCCCC"}, h.Add(-7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	a := got["AAAAAAAA"]
	if a.Decrypts != 7 || a.Encrypts != 10 || !a.LastDecrypt.Equal(h.Add(time.Hour)) {
		t.Fatalf("AAAAAAAA %+v", a)
	}
	if _, ok := got["BBBBBBBB"]; ok {
		t.Fatal("a key with no use has an entry")
	}
	if c := got["CCCCCCCC"]; c.Decrypts != 0 || !c.LastDecrypt.IsZero() {
		t.Fatalf("CCCCCCCC %+v", c)
	}
}

// The latest use in an hour is kept across flushes (the latest wins, an
// older flush or one without it changes nothing), read back, and checked to
// lie in its hour.
func TestUsageKeepsTheLastUse(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	h := time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)
	for _, u := range []engine.Usage{
		{Hour: h, Application: "crm", KeyID: "AAAAAAAA", Encrypts: 1}, // written before last use was kept
		{Hour: h, Application: "crm", KeyID: "AAAAAAAA", Encrypts: 1, Last: h.Add(41*time.Minute + 7*time.Second)},
		{Hour: h, Application: "crm", KeyID: "AAAAAAAA", Decrypts: 1, Last: h.Add(12 * time.Minute)}, // an older flush
		{Hour: h, Application: "crm", KeyID: "AAAAAAAA", Encrypts: 1},
	} {
		if err := s.AddUsage(ctx, []engine.Usage{u}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Usage(ctx, UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Encrypts != 3 || got[0].Decrypts != 1 || !got[0].Last.Equal(h.Add(41*time.Minute+7*time.Second)) {
		t.Fatalf("usage %+v, want 3/1 with last use 17:41:07", got)
	}
	if err := s.AddUsage(ctx, []engine.Usage{{Hour: h, Application: "crm", KeyID: "AAAAAAAA", Encrypts: 1, Last: h.Add(2 * time.Hour)}}); err == nil {
		t.Error("a last use outside its hour was stored")
	}
}

// UsageTotals is what summing Usage's hourly rows per key gives: sums, the
// first hour and the latest use, over many hours, with and without a range.
func TestUsageTotalsSumTheHours(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var add []engine.Usage
	for i := 0; i < 500; i++ {
		h := base.Add(time.Duration(i) * time.Hour)
		u := engine.Usage{Hour: h, Application: []string{"crm", "hr"}[i%2], KeyID: []string{"AAAAAAAA", "BBBBBBBB", "CCCCCCCC"}[i%3], Encrypts: int64(i), Decrypts: int64(2 * i)}
		if i%5 == 0 {
			u.Last = h.Add(17 * time.Minute)
		}
		add = append(add, u)
	}
	if err := s.AddUsage(ctx, add); err != nil {
		t.Fatal(err)
	}
	for _, q := range []UsageQuery{{}, {Application: "crm"}, {From: base.Add(100 * time.Hour), To: base.Add(333 * time.Hour)}} {
		hours, err := s.Usage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		// The report adds the hours up per key the same way (the daemon
		// hands it these totals).
		in := make([]report.UsageHour, 0, len(hours))
		for _, h := range hours {
			in = append(in, report.UsageHour{Hour: h.Hour, App: h.Application, KeyID: h.KeyID, Encrypts: h.Encrypts, Decrypts: h.Decrypts, Last: h.Last})
		}
		want := map[string]report.UsageRow{}
		for _, row := range report.BuildUsage(in, nil, report.Range{From: base, To: base.Add(500 * time.Hour)}).Rows {
			want[row.App+"/"+row.KeyID] = row
		}
		got, err := s.UsageTotals(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%+v: %d totals, want %d", q, len(got), len(want))
		}
		for _, g := range got {
			w := want[g.Application+"/"+g.KeyID]
			if !g.Hour.Equal(w.First) || !g.Last.Equal(w.Last) || g.Encrypts != w.Encrypts || g.Decrypts != w.Decrypts {
				t.Errorf("%+v: %s/%s = %+v, want %+v", q, g.Application, g.KeyID, g, w)
			}
		}
	}
}

// usageTotalsFromHours is UsageTotals computed from the hourly rows alone,
// the reference for the daily table.
func usageTotalsFromHours(t *testing.T, s *Store, q UsageQuery) []engine.Usage {
	t.Helper()
	where, args := q.where()
	out, err := queryAll(context.Background(), s, "sum the hours", scanUsageTotal, `SELECT application, key_id, SUM(encrypts), SUM(decrypts), MIN(hour),
		MAX(MAX(hour, COALESCE(last_use, hour))) FROM usage WHERE `+where+` GROUP BY application, key_id ORDER BY application, key_id`, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUsageTotalsFromTheDailyTable: through the proxy's increments, the
// roll-up of old days and retention, UsageTotals (whole days from
// usage_daily, the ends from the hours) equals the sum of the hourly rows
// for ranges that cut days anywhere, with and without filters.
func TestUsageTotalsFromTheDailyTable(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	rng := rand.New(rand.NewSource(3))
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	check := func(when string) {
		t.Helper()
		for i := 0; i < 60; i++ {
			q := UsageQuery{}
			if i%5 != 0 {
				q.From = base.Add(time.Duration(rng.Int63n(int64(40 * 24 * time.Hour))))
				q.To = q.From.Add(time.Duration(rng.Int63n(int64(30 * 24 * time.Hour))))
				if i%7 == 0 {
					q.From, q.To = q.From.Truncate(24*time.Hour), q.To.Truncate(24*time.Hour)
				}
			}
			if i%3 == 0 {
				q.Application = []string{"crm", "hr"}[rng.Intn(2)]
			}
			if i%4 == 0 {
				q.KeyID = []string{"AAAAAAAA", "BBBBBBBB", "CCCCCCCC"}[rng.Intn(3)]
			}
			got, err := s.UsageTotals(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if want := usageTotalsFromHours(t, s, q); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: %+v:\n got %+v\nwant %+v", when, q, got, want)
			}
		}
	}
	for round := 0; round < 12; round++ {
		var add []engine.Usage
		for i := 0; i < 50; i++ {
			h := base.Add(time.Duration(rng.Intn(40*24)) * time.Hour)
			u := engine.Usage{Hour: h, Application: []string{"crm", "hr"}[rng.Intn(2)], KeyID: []string{"AAAAAAAA", "BBBBBBBB", "CCCCCCCC"}[rng.Intn(3)],
				Encrypts: int64(rng.Intn(5)), Decrypts: int64(rng.Intn(5))}
			if rng.Intn(2) == 0 {
				u.Last = h.Add(time.Duration(rng.Int63n(int64(time.Hour))))
			}
			add = append(add, u)
		}
		if err := s.AddUsage(ctx, add); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("round %d", round))
		switch round {
		case 5:
			if err := s.RollUpUsage(ctx, base.Add(10*24*time.Hour), time.Time{}); err != nil {
				t.Fatal(err)
			}
			check("after a roll-up")
		case 9:
			if err := s.RollUpUsage(ctx, base.Add(20*24*time.Hour), base.Add(5*24*time.Hour+7*time.Hour)); err != nil {
				t.Fatal(err)
			}
			check("after a roll-up and retention")
		}
	}
}

// TestUsageDailyMigrationSumsExistingRows: hourly rows written before the
// daily table existed are summed into it by the migration.
func TestUsageDailyMigrationSumsExistingRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyward.db")
	old := openAt(t, path, migrationBefore(t, "_usage_daily.sql"))
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var add []engine.Usage
	for i := 0; i < 200; i++ {
		add = append(add, engine.Usage{Hour: base.Add(time.Duration(i*7) * time.Hour), Application: "crm", KeyID: "AAAAAAAA", Encrypts: int64(i), Decrypts: 1})
	}
	if err := old.AddUsage(ctx, add); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s := openFile(t, path)
	defer s.Close()
	q := UsageQuery{From: base.Add(30 * time.Hour), To: base.Add(40 * 24 * time.Hour)}
	got, err := s.UsageTotals(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if want := usageTotalsFromHours(t, s, q); !reflect.DeepEqual(got, want) || len(want) != 1 {
		t.Fatalf("after the migration:\n got %+v\nwant %+v", got, want)
	}
}
