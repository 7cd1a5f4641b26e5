package e2e

import (
	"os"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// BenchmarkScaleAgainstSocket measures the TUI against a daemon that is
// already running on KEYWARD_BENCH_SOCKET — for example one serving the
// million-key inventory of `keyward dev seed --keys 1000000 --events
// 10000000` (see BENCHMARKS.md). It is skipped when the variable is unset.
//   - first-frame: a new model until the Keys pane shows its first page;
//   - page-down: one page of scrolling (one request, one frame).
func BenchmarkScaleAgainstSocket(b *testing.B) {
	socket := os.Getenv("KEYWARD_BENCH_SOCKET")
	if socket == "" {
		b.Skip("set KEYWARD_BENCH_SOCKET to the socket of a running daemon")
	}
	b.Run("first-frame", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			d := newDriver(b, socket)
			d.Start(80, 24)
			if v := d.Model.View(); !strings.Contains(v, "of 1") {
				b.Fatalf("first frame shows no keys:\n%s", v)
			}
			d.Model.Close()
		}
	})
	b.Run("page-down", func(b *testing.B) {
		d := newDriver(b, socket)
		defer d.Model.Close()
		d.Start(80, 24)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			d.Key(tea.KeyMsg{Type: tea.KeyPgDown}, d.Model.Active().StatusValue())
		}
	})
}
