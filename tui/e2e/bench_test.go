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

// firstFrame runs a new TUI model on the daemon at socket as bubbletea does
// (commands in goroutines, messages through Update) until the Keys pane shows
// its first page, and returns that frame.
func firstFrame(socket string) string {
	m := tui.New(context.Background(), api.NewClient(socket), tui.Options{Now: func() time.Time { return now }})
	defer m.Close()
	msgs := make(chan tea.Msg, 64)
	var run func(tea.Cmd)
	run = func(c tea.Cmd) {
		if c != nil {
			go func() { msgs <- c() }()
		}
	}
	send := func(msg tea.Msg) {
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range msg {
				run(c)
			}
		default:
			_, cmd := m.Update(msg)
			run(cmd)
		}
	}
	run(m.Init())
	send(tea.WindowSizeMsg{Width: 80, Height: 24})
	for m.Active().StatusValue() == "" {
		send(<-msgs)
	}
	return m.View()
}

// BenchmarkFirstFrameDaemon is the TUI's first frame against the real daemon
// over its socket (SQLite behind it), with 100 and 100,000 keys: only the
// page on screen is asked for, so the inventory's size should barely matter.
func BenchmarkFirstFrameDaemon(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			cfg := testConfig(b)
			runDaemon(b, cfg, bulkKeys(n))
			socket := cfg.SocketPath()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if v := firstFrame(socket); !strings.Contains(v, "bulk.key.0 ") {
					b.Fatalf("first frame lacks the first key:\n%s", v)
				}
			}
		})
	}
}
