package dialog

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/styles"
)

func init() { lipgloss.SetColorProfile(termenv.Ascii) }

func typeText(k *common.KeyMap, upd func(tea.Msg), s string) {
	for _, r := range s {
		upd(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

var enter = tea.KeyMsg{Type: tea.KeyEnter}

func TestConfirmNeedsExactName(t *testing.T) {
	k := common.DefaultKeyMap()
	c := NewConfirm("Delete k1?", []string{"gone"}, "payments-wrap", true)
	var out Outcome
	upd := func(m tea.Msg) { out, _ = c.Update(m, k) }
	typeText(k, upd, "payments-war")
	upd(enter)
	if out != None || !c.Mismatch {
		t.Fatalf("a prefix of the name confirmed: outcome %v", out)
	}
	typeText(k, upd, "p")
	upd(enter)
	if out != None {
		t.Fatal("a misspelt name confirmed")
	}
	for range 3 { // "payments-warp" → "payments-w"
		upd(tea.KeyMsg{Type: tea.KeyBackspace})
	}
	if c.Mismatch {
		t.Error("the mismatch note stays while the name is edited")
	}
	typeText(k, upd, "rap")
	upd(enter)
	if out != Submit || c.Typed() != "payments-wrap" {
		t.Fatalf("the exact name did not confirm: %v %q", out, c.Typed())
	}
}

func TestPlainConfirmAndCancel(t *testing.T) {
	k := common.DefaultKeyMap()
	c := NewConfirm("Rotate?", nil, "", false)
	if out, _ := c.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'q'}}, k); out != None {
		t.Fatal("q answered a confirmation")
	}
	if out, _ := c.Update(tea.KeyMsg{Type: tea.KeyEsc}, k); out != Cancel {
		t.Fatal("esc did not cancel")
	}
	c.Status.Busy = "working"
	if out, _ := c.Update(enter, k); out != None {
		t.Fatal("enter while a request is in flight sent it again")
	}
}

func TestSecretFieldNeverDrawn(t *testing.T) {
	k := common.DefaultKeyMap()
	st := styles.Default()
	f := NewForm("Import", nil, NewField("Keystore", "", "/tmp/ks.jks"), SecretField("Password", "hidden"))
	f.Update(enter, k) // to the password field
	typeText(k, func(m tea.Msg) { f.Update(m, k) }, "hunter2 pw")
	if f.Raw(1) != "hunter2 pw" {
		t.Fatalf("password field holds %q", f.Raw(1))
	}
	if v := f.View(st, k, 80, 20); strings.Contains(v, "hunter2") {
		t.Fatalf("the password is drawn:\n%s", v)
	}
	if out, _ := f.Update(enter, k); out != Submit {
		t.Fatal("enter on the last field did not submit")
	}
	f.Clear()
	if f.Raw(1) != "" || f.Raw(0) != "/tmp/ks.jks" {
		t.Fatalf("Clear: password %q, path %q", f.Raw(1), f.Raw(0))
	}
}

func TestMenuKeysAndDisabled(t *testing.T) {
	k := common.DefaultKeyMap()
	m := &Menu{Title: "Actions", Items: []Item{
		{ID: "rotate", Key: k.ActRotate},
		{ID: "delete", Key: k.ActDelete, Disabled: true, Note: "needs the admin role"},
	}}
	if out := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'d'}}, k); out != Submit || !m.Chosen().Disabled {
		t.Fatalf("choosing a disabled item: %v %+v", out, m.Chosen())
	}
	m.Update(tea.KeyMsg{Type: tea.KeyUp}, k)
	if out := m.Update(enter, k); out != Submit || m.Chosen().ID != "rotate" {
		t.Fatalf("enter chose %+v", m.Chosen())
	}
}

