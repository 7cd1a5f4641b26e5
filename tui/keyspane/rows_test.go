package keyspane

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func ptr(t time.Time) *time.Time { return &t }

// TestAgingColouredAndReadable checks that with colours the aging cell is
// coloured by urgency, and that without them (NO_COLOR) the same words remain.
func TestAgingColouredAndReadable(t *testing.T) {
	defer lipgloss.SetColorProfile(lipgloss.ColorProfile())
	k := engine.Key{Name: "k", State: engine.StateActive, Aging: &engine.Aging{Bucket: engine.BucketExpired}}
	tb := table.Table{Columns: Columns()}
	tb.SetWidth(120)

	lipgloss.SetColorProfile(termenv.TrueColor)
	coloured := tb.RowView(Row(k, now, styles.Default()), false)
	if !strings.Contains(coloured, "\x1b[") || !strings.Contains(coloured, "expired") {
		t.Errorf("with colours, the expired cell is not coloured: %q", coloured)
	}
	lipgloss.SetColorProfile(termenv.Ascii)
	plain := tb.RowView(Row(k, now, styles.Default()), false)
	if strings.Contains(plain, "\x1b[") || !strings.Contains(plain, "expired") {
		t.Errorf("without colours the row should be plain text with the bucket name: %q", plain)
	}
	if sel := tb.RowView(Row(k, now, styles.Default()), true); !strings.HasPrefix(sel, "› ") {
		t.Errorf("selected row is not marked without colour: %q", sel)
	}
}

func TestWhen(t *testing.T) {
	if got := When(ptr(now.Add(72*time.Hour)), now); got != "2026-11-26 12:00 UTC (in 3d)" {
		t.Errorf("When = %q", got)
	}
	if got := When(ptr(now.Add(-3*time.Hour)), now); got != "2026-11-23 09:00 UTC (3h ago)" {
		t.Errorf("When = %q", got)
	}
	if got := When(nil, now); got != "—" {
		t.Errorf("When(nil) = %q", got)
	}
}
