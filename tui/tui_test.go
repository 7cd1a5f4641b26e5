package tui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/tuitest"
)

func TestMain(m *testing.M) {
	// Goldens are plain text: no colour, so they also show that everything
	// (tabs, selection, aging, health) reads without colour, as with NO_COLOR.
	lipgloss.SetColorProfile(termenv.Ascii)
	lipgloss.SetHasDarkBackground(true)
	// Exports go to $XDG_DATA_HOME/keyward/exports: never the tester's own.
	dir, err := os.MkdirTemp("", "keyward-tui-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startWith starts a model with opts (the title, socket and pinned clock
// of every golden filled in where opts leaves them empty).
func startWith(t *testing.T, f common.Backend, w, h int, opts tui.Options) *teatest.TestModel {
	if opts.Now == nil {
		opts.Title, opts.Socket, opts.Now = "keyward demo", "/run/keyward/keyward.sock", func() time.Time { return fixedNow }
	}
	return tuitest.Start(t, f, opts, w, h)
}

// start starts the TUI on f at w×h as startWith does, reconnecting within
// milliseconds.
func start(t *testing.T, f *fixture, w, h int) *teatest.TestModel {
	return startWith(t, f, w, h, tui.Options{ReconnectMin: 5 * time.Millisecond, ReconnectMax: 20 * time.Millisecond})
}

// startLoaded starts the TUI on f at w×h and waits for the connection and
// the fixture's whole inventory (15 keys) on screen.
func startLoaded(t *testing.T, f *fixture, w, h int) *teatest.TestModel {
	t.Helper()
	tm := start(t, f, w, h)
	waitFor(t, tm, "acme.crm.key.0", "● connected", "of 15 keys")
	return tm
}

// waitFor waits until the program's output contains every string.
func waitFor(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	tuitest.WaitFor(t, tm, 20*time.Second, want...)
}

// finalView quits and returns the last frame.
func finalView(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	return tuitest.Quit(t, tm, 20*time.Second).View()
}

func checkFrame(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("frame has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := lipgloss.Width(l); n > w {
			t.Errorf("line %d is %d wide (> %d): %q", i, n, w, l)
		}
	}
}

// namedKeys are the keys press sends by name; anything else is typed.
var namedKeys = map[string]tea.KeyType{
	"enter": tea.KeyEnter, "esc": tea.KeyEsc, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
	"down": tea.KeyDown, "up": tea.KeyUp, "pgdown": tea.KeyPgDown, "pgup": tea.KeyPgUp,
}

func press(tm *teatest.TestModel, keys ...string) {
	for _, k := range keys {
		if kt, ok := namedKeys[k]; ok {
			tm.Send(tea.KeyMsg{Type: kt})
		} else {
			tm.Type(k)
		}
	}
}

// golden quits, checks that the last frame fits w×h and matches the test's
// golden file, and returns the frame.
func golden(t *testing.T, tm *teatest.TestModel, w, h int) string {
	t.Helper()
	view := finalView(t, tm)
	checkFrame(t, view, w, h)
	teatest.RequireEqualOutput(t, []byte(view))
	return view
}

func TestKeysPaneGolden(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 40}, {200, 50}} {
		t.Run(strings.TrimSpace(strings.Join([]string{itoa(size.w), "x", itoa(size.h)}, "")), func(t *testing.T) {
			f := newFixture()
			tm := startLoaded(t, f, size.w, size.h)
			golden(t, tm, size.w, size.h)
		})
	}
}

func TestSourcesPaneGolden(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 40}} {
		t.Run(itoa(size.w)+"x"+itoa(size.h), func(t *testing.T) {
			tm := start(t, newFixture(), size.w, size.h)
			openPane(t, tm, "5", "DEGRADED", "keys/list permission", "encrypts")
			golden(t, tm, size.w, size.h)
		})
	}
}

