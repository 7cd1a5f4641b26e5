package tui_test

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
)

// Filters cycle both ways (F O A go backwards) and esc clears them all.
func TestFiltersBothWaysAndClearAll(t *testing.T) {
	tm := startLoaded(t, newFixture(), 80, 24)
	press(tm, "F") // all → the last state
	waitFor(t, tm, "state purged")
	press(tm, "F") // → the one before
	waitFor(t, tm, "state destroyed")
	press(tm, "f", "f") // forwards: purged, then all again
	waitFor(t, tm, "of 15 keys")
	press(tm, "O") // the last source
	waitFor(t, tm, "source demo")
	press(tm, "A") // the last bucket
	waitFor(t, tm, "aging retired")
	press(tm, "F", "/", "key", "enter")
	waitFor(t, tm, `filter "key"`)
	press(tm, "esc")
	waitFor(t, tm, "of 15 keys")
	view := golden(t, tm, 80, 24)
	if line := strings.Split(view, "\n")[2]; strings.TrimSpace(line) != "sort name ↑" {
		t.Errorf("esc left a filter on: %q", line)
	}
}

// O goes backwards through the sources in the report panes too.
func TestReportSourceBackwards(t *testing.T) {
	tm := start(t, newFixture(), 80, 24)
	waitFor(t, tm, "● connected")
	press(tm, "2", "O")
	waitFor(t, tm, "source demo")
	press(tm, "O")
	waitFor(t, tm, "source vault-emu")
	_ = finalView(t, tm)
}

// G reaches the last page in one request however long the list (the
// reverse order's first page), pgup walks back from there, g returns to
// the top; ctrl+d and ctrl+u move half a page, across pages.
func TestHomeEndHalfPages(t *testing.T) {
	f := newFixture()
	manyExpiring(f, 45) // 60 keys, 18 rows a page at 80×24
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "acme.crm.key.0", "● connected", "1–18 of 60 keys")
	press(tm, "G")
	waitFor(t, tm, "43–60 of 60 keys")
	tm.Send(tea.KeyMsg{Type: tea.KeyPgUp})
	waitFor(t, tm, "25–42 of 60 keys")
	press(tm, "g")
	waitFor(t, tm, "1–18 of 60 keys")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlD})
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlD})
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlD}) // rows 9, 18 → the next page's row 9
	waitFor(t, tm, "19–36 of 60 keys")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlU})
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlU}) // row 0, then the previous page's row 9
	waitFor(t, tm, "1–18 of 60 keys")
	press(tm, "G")
	waitFor(t, tm, "43–60 of 60 keys")
	view := golden(t, tm, 80, 24)
	lines := strings.Split(view, "\n")
	if got := selectedRow(t, view); got != 17 || !strings.Contains(lines[4+17], "reporting.key.10") {
		t.Errorf("G selects row %d, want the last key (reporting.key.10):\n%s", got, view)
	}
}

// In a report, G follows the pages to the last and selects its last entry.
func TestReportEnd(t *testing.T) {
	f := newFixture()
	manyExpiring(f, 45)
	tm := start(t, f, 80, 24)
	openPane(t, tm, "2", "entries 1–14+")
	press(tm, "G")
	waitFor(t, tm, "entries 43–")
	view := finalView(t, tm)
	lines := strings.Split(view, "\n")
	sel := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "› ") {
			sel = i
		}
	}
	after := strings.TrimSpace(strings.Join(lines[sel+1:len(lines)-2], ""))
	if status := lines[len(lines)-1]; strings.Contains(status, "+") || sel < 0 || after != "" {
		t.Errorf("G did not reach the last entry:\n%s", view)
	}
}

// TestUsageSummaryCountsTheRest: with more applications than the usage
// summary's lines hold (AWS principals have long names: one a line at 80
// columns), the count of the others is shown whole: it used to be cut at
// the edge ("(+3 mor…").
func TestUsageSummaryCountsTheRest(t *testing.T) {
	f := newFixture()
	for i, role := range []string{"billing-batch", "crm-sync", "orders-api", "reporting-etl", "s3-replication"} {
		f.usage = append(f.usage, report.UsageHour{Hour: fixedNow.Add(-time.Duration(i+1) * time.Hour).Truncate(time.Hour),
			App: "arn:aws:iam::111122223333:role/" + role, KeyID: "aws-prod/0f1e2d3c-4b5a-4697-8877-66554433aa01/current", Encrypts: 145, Decrypts: 10})
	}
	tm := start(t, f, 80, 24)
	openPane(t, tm, "6", "more)")
	view := finalView(t, tm)
	if !strings.Contains(view, "(+4 more)") {
		t.Errorf("the usage summary does not say how many applications it leaves out:\n%s", view)
	}
}

// TestSourcesShowLongNamesWhenWide: a wide terminal shows a schedule's
// health row (schedule:NAME) and a long address whole; they were cut at 24
// and 40 cells with 100 columns to spare (schedule:weekly-expirin… at
// 200×50).
func TestSourcesShowLongNamesWhenWide(t *testing.T) {
	f := newFixture()
	f.sources = append(f.sources,
		api.SourceInfo{Source: engine.Source{Name: "schedule:weekly-expiring-rotation", Kind: "schedule", Health: engine.HealthUnknown}},
		api.SourceInfo{Source: engine.Source{Name: "gcp-demo", Kind: "gcp", Health: engine.HealthOK,
			Address: "projects/acme-prod-kms at kms-private.europe-west1.example.internal:443"}})
	tm := start(t, f, 200, 50)
	waitFor(t, tm, "● connected")
	press(tm, "5")
	// The status line counts the sources and the schedules apart: a
	// schedule is no source (it said "5 sources" of 4 and a schedule).
	waitFor(t, tm, "gcp-demo", "4 sources, 1 schedule, 1 degraded")
	view := finalView(t, tm)
	for _, want := range []string{"schedule:weekly-expiring-rotation ", "kms-private.europe-west1.example.internal:443"} {
		if !strings.Contains(view, want) {
			t.Errorf("the Sources pane at 200 columns cuts %q:\n%s", want, view)
		}
	}
}
