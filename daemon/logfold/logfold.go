// Package logfold folds log floods: a slog.Handler wrapper that writes the
// first of a run of identical warnings (same level, message and attributes)
// at once and counts the repeats, writing one line with the count when the
// interval ends. An upstream outage then logs a line per interval, not one
// per failed request.
package logfold

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Handler folds identical records at or above Warn (lower levels pass
// through unchanged).
type Handler struct {
	inner  slog.Handler
	prefix string // the attributes and groups added by WithAttrs/WithGroup, in the key
	st     *state
}

type state struct {
	mu       sync.Mutex
	interval time.Duration
	now      func() time.Time
	runs     map[string]*run
}

type run struct {
	start time.Time
	count int // repeats not yet written
	last  slog.Record
	h     slog.Handler
}

// New folds repeats of inner's warnings and errors over interval. now is
// the clock (nil: time.Now).
func New(inner slog.Handler, interval time.Duration, now func() time.Time) *Handler {
	if now == nil {
		now = time.Now
	}
	return &Handler{inner: inner, st: &state{interval: interval, now: now, runs: map[string]*run{}}}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range as {
		writeAttr(&b, a)
	}
	return &Handler{inner: h.inner.WithAttrs(as), prefix: b.String(), st: h.st}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), prefix: h.prefix + "{" + name + "}", st: h.st}
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn || h.st.interval <= 0 {
		return h.inner.Handle(ctx, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d\x00%s\x00%s", r.Level, r.Message, h.prefix)
	r.Attrs(func(a slog.Attr) bool { writeAttr(&b, a); return true })
	key := b.String()
	now := h.st.now()
	h.st.mu.Lock()
	ru := h.st.runs[key]
	if ru != nil && now.Sub(ru.start) < h.st.interval {
		ru.count++
		ru.last = r.Clone()
		h.st.mu.Unlock()
		return nil
	}
	var flush *run
	if ru != nil && ru.count > 0 {
		flush = ru
	}
	h.st.runs[key] = &run{start: now, h: h.inner}
	h.st.mu.Unlock()
	if flush != nil {
		if err := h.st.write(ctx, flush); err != nil {
			return err
		}
	}
	return h.inner.Handle(ctx, r)
}

func writeAttr(b *strings.Builder, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		b.WriteString(a.Key + "{")
		for _, g := range a.Value.Group() {
			writeAttr(b, g)
		}
		b.WriteString("}")
		return
	}
	fmt.Fprintf(b, "\x00%s=%s", a.Key, a.Value.String())
}

// write logs the repeats of a run as one line: the last repeat's record
// with repeated=N and within=<interval>.
func (s *state) write(ctx context.Context, ru *run) error {
	r := slog.NewRecord(ru.last.Time, ru.last.Level, ru.last.Message, ru.last.PC)
	ru.last.Attrs(func(a slog.Attr) bool { r.AddAttrs(a); return true })
	r.AddAttrs(slog.Int("repeated", ru.count), slog.Duration("within", s.interval))
	return ru.h.Handle(ctx, r)
}

// Flush writes the count of every run whose interval has ended (all runs
// when all is true) and forgets them.
func (h *Handler) Flush(all bool) {
	now := h.st.now()
	h.st.mu.Lock()
	var out []*run
	for k, ru := range h.st.runs {
		if all || now.Sub(ru.start) >= h.st.interval {
			if ru.count > 0 {
				out = append(out, ru)
			}
			delete(h.st.runs, k)
		}
	}
	h.st.mu.Unlock()
	for _, ru := range out {
		_ = h.st.write(context.Background(), ru)
	}
}

// Run flushes ended runs every interval until ctx ends, then every run.
func (h *Handler) Run(ctx context.Context) {
	if h.st.interval <= 0 {
		return
	}
	t := time.NewTicker(h.st.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			h.Flush(true)
			return
		case <-t.C:
			h.Flush(false)
		}
	}
}
