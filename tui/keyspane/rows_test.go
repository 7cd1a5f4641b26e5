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

func TestRow(t *testing.T) {
	k := engine.Key{ID: "kms/a.b/3", Source: "kms", Name: "a.b", Version: "3", Algorithm: "AES", Length: 256,
		State: engine.StateActive, Fingerprint: "sha256:00112233445566778899", Created: ptr(now.Add(-400 * 24 * time.Hour)),
		Expires: ptr(now.Add(5 * 24 * time.Hour))}
	a := engine.Classify(k, now, engine.DefaultThresholds())
	k.Aging = &a
	got := Row(k, now, styles.Default())
	want := map[int]string{colName: "a.b", colSource: "kms", colApplication: "—", colVersion: "3", colAlgorithm: "AES-256",
		colState: "active", colAging: "expiring-7d", colExpires: "2026-11-28", colAge: "1y35d", colFingerprint: "001122334455"}
	for i, w := range want {
		if got[i].Text != w {
			t.Errorf("column %s = %q, want %q", Columns()[i].Title, got[i].Text, w)
		}
	}
}

func TestAgingLabel(t *testing.T) {
	for b, want := range map[engine.Bucket]string{
		engine.BucketExpired:      "expired",
		engine.ExpiringBucket(30): "expiring-30d",
		engine.BucketOverdue:      "rotation-overdue",
		engine.BucketHealthy:      "healthy",
		engine.BucketRetired:      "retired",
	} {
		if got := AgingLabel(b); got != want {
			t.Errorf("AgingLabel(%s) = %q, want %q", b, got, want)
		}
		if w := lipgloss.Width(AgingLabel(b)); w > Columns()[colAging].Width {
			t.Errorf("label %q is wider than the AGING column", AgingLabel(b))
		}
	}
}

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
