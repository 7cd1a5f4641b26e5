package tuitest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui"
)

// silent is a daemon that never answers: every call waits for its context.
type silent struct{ Unserved }

func (silent) Status(ctx context.Context) (*api.Status, error) { <-ctx.Done(); return nil, ctx.Err() }
func (silent) Keys(ctx context.Context, _ api.KeyQuery) (*api.KeysPage, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (silent) Key(ctx context.Context, _ string) (*api.KeyDetail, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (silent) Sources(ctx context.Context) ([]api.SourceInfo, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (silent) Watch(ctx context.Context, _ func(api.Notification)) error {
	<-ctx.Done()
	return errors.New("closed")
}

// recordTB is a testing.TB whose Fatalf records instead of stopping.
type recordTB struct {
	testing.TB
	fatal string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Fatalf(format string, a ...any) {
	r.fatal = fmt.Sprintf(format, a...)
}

// A wait for something that never comes fails the test after the timeout,
// showing the screen, instead of hanging it.
func TestWaitFailsOnTimeout(t *testing.T) {
	m := tui.New(context.Background(), silent{}, tui.Options{RequestTimeout: time.Hour})
	defer m.Close()
	tb := &recordTB{TB: t}
	d := NewDriver(tb, m)
	d.Timeout = 200 * time.Millisecond
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Start(80, 24) // the first page never comes
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Start still waits 10s after its 200ms timeout")
	}
	if !strings.Contains(tb.fatal, "did not end within 200ms") {
		t.Errorf("the timeout was not reported: %q", tb.fatal)
	}
}

// still is a program that draws one line and ignores every key, ctrl+c too.
type still struct{}

func (still) Init() tea.Cmd                       { return nil }
func (still) Update(tea.Msg) (tea.Model, tea.Cmd) { return still{}, nil }
func (still) View() string                        { return "loading keys…" }

// The teatest waits fail after their timeout, naming what they waited for
// and showing the last lines drawn, instead of hanging; so does a quit the
// program ignores.
func TestTeatestWaitsFailClearly(t *testing.T) {
	tm := teatest.NewTestModel(t, still{}, teatest.WithInitialTermSize(40, 5))
	t.Cleanup(func() { _ = tm.Quit() })
	bounded := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { defer close(done); f() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still waits 10s after its 100ms timeout", what)
		}
	}
	tb := &recordTB{TB: t}
	bounded("WaitFor", func() { WaitFor(tb, tm, 100*time.Millisecond, "loading", "of 15 keys") })
	if !strings.Contains(tb.fatal, `waited 100ms for ["loading" "of 15 keys"] (missing ["of 15 keys"])`) || !strings.Contains(tb.fatal, "loading keys…") {
		t.Errorf("WaitFor's failure: %q", tb.fatal)
	}
	tb.fatal = ""
	bounded("WaitLine", func() {
		WaitLine(tb, tm, 100*time.Millisecond, "a rotated line", func(l string) bool { return strings.Contains(l, "rotated") })
	})
	if !strings.Contains(tb.fatal, "waited 100ms for a rotated line") {
		t.Errorf("WaitLine's failure: %q", tb.fatal)
	}
	tb.fatal = ""
	bounded("Quit", func() { Quit(tb, tm, 100*time.Millisecond) })
	if tb.fatal != "tuitest: the TUI did not quit within 100ms of ctrl+c" {
		t.Errorf("Quit's failure: %q", tb.fatal)
	}
}