// Every dialog fits the body of an 80×24 terminal (20 lines) and a narrow
// one, line by line, without colour.
func TestDialogsFit(t *testing.T) {
	k := common.DefaultKeyMap()
	st := styles.Default()
	long := strings.Repeat("a-very-long-vault-name-", 8)
	lines := make([]string, 60)
	for i := range lines {
		lines[i] = "MIIBszCCAVkCAQAwJTENMAsGA1UEChMEYWNtZTEUMBIGA1UEAxMLa2V5d2FyZC1jcm0" // a PEM line
	}
	views := map[string]func(w, h int) string{
		"menu": func(w, h int) string {
			m := &Menu{Title: "Actions — " + long, Intro: []string{long}, Items: []Item{{ID: "r", Key: k.ActRotate, Note: long}}}
			return m.View(st, k, w, h)
		},
		"confirm": func(w, h int) string {
			c := NewConfirm("Purge "+long+"?", []string{long, long}, long, true)
			c.Status.Err = long
			return c.View(st, k, w, h)
		},
		"form": func(w, h int) string {
			return NewForm("CSR", []string{long}, NewField("CN", long, long), SecretField("pw", "")).View(st, k, w, h)
		},
		"message": func(w, h int) string {
			return (&Message{Title: "CSR", Lines: lines, Status: Status{Err: long}}).View(st, k, w, h)
		},
	}
	for name, view := range views {
		for _, sz := range [][2]int{{80, 20}, {40, 12}, {200, 46}} {
			v := view(sz[0], sz[1])
			ls := strings.Split(v, "\n")
			if len(ls) != sz[1] {
				t.Errorf("%s at %dx%d: %d lines", name, sz[0], sz[1], len(ls))
			}
			for i, l := range ls {
				if w := lipgloss.Width(l); w > sz[0] {
					t.Errorf("%s at %dx%d: line %d is %d wide", name, sz[0], sz[1], i, w)
				}
			}
		}
	}
	// A long message keeps its footer: it scrolls instead.
	v := (&Message{Title: "CSR", Lines: lines}).View(st, k, 80, 20)
	if !strings.Contains(v, "enter/esc close") || !strings.Contains(v, "↓/j for more") {
		t.Errorf("a long message lost its footer:\n%s", v)
	}
}

// A menu longer than its box scrolls with the selection and keeps its
// footer; the lines say how many items are out of view.
func TestMenuScrolls(t *testing.T) {
	k := common.DefaultKeyMap()
	st := styles.Default()
	m := &Menu{Title: "Stored backups", Intro: []string{"every backup"}}
	for i := range 40 {
		m.Items = append(m.Items, Item{ID: "b", Label: fmt.Sprintf("backup number %02d", i)})
	}
	down := tea.KeyMsg{Type: tea.KeyDown}
	for range 25 {
		m.Update(down, k)
	}
	v := m.View(st, k, 80, 20)
	if ls := strings.Split(v, "\n"); len(ls) != 20 {
		t.Fatalf("%d lines", len(ls))
	}
	for _, want := range []string{"› backup number 25", "more", "enter confirm", "Stored backups"} {
		if !strings.Contains(v, want) {
			t.Errorf("no %q in\n%s", want, v)
		}
	}
	if strings.Contains(v, "backup number 00") || strings.Contains(v, "backup number 39") {
		t.Errorf("the list does not scroll:\n%s", v)
	}
	if !strings.Contains(v, "↑ ") || !strings.Contains(v, "↓ ") {
		t.Errorf("no count of the items above and below:\n%s", v)
	}
	if out := m.Update(enter, k); out != Submit || m.Chosen().Label != "backup number 25" {
		t.Fatalf("enter chose %+v", m.Chosen())
	}
	// Back up to the first: the window follows.
	for range 25 {
		m.Update(tea.KeyMsg{Type: tea.KeyUp}, k)
	}
	if v := m.View(st, k, 80, 20); !strings.Contains(v, "› backup number 00") || strings.Contains(v, "↑ ") {
		t.Errorf("back at the top:\n%s", v)
	}
}

// sgrParams returns every parameter of the SGR sequences in s.
func sgrParams(s string) []int {
	var out []int
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			return out
		}
		s = s[i+2:]
		j := strings.IndexByte(s, 'm')
		if j < 0 {
			return out
		}
		if strings.Trim(s[:j], "0123456789;") == "" {
			for _, p := range strings.Split(s[:j], ";") {
				var n int
				fmt.Sscan(p, &n)
				out = append(out, n)
			}
		}
		s = s[j+1:]
	}
}

