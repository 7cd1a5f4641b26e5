// Package tuitest drives keyward's TUI model in tests and benchmarks: a
// Driver that runs it as bubbletea does, without a terminal, and Start and
// WaitFor for teatest programs.
package tuitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/tui"
)

// Start runs the TUI on backend with opts in a teatest program of w×h
// cells; the model and the program stop when the test ends.
func Start(tb testing.TB, backend tui.Backend, opts tui.Options, w, h int) *teatest.TestModel {
	tb.Helper()
	m := tui.New(context.Background(), backend, opts)
	tb.Cleanup(m.Close)
	tm := teatest.NewTestModel(tb, m, teatest.WithInitialTermSize(w, h))
	tb.Cleanup(func() { _ = tm.Quit() })
	return tm
}

// Driver runs a model as bubbletea does: commands in goroutines, their
// messages back through Update one at a time.
type Driver struct {
	Model *tui.Model
	// Timeout bounds every wait (Until, Start, Key): past it the test
	// fails, saying what it waited for, instead of hanging.
	Timeout time.Duration
	tb      testing.TB
	msgs    chan tea.Msg
}

// DefaultTimeout is a Driver's Timeout unless set.
const DefaultTimeout = 15 * time.Second

// NewDriver returns a driver for m that fails tb when a wait times out;
// nothing runs until Start or Send.
func NewDriver(tb testing.TB, m *tui.Model) *Driver {
	return &Driver{Model: m, Timeout: DefaultTimeout, tb: tb, msgs: make(chan tea.Msg, 64)}
}

// Run runs cmd in a goroutine; its message waits for Until.
func (d *Driver) Run(cmd tea.Cmd) {
	if cmd != nil {
		go func() { d.msgs <- cmd() }()
	}
}

// Send passes msg through Update (a batch's commands are run) and runs the
// command Update returns.
func (d *Driver) Send(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			d.Run(c)
		}
	default:
		_, cmd := d.Model.Update(msg)
		d.Run(cmd)
	}
}

// Until feeds the commands' messages to the model until done reports true.
// If done is still false after Timeout (no message came that made it true),
// the test fails with the screen as it is.
func (d *Driver) Until(done func() bool) {
	d.tb.Helper()
	timer := time.NewTimer(d.Timeout)
	defer timer.Stop()
	for !done() {
		select {
		case msg := <-d.msgs:
			d.Send(msg)
		case <-timer.C:
			d.tb.Fatalf("tuitest: the wait did not end within %s; the screen is:\n%s", d.Timeout, d.Model.View())
			return
		}
	}
}

// Settle handles messages until none has come for quiet (the answers to
// requests in flight, a refresh the daemon's notifications asked for),
// bounded by Timeout.
func (d *Driver) Settle(quiet time.Duration) {
	d.tb.Helper()
	deadline := time.Now().Add(d.Timeout)
	for time.Now().Before(deadline) {
		select {
		case msg := <-d.msgs:
			d.Send(msg)
		case <-time.After(quiet):
			return
		}
	}
}

// Start initialises the model in a w×h terminal and waits until the active
// pane has a status value (the Keys pane: its first page is on screen).
func (d *Driver) Start(w, h int) {
	d.tb.Helper()
	d.Run(d.Model.Init())
	d.Send(tea.WindowSizeMsg{Width: w, Height: h})
	d.Until(func() bool { return d.Model.Active().StatusValue() != "" })
}

// Key presses k and waits until the active pane's status value is no longer
// before.
func (d *Driver) Key(k tea.KeyMsg, before string) {
	d.tb.Helper()
	d.Send(k)
	d.Until(func() bool { return d.Model.Active().StatusValue() != before })
}

// WaitFor waits up to timeout until the program's output contains every
// string of want, and fails t if it never does, naming what is missing.
// Output read here is consumed: a later wait sees only what comes after.
func WaitFor(t testing.TB, tm *teatest.TestModel, timeout time.Duration, want ...string) {
	t.Helper()
	var missing []string
	WaitOutput(t, tm.Output(), timeout, func() string { return fmt.Sprintf("%q (missing %q)", want, missing) }, func(b []byte) bool {
		missing = missing[:0]
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0
	})
}

// WaitText is WaitFor on the text drawn without its escape sequences, for
// a program drawing with attributes (bold, reverse) that split the text.
func WaitText(t testing.TB, tm *teatest.TestModel, timeout time.Duration, want ...string) {
	t.Helper()
	var missing []string
	WaitOutput(t, tm.Output(), timeout, func() string { return fmt.Sprintf("%q (missing %q)", want, missing) }, func(b []byte) bool {
		text := ansi.Strip(string(b))
		missing = missing[:0]
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0
	})
}

// WaitLine waits up to timeout for an output line for which match holds
// (what says which, in the failure).
func WaitLine(t testing.TB, tm *teatest.TestModel, timeout time.Duration, what string, match func(line string) bool) {
	t.Helper()
	WaitOutput(t, tm.Output(), timeout, func() string { return what }, func(b []byte) bool {
		for _, l := range strings.Split(string(b), "\n") {
			if match(ansi.Strip(l)) {
				return true
			}
		}
		return false
	})
}

// WaitOutput reads r, a program's output, until cond holds on all it read
// (every few milliseconds); after timeout it fails t with what it waited
// for (what) and the last lines drawn, without colours, instead of
// hanging or dumping every byte.
func WaitOutput(t testing.TB, r io.Reader, timeout time.Duration, what func() string, cond func([]byte) bool) {
	t.Helper()
	var b bytes.Buffer
	deadline := time.Now().Add(timeout)
	for {
		if _, err := io.Copy(&b, r); err != nil {
			t.Fatalf("tuitest: reading the program's output: %v", err)
			return
		}
		if cond(b.Bytes()) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tuitest: waited %s for %s; the last lines drawn:\n%s", timeout, what(), lastLines(b.Bytes(), 30))
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Quit presses ctrl+c and returns the model once the program has ended,
// failing t if it has not within timeout.
func Quit(t testing.TB, tm *teatest.TestModel, timeout time.Duration) tea.Model {
	t.Helper()
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	return tm.FinalModel(t, teatest.WithFinalTimeout(timeout), teatest.WithTimeoutFn(func(tb testing.TB) {
		tb.Fatalf("tuitest: the TUI did not quit within %s of ctrl+c", timeout)
	}))
}

// lastLines is the last n lines of out without its escape sequences.
func lastLines(out []byte, n int) string {
	lines := strings.Split(ansi.Strip(string(out)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