// TestSourcesPaneKMIPPoll: at 80×24 without colour, a degraded KMIP
// source shows its latest poll in two lines under its row (the KMS and KMIP
// version, cost and findings) and lists the generations a ring could not
// take, each whole, wrapped within the width.
func TestSourcesPaneKMIPPoll(t *testing.T) {
	f := newFixture()
	kms := &f.sources[0]
	kms.Health, kms.Since = engine.HealthDegraded, at(0)
	kms.Reason = "the rings lack 2 generations the KMS holds: acme.crm.key.5: the KMS refused the Get; acme.crm.key.6: its material changed"
	kms.Poll.LeftOut = []string{"acme.crm.key.5: the KMS refused the Get (Permission Denied for this client's identity)", "acme.crm.key.6: its material changed"}
	tm := start(t, f, 80, 24)
	openPane(t, tm, "5", "2 generations a ring could not take:", "acme.crm.key.6: its material changed")
	view := finalView(t, tm)
	checkFrame(t, view, 80, 24)
	for _, want := range []string{
		"\n    KMIP 1.4 at kms.acme.internal:5696 · last poll 412ms: 3 requests, 1 Get",
		"\n    9 keys matched, 1 new, 0 dropped · the KMS matches the name patterns",
		"\n    2 generations a ring could not take:",
		"\n      · acme.crm.key.5: the KMS refused the Get (Permission Denied for this",
		"\n        client's identity)",
		"\n      · acme.crm.key.6: its material changed",
	} {
		if !strings.Contains(view, want) {
			t.Errorf("the Sources pane lacks the line %q:\n%s", want[1:], view)
		}
	}
}

// TestSourcesPaneRefetchesOnRingNotice: a ring can change with no key row
// moving (a generation the ring refused before joins it); the ring notice
// makes the shown Sources pane fetch again.
func TestSourcesPaneRefetchesOnRingNotice(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 120, 40)
	openPane(t, tm, "5", "acme.crm.key.4")
	f.mu.Lock()
	r := &f.sources[0].Rings[0]
	r.Generations = append([]api.GenerationInfo{{Name: "acme.crm.key.7", KeyID: "7a8b9c0d", Fingerprint: "sha256:7a8b9c0d1e2f",
		State: engine.StateActive, Encrypts: true}}, r.Generations...)
	r.Generations[1].Encrypts = false
	f.mu.Unlock()
	f.notes <- notification(api.NoteRing, "crm")
	waitFor(t, tm, "acme.crm.key.7")
}

// At 80×24 the help lists the pane's own bindings first, whole (one a
// line), and scrolls to the rest: G to the end, where the keys that work
// everywhere are.
func TestHelpOverlayGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
		want []string
	}{
		{"top", []string{"?"}, []string{"Help — Keys pane", "reverse sort", "lines 1–15 of"}},
		{"end", []string{"?", "G"}, []string{"Everywhere", "message log", "sync all sources"}},
		{"aging", []string{"2", "?"}, []string{"Help — Aging pane", "range earlier"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm := start(t, newFixture(), 80, 24)
			waitFor(t, tm, "acme.crm.key.0")
			press(tm, tc.keys...)
			waitFor(t, tm, tc.want...)
			view := golden(t, tm, 80, 24)
			if box := strings.Split(view, "\n")[2:22]; strings.Contains(strings.Join(box, "\n"), "…") {
				t.Errorf("a binding is cut:\n%s", view)
			}
		})
	}
}

