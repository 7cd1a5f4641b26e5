package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// TestLinkIsTheDocumentedEncoding rebuilds the hash byte by byte from the
// README's description (domain, 0, seq, prev, id, time, 7 length-prefixed
// strings), so the encoding cannot drift without this failing.
func TestLinkIsTheDocumentedEncoding(t *testing.T) {
	e := engine.Event{ID: 7, Time: t0, KeyID: "kms/k", Source: "kms", Operation: "deleted", Actor: "alice",
		Origin: engine.OriginKeyward, Severity: engine.SeverityAlert, Details: "é"}
	var prev Hash
	prev[0] = 0xAB
	var b []byte
	b = append(b, "keyward/audit/event/v1"...)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, 3)
	b = append(b, prev[:]...)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 7)
	ms := t0.UnixMilli()
	for i := 7; i >= 0; i-- {
		b = append(b, byte(ms>>(8*i)))
	}
	for _, f := range []string{"kms/k", "kms", "deleted", "alice", "keyward", "alert", "é"} {
		b = append(b, 0, 0, 0, byte(len(f)))
		b = append(b, f...)
	}
	want := sha256.Sum256(b)
	if got := Link(3, prev, e); got != Hash(want) {
		t.Fatalf("Link = %s, want %s", got, hex.EncodeToString(want[:]))
	}
	// Moving a byte between two fields changes the encoding.
	e2 := e
	e2.KeyID, e2.Source = "kms/kk", "ms"
	if Link(3, prev, e2) == Link(3, prev, e) {
		t.Fatal("fields are not delimited")
	}
}

func chain(n int) []Entry {
	var out []Entry
	prev := Genesis
	for i := 1; i <= n; i++ {
		e := engine.Event{ID: int64(i), Time: t0.Add(time.Duration(i) * time.Second), Operation: "op", Actor: "a", Origin: engine.OriginSystem}
		h := Link(int64(i), prev, e)
		out = append(out, Entry{Seq: int64(i), Prev: prev, Hash: h, Event: e})
		prev = h
	}
	return out
}

func walk(entries []Entry) *Break {
	w := NewWalk(1, Genesis)
	w.Lookup = func(h Hash) (int64, bool) {
		for _, e := range entries {
			if e.Hash == h {
				return e.Seq, true
			}
		}
		return 0, false
	}
	for _, e := range entries {
		if b := w.Check(e); b != nil {
			return b
		}
	}
	return nil
}

func TestWalkNamesEachTampering(t *testing.T) {
	if b := walk(chain(6)); b != nil {
		t.Fatalf("intact chain: %v", b)
	}
	tests := []struct {
		name   string
		tamper func([]Entry) []Entry
		kind   string
		seq    int64
	}{
		{"edited", func(c []Entry) []Entry { c[2].Event.Details = "x"; return c }, Edited, 3},
		{"edited and rehashed", func(c []Entry) []Entry {
			c[2].Event.Details = "x"
			c[2].Hash = Link(3, c[2].Prev, c[2].Event)
			return c
		}, Edited, 3},
		{"deleted", func(c []Entry) []Entry { return append(c[:2], c[3:]...) }, Deleted, 3},
		{"deleted and renumbered", func(c []Entry) []Entry {
			c = append(c[:2], c[3:]...)
			for i := 2; i < len(c); i++ {
				c[i].Seq--
			}
			return c
		}, Deleted, 3},
		{"reordered", func(c []Entry) []Entry {
			c[1], c[3] = c[3], c[1]
			c[1].Seq, c[3].Seq = 2, 4
			return c
		}, Reordered, 2},
		{"inserted", func(c []Entry) []Entry {
			fake := engine.Event{ID: 99, Time: t0, Operation: "forged", Actor: "a", Origin: engine.OriginSystem}
			f := Entry{Seq: 3, Prev: c[1].Hash, Event: fake}
			f.Hash = Link(3, f.Prev, fake)
			c = append(c[:2], append([]Entry{f}, c[2:]...)...)
			for i := 3; i < len(c); i++ {
				c[i].Seq++
			}
			return c
		}, Inserted, 4},
		{"duplicate seq", func(c []Entry) []Entry {
			d := c[2]
			d.Event.ID = 50
			return append(c[:3], append([]Entry{d}, c[3:]...)...)
		}, Inserted, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := walk(tc.tamper(chain(6)))
			if b == nil || b.Kind != tc.kind || b.Seq != tc.seq {
				t.Fatalf("break = %v, want %s at seq %d", b, tc.kind, tc.seq)
			}
		})
	}
}

func TestCheckpointText(t *testing.T) {
	c := Checkpoint{Origin: "keyward-audit", Size: 42, Head: Link(1, Genesis, engine.Event{}), Time: t0}
	got, err := ParseCheckpoint(c.Text())
	if err != nil || got != c {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "o\n1\n", "o\n-1\nAA==\ntime 2026-01-01T00:00:00Z\n", "o\n01\n" + strings.Repeat("A", 44) + "\ntime x\n"} {
		if _, err := ParseCheckpoint(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add(Checkpoint{Origin: "keyward-audit", Size: 3, Time: t0}.Text())
	f.Add("x\n1\nAA==\ntime 2026\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCheckpoint(s)
		if err != nil {
			return
		}
		again, err := ParseCheckpoint(c.Text())
		if err != nil || again.Size != c.Size || again.Head != c.Head || !again.Time.Equal(c.Time) {
			t.Fatalf("%q: parsed %+v, its text parses as %+v (%v)", s, c, again, err)
		}
	})
}
