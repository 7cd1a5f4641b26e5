package tuitest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
