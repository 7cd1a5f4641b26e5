// Package tuitest drives keyward's TUI model in tests and benchmarks: a
// Driver that runs it as bubbletea does, without a terminal, and WaitFor for
// teatest programs.
package tuitest

import (
	"bytes"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/tui"
)

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
// string of want, and fails t if it never does.
func WaitFor(t *testing.T, tm *teatest.TestModel, timeout time.Duration, want ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(timeout), teatest.WithCheckInterval(5*time.Millisecond))
}