// TestFlow is what a user does: look at the sources, come back, filter the
// keys, open one, read its activity, go back.
func TestFlow(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 100, 30)
	waitFor(t, tm, "acme.crm.key.0", "● connected")

	press(tm, "tab", "tab", "tab")
	waitFor(t, tm, "No proxied application has reported yet")
	press(tm, "tab")
	waitFor(t, tm, "vault-emu", "403 Forbidden")
	press(tm, "shift+tab", "shift+tab", "3")
	waitFor(t, tm, "compromised", "az-ops@acme", "7 events over 31 days")
	press(tm, "1")

	// Filter: typed text narrows the list as the user types; q is text here,
	// not quit.
	press(tm, "/", "q")
	waitFor(t, tm, "no key matches these filters", "no keys")
	tm.Send(tea.KeyMsg{Type: tea.KeyBackspace})
	press(tm, "h", "r", ".", "k", "e", "y", "enter")
	waitFor(t, tm, `filter "hr.key"`, "1–3 of 3 keys")

	press(tm, "down", "enter")
	waitFor(t, tm, "Activity", "tag owner=hr-platform", "first poll of kms-prod")
	view := finalView(t, tm)
	for _, want := range []string{
		"acme.hr.key.1", "kms-prod/acme.hr.key.1/1", "AES-256", "active",
		"created      2025-07-11 12:00 UTC (1y135d ago)",
		"edited", "alice", "tag owner=hr-platform",
	} {
		if !strings.Contains(view, want) {
			t.Errorf("detail view lacks %q:\n%s", want, view)
		}
	}
	if strings.Contains(view, "acme.crm.key") {
		t.Errorf("detail view still shows the table:\n%s", view)
	}
}

// TestFilterEscAndSort checks that esc clears the text filter and that sort
// and state filter keys change what is listed.
func TestFilterEscAndSort(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 120, 30)
	waitFor(t, tm, "acme.crm.key.0", "● connected")
	press(tm, "/", "p", "a", "y")
	waitFor(t, tm, "1–2 of 2 keys")
	// Typing is debounced: one query for the word, not one per key.
	if n := f.textCalls.Load(); n != 1 {
		t.Errorf("typing \"pay\" made %d text queries, want 1", n)
	}
	press(tm, "esc")
	waitFor(t, tm, "1–15 of 15 keys")
	press(tm, "S") // name, descending
	waitFor(t, tm, "sort name ↓")
	press(tm, "f", "f") // state: active
	waitFor(t, tm, "state active")
	view := finalView(t, tm)
	lines := strings.Split(view, "\n")
	// Row 1 is the query line, row 2 the header: the first key is the last by name.
	if !strings.Contains(lines[4], "reporting.key.10") {
		t.Errorf("first row is not reporting.key.10 (names sort numerically, descending):\n%s", view)
	}
	if strings.Contains(view, "deactivated") || strings.Contains(view, "compromised") {
		t.Errorf("state filter active still lists other states:\n%s", view)
	}
	if !strings.Contains(view, "of 10 keys") {
		t.Errorf("want 10 active keys:\n%s", view)
	}
}

// TestReconnect cuts the event stream: the status line must say
// "reconnecting…", and say so when the daemon is back; the keys are fetched
// again after the outage.
func TestReconnect(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 120, 24)
	waitFor(t, tm, "● connected", "acme.crm.key.0")
	before := f.keysCalls.Load()

	f.down.Store(true)
	f.drop <- struct{}{}
	waitFor(t, tm, "reconnecting…", "daemon not reachable")
	// Keep failing for a few attempts, with backoff.
	for f.watches.Load() < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	f.down.Store(false)
	waitFor(t, tm, "reconnected 12:00:00")
	view := finalView(t, tm)
	status := strings.Split(view, "\n")[23]
	if !strings.Contains(status, "● connected") || !strings.Contains(status, "reconnected 12:00:00") ||
		strings.Contains(status, "reconnecting") {
		t.Errorf("status line after recovery: %q", status)
	}
	if f.keysCalls.Load() <= before {
		t.Error("keys were not fetched again after the daemon came back")
	}
}

// TestNotificationRefetches checks that a "keys" notification makes the pane
// fetch the page again (no polling) and shows the change.
func TestNotificationRefetches(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 160, 24)
	waitFor(t, tm, "● connected", "acme.crm.key.0")
	f.mu.Lock()
	f.keys[0].Name = "acme.crm.key.renamed"
	f.mu.Unlock()
	f.notes <- notification("keys", "kms-prod")
	waitFor(t, tm, "acme.crm.key.renamed")
	// The selection follows the key it was on, wherever the new order puts it.
	view := finalView(t, tm)
	if !strings.Contains(view, "› acme.crm.key.renamed") {
		t.Errorf("selection did not follow the renamed key:\n%s", view)
	}
}

