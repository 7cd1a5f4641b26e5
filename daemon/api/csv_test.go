package api

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

// A key named like a formula reaches the CSV as text a spreadsheet shows,
// not runs; numbers, dates and ordinary names are unchanged.
func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("http://x","y")`: `'=HYPERLINK("http://x","y")`,
		"+1+cmd":                     "'+1+cmd",
		"@SUM(A1)":                   "'@SUM(A1)",
		"-2+3":                       "'-2+3",
		"\tx":                        "'\tx",
		"-12.5":                      "-12.5",
		"42":                         "42",
		"2026-12-04T10:00:00Z":       "2026-12-04T10:00:00Z",
		"acme-crm-field-kek":         "acme-crm-field-kek",
		"":                           "",
	} {
		rec := []string{in}
		if got := CSVSafe(rec)[0]; got != want {
			t.Errorf("CSVSafe(%q) = %q, want %q", in, got, want)
		}
		if rec[0] != in {
			t.Errorf("CSVSafe changed its input %q", in)
		}
	}
}

// checkKeyCSV: AppendKeyCSV writes what csv.Writer writes for the key's
// guarded record, classified at one instant.
func checkKeyCSV(t *testing.T, k engine.Key) {
	t.Helper()
	now, th := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC), engine.DefaultThresholds()
	aged := k
	a := engine.Classify(k, now, th)
	aged.Aging = &a
	var want bytes.Buffer
	cw := csv.NewWriter(&want)
	if err := cw.Write(CSVSafe(KeyCSVRecord(aged))); err != nil {
		t.Fatal(err)
	}
	cw.Flush()
	c := engine.NewClassifier(now, th).Classify(&k)
	got := AppendKeyCSV([]byte("x"), &k, &c)
	if string(got[1:]) != want.String() || got[0] != 'x' {
		t.Fatalf("%+v:\n got %q\nwant %q", k, got, "x"+want.String())
	}
}

func TestAppendKeyCSVIsCSVWriter(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)
	exp := at.Add(10 * 24 * time.Hour)
	for _, k := range []engine.Key{
		{},
		{ID: "kms/a", Source: "kms", Name: "a", Algorithm: "AES", Length: 256, State: engine.StateActive, Created: &at, Expires: &exp, Updated: at},
		{ID: "kms/a/3", Source: "kms", Name: "a", Version: "3", Application: "crm", Fingerprint: "ab", State: engine.StateDestroyed,
			Created: &at, Activated: &at, Deactivated: &at, Destroyed: &at, Deleted: &at, PurgeAt: &at, LinkedTo: "aws/k", Updated: at.In(time.FixedZone("", 3600))},
		{ID: "=cmd|' /C calc'!A0", Name: "-2+3", Algorithm: "-1.5", Version: " lead", Application: "a,b", Fingerprint: "q\"uote", LinkedTo: "\\.", Updated: at},
		{ID: "clé", Name: "line\nbreak", Algorithm: "\r", Source: "@x", State: "+", Updated: at},
		{ID: "year", Updated: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Created: &time.Time{}},
	} {
		checkKeyCSV(t, k)
	}
	// Each odd value alone in each text cell of a plain key.
	for _, odd := range []string{"=1", "+1", "@a", "-x", "-1.5", " lead", "\tx", "\rx", "a,b", "q\"", "\\.", "\\", "line\nbreak", "clé", "\u00a0nbsp", "ok"} {
		for i := range 7 {
			k := engine.Key{ID: "kms/a", Source: "kms", Name: "a", Algorithm: "AES", State: engine.StateActive, Updated: at}
			*[]*string{&k.ID, &k.Source, &k.Name, &k.Version, &k.Application, &k.Algorithm, &k.LinkedTo}[i] = odd
			checkKeyCSV(t, k)
		}
	}
}

// TestAppendKeyCSVDoesNotAllocate: a plain key costs no allocation.
func TestAppendKeyCSVDoesNotAllocate(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)
	k := engine.Key{ID: "kms/a/3", Source: "kms", Name: "a", Version: "3", Algorithm: "AES", Length: 256, State: engine.StateActive,
		Created: &at, Expires: &at, Updated: at}
	cl := engine.NewClassifier(at, engine.DefaultThresholds())
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { c := cl.Classify(&k); buf = AppendKeyCSV(buf[:0], &k, &c) }); n != 0 {
		t.Fatalf("%v allocations per key", n)
	}
}

func FuzzAppendKeyCSV(f *testing.F) {
	f.Add("kms/a", "a", "AES", "active", "crm", "aws/k", int64(1764864000123), 256)
	f.Add("=1", " x", "-1", "\\.", "a,b", "\"", int64(-62135596800000), 0)
	f.Fuzz(func(t *testing.T, id, name, alg, state, app, linked string, ms int64, length int) {
		at := time.UnixMilli(ms)
		k := engine.Key{ID: id, Source: app, Name: name, Version: linked, Algorithm: alg, State: engine.State(state), Application: app,
			Fingerprint: name, Length: length, LinkedTo: linked, Updated: at}
		if ms%2 == 0 {
			k.Created, k.Expires, k.Rotated = &at, &at, &at
		}
		checkKeyCSV(t, k)
	})
}
