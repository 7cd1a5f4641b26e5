package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
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
func firstFrame(socket string) string {
	d := newDriver(socket)
	defer d.m.Close()
	d.start()
	return d.m.View()
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
				if v := firstFrame(socket); !strings.Contains(v, "bulk.key.0 ") {
					b.Fatalf("first frame lacks the first key:\n%s", v)
				}
			}
		})
		b.Run(fmt.Sprintf("page-down/keys=%d", n), func(b *testing.B) {
			d := newDriver(socket)
			defer d.m.Close()
			d.start()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				before := d.m.Active().StatusValue()
				if strings.HasSuffix(strings.Fields(before)[0], fmt.Sprint(n)) { // at the end: back to the top
					d.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'g'}}, before)
					continue
				}
				d.key(tea.KeyMsg{Type: tea.KeyPgDown}, before)
				_ = d.m.View()
			}
		})
	}
}

// driver runs a model as bubbletea does: commands in goroutines, their
// messages through Update one at a time.
type driver struct {
	m    *tui.Model
	msgs chan tea.Msg
}

func newDriver(socket string) *driver {
	m := tui.New(context.Background(), api.NewClient(socket), tui.Options{Now: func() time.Time { return now }})
	return &driver{m: m, msgs: make(chan tea.Msg, 64)}
}

func (d *driver) run(c tea.Cmd) {
	if c != nil {
		go func() { d.msgs <- c() }()
	}
}

func (d *driver) send(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
	default:
		_, cmd := d.m.Update(msg)
		d.run(cmd)
	}
}

// start shows the first frame.
func (d *driver) start() {
	d.run(d.m.Init())
	d.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	for d.m.Active().StatusValue() == "" {
		d.send(<-d.msgs)
	}
}

// key presses k and waits until the Keys pane's position changes from before.
func (d *driver) key(k tea.KeyMsg, before string) {
	d.send(k)
	for d.m.Active().StatusValue() == before {
		d.send(<-d.msgs)
	}
}