// TestOnlyVisiblePageFetched checks the virtualised table asks only for the
// rows that fit.
func TestOnlyVisiblePageFetched(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 80, 12) // 12 − 4 chrome − 2 = 6 rows
	waitFor(t, tm, "1–6 of 15 keys")
	press(tm, " ") // page down
	waitFor(t, tm, "7–12 of 15 keys")
	press(tm, " ")
	waitFor(t, tm, "13–15 of 15 keys")
	press(tm, "k", "k", "k") // up past the top goes back a page
	waitFor(t, tm, "7–12 of 15 keys")
	_ = finalView(t, tm)
	if got := f.maxLimit.Load(); got != 6 {
		t.Errorf("largest page asked for = %d, want 6", got)
	}
}

// TestLaterPagesCount: the daemon counts the keys on a query's first page
// only (later pages say total -1). The count shown is the first page's;
// once the inventory changed under a later page, the one counted again
// (16 keys, not the 15 from before): never "-1 keys".
func TestLaterPagesCount(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 80, 12) // 6 rows a page
	waitFor(t, tm, "1–6 of 15 keys")
	press(tm, " ")
	waitFor(t, tm, "7–12 of 15 keys")
	f.mu.Lock()
	added := f.keys[0]
	added.ID, added.Name = engine.KeyID("kms-prod", "acme.added", "1"), "acme.added"
	f.keys = append(f.keys, added)
	f.mu.Unlock()
	f.notes <- notification("keys", "kms-prod")
	waitFor(t, tm, "7–12 of 16 keys")
	press(tm, "g")
	waitFor(t, tm, "1–6 of 16 keys")
	press(tm, "/", "acme.hr.key.1", "enter")
	waitFor(t, tm, "1–1 of 1 key ")
	view := finalView(t, tm)
	if strings.Contains(view, "-1") {
		t.Errorf("a count of -1 is shown:\n%s", view)
	}
}

// TestEmptyListHintNamesTheFilters: the hint under an empty list says how
// to loosen the filters that are on, not the text filter when only the
// state filter is.
func TestEmptyListHintNamesTheFilters(t *testing.T) {
	f := newFixture()
	f.mu.Lock()
	for i := range f.keys {
		if f.keys[i].State == engine.StatePreActive {
			f.keys[i].State = engine.StateActive
		}
	}
	f.mu.Unlock()
	tm := start(t, f, 120, 30)
	waitFor(t, tm, "● connected", "of 15 keys")
	press(tm, "f") // all → pre-active (none)
	waitFor(t, tm, "state pre-active", "no keys")
	view := finalView(t, tm)
	if !strings.Contains(view, "no key matches these filters (f cycles the state filter, esc clears them all)") {
		t.Errorf("hint does not point at the state filter:\n%s", view)
	}
	if strings.Contains(view, "text filter") {
		t.Errorf("hint talks about a text filter that is not on:\n%s", view)
	}
}