// With NO_COLOR the TUI draws with styles.NoColor on a terminal that takes
// attributes: a form shows its focused field and the text cursor (reverse)
// and sends no colour at all, not even the input's own default colours.
func TestNoColorFormShowsFocusAndCursor(t *testing.T) {
	lipgloss.SetColorProfile(termenv.ANSI)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	k := common.DefaultKeyMap()
	st := styles.NoColor()
	f := NewForm("CSR", []string{"intro"}, NewField("Common name", "required", ""), NewField("Organization", "", ""))
	f.Fields[1].Input.Placeholder = "e.g. Acme"
	typeText(k, func(m tea.Msg) { f.Update(m, k) }, "db-proxy")
	f.Update(tea.KeyMsg{Type: tea.KeyTab}, k)
	v := f.View(st, k, 80, 20)
	params := sgrParams(v)
	reverse := false
	for _, p := range params {
		if (p >= 30 && p <= 49) || (p >= 90 && p <= 107) {
			t.Fatalf("a colour (SGR %d) is drawn with NO_COLOR:\n%q", p, v)
		}
		reverse = reverse || p == 7
	}
	if !reverse {
		t.Errorf("no reverse video: the cursor does not show without colour:\n%q", v)
	}
	plain := ansiStrip(v)
	for _, want := range []string{"▸ Organization", "  Common name", "    db-proxy"} {
		if !strings.Contains(plain, want) {
			t.Errorf("no %q: the focus is not marked in the text:\n%s", want, plain)
		}
	}
}

func ansiStrip(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i+2:]
		j := strings.IndexAny(s, "ABCDEFGHJKSTfmsu")
		if j < 0 {
			return b.String()
		}
		s = s[j+1:]
	}
}

// While a dialog's request is in flight only Cancel (esc) works in it —
// enter does not send again, a menu's back (backspace) does not close it —
// and when none is, backspace closes a menu but is a form's own key.
func TestBusyDialogsOnlyCancel(t *testing.T) {
	k := common.DefaultKeyMap()
	esc, backspace := tea.KeyMsg{Type: tea.KeyEsc}, tea.KeyMsg{Type: tea.KeyBackspace}
	type dialog struct {
		update func(tea.KeyMsg) Outcome
		status *Status
	}
	dialogs := map[string]func() dialog{
		"confirm": func() dialog {
			c := NewConfirm("Rotate?", nil, "", false)
			return dialog{func(m tea.KeyMsg) Outcome { out, _ := c.Update(m, k); return out }, &c.Status}
		},
		"form": func() dialog {
			f := NewForm("Tags", nil, NewField("Tags", "", "a=b"))
			return dialog{func(m tea.KeyMsg) Outcome { out, _ := f.Update(m, k); return out }, &f.Status}
		},
		"menu": func() dialog {
			m := &Menu{Title: "Key actions", Items: []Item{{Label: "rotate"}}}
			return dialog{func(km tea.KeyMsg) Outcome { return m.Update(km, k) }, &m.Status}
		},
	}
	for name, open := range dialogs {
		d := open()
		d.status.Busy = "asking the daemon…"
		for _, m := range []tea.KeyMsg{enter, backspace} {
			if out := d.update(m); out != None {
				t.Errorf("%s: %q while busy gave %v", name, m.String(), out)
			}
		}
		if out := d.update(esc); out != Cancel {
			t.Errorf("%s: esc while busy gave %v", name, out)
		}
		d = open()
		out := d.update(backspace)
		if want := map[string]Outcome{"confirm": None, "form": None, "menu": Cancel}[name]; out != want {
			t.Errorf("%s: backspace gave %v, want %v", name, out, want)
		}
		if out := d.update(enter); out != Submit {
			t.Errorf("%s: enter gave %v, want Submit", name, out)
		}
	}
}
