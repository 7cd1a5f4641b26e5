package schedulepane

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/tuitest/scheddata"
)

var fixedNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func pane(st *styles.Styles) *Model {
	c := &common.Context{Ctx: context.Background(), Styles: st, Keys: common.DefaultKeyMap(), Now: func() time.Time { return fixedNow },
		Timeout: time.Second, Width: 80, Height: 24}
	m := New(c)
	m.SetSize(80, 21)
	m.Update(listMsg{scheds: scheddata.SampleSchedules(fixedNow)})
	return m
}

// The pane's body at 80 columns, in colour (a pinned 256-colour profile)
// and without (NO_COLOR: the colourless styles, Ascii): the selected row
// is marked › either way, the history strip reads by its glyphs' heights.
func TestRenderGoldens(t *testing.T) {
	defer lipgloss.SetColorProfile(lipgloss.ColorProfile())
	for _, tc := range []struct {
		name    string
		profile termenv.Profile
		st      *styles.Styles
	}{
		{"colour", termenv.ANSI256, styles.Default()},
		{"nocolor", termenv.Ascii, styles.NoColor()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lipgloss.SetColorProfile(tc.profile)
			m := pane(tc.st)
			m.Update(keyMsg("j"))
			m.Update(keyMsg("j"))
			view := m.View()
			for i, l := range strings.Split(view, "\n") {
				if w := lipgloss.Width(l); w > 80 {
					t.Errorf("line %d is %d wide", i, w)
				}
			}
			if !strings.Contains(view, "›crm-rotation") || !strings.Contains(view, "weekly-expiring-rotation") {
				t.Errorf("view:\n%s", view)
			}
			if tc.profile == termenv.ANSI256 && !strings.Contains(view, "\x1b[") {
				t.Error("no colour in the colour profile")
			}
			if tc.profile == termenv.Ascii && strings.Contains(view, "\x1b[") {
				t.Error("escape sequences without colour")
			}
			golden.RequireEqual(t, []byte(view))
		})
	}
}

func TestHistory(t *testing.T) {
	runs := []schedule.Run{{Status: schedule.RunRunning}, {Status: schedule.RunPartial}, {Status: schedule.RunSkipped}, {Status: schedule.RunFailed}, {Status: schedule.RunDone}}
	if got := History(runs, 7); got != "  █▁·▄…" {
		t.Errorf("History = %q", got)
	}
	if got := History(runs, 3); got != "·▄…" {
		t.Errorf("History narrow = %q (the newest stay)", got)
	}
}

func keyMsg(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

// The pane describes a schedule's selection as the CLI does, its tags in
// the same order every time (a map's order is random: the pane used to
// list them as they came).
func TestDescribeIsStable(t *testing.T) {
	s := api.ScheduleInfo{Spec: schedule.Spec{Kind: schedule.KindRotate, Sources: []string{"acme-kms"},
		Tags: map[string]string{"team": "payments", "env": "prod", "cost": "eu-1", "tier": "gold"}}}
	want := "sources acme-kms; tags cost=eu-1, env=prod, team=payments, tier=gold"
	for range 30 {
		if got := describe(s); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	}
	if got := describe(api.ScheduleInfo{Spec: schedule.Spec{Kind: schedule.KindRotate}}); got != "everything" {
		t.Errorf("a schedule of everything: %q", got)
	}
}