// TestOneNamePerBucket: the Aging pane's summary, its table and the Keys
// pane call each aging bucket by one name, the bucket's own (the one the
// filters, the CLI and the API use).
func TestOneNamePerBucket(t *testing.T) {
	tm := start(t, newFixture(), 80, 24)
	waitFor(t, tm, "● connected", "of 15 keys")
	press(tm, "2")
	waitFor(t, tm, "rotation-overdue", "legacy.batch.key")
	view := finalView(t, tm)
	for _, other := range []string{"rotate due", "expires≤"} {
		if strings.Contains(view, other) {
			t.Errorf("a bucket is called %q beside its own name:\n%s", other, view)
		}
	}
	summary := strings.Join(strings.Split(view, "\n")[3:6], "\n")
	for _, b := range []string{"expired", "expiring-7d", "expiring-30d", "rotation-overdue", "healthy", "retired"} {
		if !strings.Contains(summary, b) {
			t.Errorf("the summary lacks %q:\n%s", b, summary)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestProxyPaneFromEvents: when the Proxy pane is first shown it lists the
// applications (GET /v1/proxy), then "proxy" notifications on the event
// stream keep each panel live.
func TestProxyPaneFromEvents(t *testing.T) {
	f := newFixture()
	f.proxy = []api.ProxyStatus{{App: "hr", Listen: "127.0.0.1:8444", Upstream: "http://127.0.0.1:9001", Time: fixedNow,
		Health: api.UpstreamHealth{OK: false, Reason: "dial tcp 127.0.0.1:9001: connection refused"},
		Ring:   api.ProxyRing{Reason: "ring hr is empty"}}}
	tm := start(t, f, 100, 40)
	openPane(t, tm, "4", "UPSTREAM DOWN", "nothing encrypts", "ring hr is empty")
	for i, series := range []string{`[{"requests":1}]`, `[{"requests":1},{"requests":4}]`,
		`[{"requests":1},{"requests":4},{"requests":8,"errors":1}]`} {
		n := notification("proxy", "")
		n.Time = fixedNow.Add(time.Duration(i) * time.Second)
		n.Data = []byte(`{"app":"crm","listen":"127.0.0.1:8443","upstream":"http://127.0.0.1:9000",
		  "requests":` + itoa(100+i) + `,"health":{"ok":true},"fields_encrypted":300,
		  "proxy_latency":{"p50_ms":0.4,"p95_ms":1.2,"p99_ms":3},
		  "ring":{"key_id":"4e5f6071","size":1,"capacity":16,
		    "generations":[{"name":"acme.crm.key.4","key_id":"4e5f6071","fingerprint":"sha256:4e5f60718293","encrypts":true}]},
		  "series":` + series + `}`)
		f.notes <- n
	}
	waitFor(t, tm, "crm", "● upstream ok", "102 total", "p50 400µs p95 1.2ms p99 3.0ms", "▶ encrypts")
	view := finalView(t, tm)
	if !strings.Contains(view, "▁▄█ 102 total") {
		t.Errorf("requests sparkline should show 1, 4, 8 per second:\n%s", view)
	}
	if !strings.Contains(view, "2 applications, 1 upstream down") {
		t.Errorf("status line lacks the application count:\n%s", view)
	}
}

// TestProxyPaneRefetchesOnRingNotice: a "ring" notice (an application's
// key ring changed) makes the shown Proxy pane list the applications again
// at once, so the new encrypting generation shows without waiting for the
// proxy's next status.
func TestProxyPaneRefetchesOnRingNotice(t *testing.T) {
	f := newFixture()
	ring := func(id, name string) api.ProxyRing {
		return api.ProxyRing{KeyID: id, Size: 1, Capacity: 16, Generations: []api.GenerationInfo{
			{Name: name, KeyID: id, Fingerprint: "sha256:" + id, Encrypts: true}}}
	}
	f.proxy = []api.ProxyStatus{{App: "crm", Listen: "127.0.0.1:8443", Upstream: "http://127.0.0.1:9000", Time: fixedNow,
		Health: api.UpstreamHealth{OK: true}, Ring: ring("4e5f6071", "acme.crm.key.4")}}
	calls := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.proxyCalls
	}
	tm := start(t, f, 100, 40)
	openPane(t, tm, "4", "acme.crm.key.4")
	if n := calls(); n != 1 {
		t.Fatalf("%d proxy listings, want the pane's first only", n)
	}
	f.mu.Lock()
	f.proxy[0].Ring = ring("5a6b7c8d", "acme.crm.key.5")
	f.mu.Unlock()
	f.notes <- notification(api.NoteRing, "crm")
	waitFor(t, tm, "acme.crm.key.5", "5a6b7c8d")
}

func TestReportPanesGolden(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		w, h      int
		want      []string
	}{
		{"aging-80x24", "2", 80, 24, []string{"total", "rotation-due"}},
		{"aging-160x40", "2", 160, 40, []string{"total", "rotation-due"}},
		{"activity-80x24", "3", 80, 24, []string{"7 events over 31 days", "az-ops@acme"}},
		{"activity-160x40", "3", 160, 40, []string{"7 events over 31 days", "soft-deleted in the vault"}},
		{"usage-80x24", "6", 80, 24, []string{"crm: 2 keys", "never in range"}},
		{"usage-160x40", "6", 160, 40, []string{"crm: 2 keys", "never in range"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm := start(t, newFixture(), tc.w, tc.h)
			waitFor(t, tm, "● connected")
			press(tm, tc.key)
			waitFor(t, tm, tc.want...)
			golden(t, tm, tc.w, tc.h)
		})
	}
}

// TestAgingFlow changes the date range and the source with keys, opens an
// entry, and exports the page as CSV.
func TestAgingFlow(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	f := newFixture()
	tm := start(t, f, 120, 30)
	openPane(t, tm, "2", "2026-08-25 → 2027-02-21", "acme.crm.key.1")

	press(tm, "-") // half the span, same centre
	waitFor(t, tm, "2026-10-09 → 2027-01-07")
	press(tm, "]") // one span later
	waitFor(t, tm, "2027-01-07 → 2027-04-07", "acme.crm.key.4")
	press(tm, "[", "+") // back, then twice as wide again
	waitFor(t, tm, "2026-08-25 → 2027-02-21")

	press(tm, "o", "o") // source: vault-emu
	waitFor(t, tm, "source vault-emu", "backup-kek")
	press(tm, "enter")
	waitFor(t, tm, "Entry 1", "key_id", "vault-emu/backup-kek/1")
	press(tm, "esc", "e")
	waitFor(t, tm, "exported 1 row", filepath.Join(data, "keyward", "exports", "keyward-aging-"))
	// From an entry to its key: enter twice opens the key in the Keys pane.
	press(tm, "enter", "enter")
	waitFor(t, tm, "soft-deleted in the vault", "AES-256", "az-ops@acme")
	view := finalView(t, tm)
	if !strings.Contains(view, "backup-kek  vault-emu/backup-kek/1  (esc back)") || !strings.Contains(view, "Activity") {
		t.Errorf("enter on an aging entry did not open its key:\n%s", view)
	}
	if files, _ := filepath.Glob(filepath.Join(cwd, "*")); len(files) != 0 {
		t.Errorf("the export wrote into the current directory: %v", files)
	}
	files, _ := filepath.Glob(filepath.Join(data, "keyward", "exports", "keyward-aging-*.csv"))
	if len(files) != 1 {
		t.Fatalf("export files: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	want := "date,milestone,key_id,source,name,state,bucket,reason,version\n" +
		"2026-11-13T12:00:00Z,expires,vault-emu/backup-kek/1,vault-emu,backup-kek,deleted,retired,key is deleted,1\n"
	if string(b) != want {
		t.Errorf("exported CSV:\n%s\nwant:\n%s", b, want)
	}
}

// TestActivityComparison: c limits the activity to what happened in a KMS or
// cloud without going through keyward.
func TestActivityComparison(t *testing.T) {
	f := newFixture()
	tm := start(t, f, 140, 30)
	openPane(t, tm, "3", "7 events over 31 days", "bob")
	press(tm, "c")
	waitFor(t, tm, "only what happened in a source without keyward", "3 events over 31 days")
	view := finalView(t, tm)
	for _, gone := range []string{"bob", "alice", "rotated"} {
		if strings.Contains(view, gone) {
			t.Errorf("comparison view lists %q, done through keyward:\n%s", gone, view)
		}
	}
	for _, want := range []string{"az-ops@acme", "compromised", "activated"} {
		if !strings.Contains(view, want) {
			t.Errorf("comparison view lacks %q:\n%s", want, view)
		}
	}
}

// plainBackend serves the inventory only, like a daemon without the
// report, cloud, certificate and proxy endpoints.
type plainBackend struct {
	tuitest.Unserved
	f *fixture
}

func (p plainBackend) Status(ctx context.Context) (*api.Status, error) { return p.f.Status(ctx) }
func (p plainBackend) Keys(ctx context.Context, q api.KeyQuery) (*api.KeysPage, error) {
	return p.f.Keys(ctx, q)
}
func (p plainBackend) Key(ctx context.Context, id string) (*api.KeyDetail, error) {
	return p.f.Key(ctx, id)
}
func (p plainBackend) Sources(ctx context.Context) ([]api.SourceInfo, error) { return p.f.Sources(ctx) }
func (p plainBackend) Watch(ctx context.Context, fn func(api.Notification)) error {
	return p.f.Watch(ctx, fn)
}

func TestReportPaneWithoutReports(t *testing.T) {
	tm := startWith(t, plainBackend{f: newFixture()}, 80, 24, tui.Options{Now: func() time.Time { return fixedNow }})
	openPane(t, tm, "2", "does not serve the Aging report yet")
	press(tm, "4")
	waitFor(t, tm, "No proxied application has reported yet")
	_ = finalView(t, tm)
}

// TestProxyPaneGolden snapshots the Proxy pane at 80×24 and 160×40: one
// healthy application with a ring of two generations and one whose
// upstream is down and whose ring is empty.
func TestProxyPaneGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 40}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			f := newFixture()
			f.proxy = []api.ProxyStatus{
				{App: "crm", Listen: "127.0.0.1:8443", Upstream: "https://crm.example.com", Time: fixedNow, Requests: 1200,
					FieldsEncrypt: 3400, FieldsDecrypt: 9100, BytesIn: 1 << 20, BytesOut: 8 << 20,
					ProxyLatency:    api.Percentiles{P50: 0.3, P95: 0.9, P99: 2.5},
					UpstreamLatency: api.Percentiles{P50: 12, P95: 40, P99: 95},
					Health:          api.UpstreamHealth{OK: true, LastSuccess: &fixedNow},
					Ring: api.ProxyRing{KeyID: "x1P7b039", Size: 2, Capacity: 16, Generations: []api.GenerationInfo{
						{Name: "acme.crm.key.5", KeyID: "x1P7b039", Fingerprint: "c753fb6f4dfd0000", State: "active", Encrypts: true, Created: &fixedNow},
						{Name: "acme.crm.key.4", KeyID: "PqzDnyPw", Fingerprint: "3eacc39f23f00000", State: "deactivated"}}},
					Series: []api.ProxySample{{Requests: 3}, {Requests: 5}, {Requests: 8, Errors: 1}, {Requests: 4}}},
				{App: "hr", Listen: "127.0.0.1:8444", Upstream: "http://127.0.0.1:9001", Time: fixedNow,
					Health: api.UpstreamHealth{OK: false, Reason: "dial tcp 127.0.0.1:9001: connection refused"},
					Ring:   api.ProxyRing{Reason: "ring hr is empty"}},
			}
			tm := start(t, f, size[0], size[1])
			openPane(t, tm, "4", "crm", "▶ encrypts")
			golden(t, tm, size[0], size[1])
		})
	}
}

