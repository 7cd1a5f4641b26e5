package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// bulkKeys makes n keys of one source with spread ages and expiries.
func bulkKeys(n int) []engine.Key {
	keys := make([]engine.Key, n)
	for i := range keys {
		created := now.Add(-time.Duration(i%900) * 24 * time.Hour).Truncate(time.Second)
		expires := created.Add(time.Duration(365+i%400) * 24 * time.Hour)
		name := fmt.Sprintf("bulk.key.%d", i)
		sum := sha256.Sum256([]byte(name))
		keys[i] = engine.Key{ID: engine.KeyID("acme-kms", name, ""), Source: "acme-kms", Name: name,
			Algorithm: "AES", Length: 256, State: engine.StateActive, Created: &created, Expires: &expires,
			Fingerprint: hex.EncodeToString(sum[:])}
	}
	return keys
}

// firstFrame runs a new TUI model on the daemon at socket until the Keys
// pane shows its first page, and returns that frame.
func firstFrame(tb testing.TB, socket string) string {
	d := newDriver(tb, socket)
	defer d.Model.Close()
	d.Start(80, 24)
	return d.Model.View()
}

// BenchmarkDaemon measures the TUI against the real daemon over its socket
// (SQLite behind it) with 100 and 100,000 keys, each inventory seeded once:
//   - first-frame: a new model until the Keys pane shows its first page;
//   - page-down: one page of scrolling (one request, one frame).
//
// Only the page on screen is asked for, so the inventory's size should
// barely matter to the TUI; what remains is the daemon's query time.
func BenchmarkDaemon(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		cfg := testConfig(b)
		runDaemon(b, cfg, bulkKeys(n))
		socket := cfg.SocketPath()
		b.Run(fmt.Sprintf("first-frame/keys=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if v := firstFrame(b, socket); !strings.Contains(v, "bulk.key.0 ") {
					b.Fatalf("first frame lacks the first key:\n%s", v)
				}
			}
		})
		b.Run(fmt.Sprintf("page-down/keys=%d", n), func(b *testing.B) {
			d := keysPage(b, socket)
			for i := 0; i < b.N; i++ {
				before := d.Model.Active().StatusValue()
				if strings.HasSuffix(strings.Fields(before)[0], fmt.Sprint(n)) { // at the end: back to the top
					d.Key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'g'}}, before)
					continue
				}
				d.Key(tea.KeyMsg{Type: tea.KeyPgDown}, before)
				_ = d.Model.View()
			}
		})
		// G: the last page in one request (the reverse order's first
		// page), however long the inventory; g (untimed) goes back.
		b.Run(fmt.Sprintf("last-page/keys=%d", n), func(b *testing.B) {
			d := keysPage(b, socket)
			for i := 0; i < b.N; i++ {
				d.Key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'G'}}, d.Model.Active().StatusValue())
				if v := d.Model.View(); !strings.Contains(v, fmt.Sprintf("of %d keys", n)) || !strings.Contains(v, fmt.Sprintf("–%d of", n)) {
					b.Fatalf("G did not reach the last page (%s):\n%s", d.Model.Active().StatusValue(), v)
				}
				b.StopTimer()
				d.Key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'g'}}, d.Model.Active().StatusValue())
				b.StartTimer()
			}
		})
	}
}

// keysPage is a driver of a new model at 80×24 showing the Keys pane's
// first page, closed when the benchmark's run ends; the timer starts after
// it.
func keysPage(b *testing.B, socket string) *tuitest.Driver {
	d := newDriver(b, socket)
	b.Cleanup(func() { d.Model.Close() })
	d.Start(80, 24)
	b.ResetTimer()
	return d
}

// clients holds one API client per socket: models made one after the
// other (first-frame) share its idle connections, as one TUI does, instead
// of each leaving its own open until the daemon's per-user limit (64)
// refuses the next.
var clients sync.Map

func newDriver(tb testing.TB, socket string) *tuitest.Driver {
	c, _ := clients.LoadOrStore(socket, api.NewClient(socket))
	return tuitest.NewDriver(tb, tui.New(context.Background(), c.(*api.Client), tui.Options{Now: func() time.Time { return now }}))
}
