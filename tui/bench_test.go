package tui_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// pagedBackend stands in for a daemon with an index on the sort column: it
// serves a page of a pre-sorted inventory in time independent of its size,
// so the benchmark measures the TUI, not a fixture's sort.
type pagedBackend struct {
	tuitest.Unserved
	keys   []engine.Key
	status api.Status
	asked  int // rows asked for, over all requests
}

func newPagedBackend(n int) *pagedBackend {
	b := &pagedBackend{keys: make([]engine.Key, n)}
	th := engine.DefaultThresholds()
	for i := range b.keys {
		created := fixedNow.Add(-time.Duration(i%900) * 24 * time.Hour)
		expires := created.Add(time.Duration(365+i%400) * 24 * time.Hour)
		k := engine.Key{ID: fmt.Sprintf("kms/key-%07d/1", i), Source: "kms", Name: fmt.Sprintf("key-%07d", i), Version: "1",
			Algorithm: "AES", Length: 256, State: engine.StateActive, Created: &created, Expires: &expires,
			Fingerprint: fmt.Sprintf("sha256:%064x", i), Application: "app"}
		a := engine.Classify(k, fixedNow, th)
		k.Aging = &a
		b.keys[i] = k
	}
	b.status = api.Status{Version: "bench", Keys: n, Sources: []engine.Source{{Name: "kms", Kind: "kmip", Health: engine.HealthOK}}}
	return b
}

func (b *pagedBackend) Status(context.Context) (*api.Status, error) { s := b.status; return &s, nil }
func (b *pagedBackend) Key(_ context.Context, id string) (*api.KeyDetail, error) {
	return &api.KeyDetail{Key: b.keys[0]}, nil
}
func (b *pagedBackend) Sources(context.Context) ([]api.SourceInfo, error) {
	return []api.SourceInfo{{Source: b.status.Sources[0]}}, nil
}
func (b *pagedBackend) Keys(_ context.Context, q api.KeyQuery) (*api.KeysPage, error) {
	start := 0
	if q.Cursor != "" {
		start, _ = strconv.Atoi(q.Cursor)
	}
	end := min(len(b.keys), start+q.Limit)
	b.asked += end - start
	p := &api.KeysPage{Keys: b.keys[start:end], Total: len(b.keys)}
	if end < len(b.keys) {
		p.NextCursor = strconv.Itoa(end)
	}
	return p, nil
}
func (b *pagedBackend) Watch(ctx context.Context, fn func(api.Notification)) error {
	s := b.status
	fn(api.Notification{Type: api.NoteHello, Status: &s})
	<-ctx.Done()
	return ctx.Err()
}

// firstFrame starts a model on b at 80×24 and returns the first frame that
// shows keys.
func firstFrame(tb testing.TB, b tui.Backend) string {
	m := tui.New(context.Background(), b, tui.Options{Now: func() time.Time { return fixedNow }})
	defer m.Close()
	d := tuitest.NewDriver(tb, m)
	d.Start(80, 24)
	return m.View()
}

// BenchmarkFirstFrame is the time from a new model to the first frame with
// keys on screen, with 100 and 100,000 keys in the inventory. Only the page
// on screen is fetched, so the two should cost the same.
func BenchmarkFirstFrame(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		be := newPagedBackend(n)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			be.asked = 0
			for i := 0; i < b.N; i++ {
				if v := firstFrame(b, be); !strings.Contains(v, "key-0000000") {
					b.Fatalf("first frame lacks the first key:\n%s", v)
				}
			}
			b.ReportMetric(float64(be.asked)/float64(b.N), "rows-fetched/op")
		})
	}
}

// BenchmarkPageDown is the time to show the next page (one request, one frame)
// in an inventory of 100,000 keys.
func BenchmarkPageDown(b *testing.B) {
	be := newPagedBackend(100_000)
	m := tui.New(context.Background(), be, tui.Options{Now: func() time.Time { return fixedNow }})
	defer m.Close()
	d := tuitest.NewDriver(b, m)
	d.Start(80, 24)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := m.Active().StatusValue()
		d.Key(tea.KeyMsg{Type: tea.KeyPgDown}, before)
		_ = m.View()
		if i%4000 == 3999 { // stay inside the inventory
			d.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'g'}})
			d.Until(func() bool { return strings.HasPrefix(m.Active().StatusValue(), "1–") })
		}
	}
}

// TestFirstFrameFetchesOnePage checks that starting the TUI on a large
// inventory asks for one screenful of rows, not the inventory.
func TestFirstFrameFetchesOnePage(t *testing.T) {
	be := newPagedBackend(100_000)
	v := firstFrame(t, be)
	if !strings.Contains(v, "1–18 of 100000 keys") {
		t.Errorf("first frame:\n%s", v)
	}
	if be.asked > 18 {
		t.Errorf("first frame fetched %d rows, want one page of 18", be.asked)
	}
}