// TestActivityPaneShowsABrokenChain: when the daemon's latest check of the
// audit chain failed, the Activity pane says so first, at 80 columns and
// without colour.
func TestActivityPaneShowsABrokenChain(t *testing.T) {
	f := newFixture()
	f.status.Audit.Error = "audit chain broken at seq 3 (event id 3): edited"
	tm := start(t, f, 80, 24)
	openPane(t, tm, "3", "audit: CHECK FAILED: audit chain broken at seq 3")
}

// TestStartingDaemon: a TUI opened while the daemon opens its store (a
// migration after an upgrade) says on its 80-column status line that the
// daemon is starting, retries, and shows the keys once the daemon serves.
func TestStartingDaemon(t *testing.T) {
	f := newFixture()
	f.starting.Store(true)
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "reconnecting…", "daemon is starting")
	view := finalView(t, tm)
	checkFrame(t, view, 80, 24)
	if status := strings.Split(view, "\n")[23]; !strings.Contains(status, "reconnecting…") || !strings.Contains(status, "daemon is starting") {
		t.Errorf("status line while the daemon starts: %q", status)
	}

	tm = start(t, f, 80, 24)
	waitFor(t, tm, "reconnecting…")
	for f.watches.Load() < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	f.starting.Store(false)
	waitFor(t, tm, "● connected", "acme.crm.key.0")
	_ = finalView(t, tm)
}
