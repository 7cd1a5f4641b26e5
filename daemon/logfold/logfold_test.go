package logfold

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func lines(b *bytes.Buffer) []string {
	return strings.Split(strings.TrimSpace(b.String()), "\n")
}

// TestAnOutageFloodIsFolded: 300 identical warnings in 30 s (10 a second,
// as an upstream outage makes the proxy log) become a few lines whose counts
// add up to all 300; a different warning and info lines are not folded.
func TestAnOutageFloodIsFolded(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	h := New(slog.NewTextHandler(&buf, nil), 10*time.Second, c.now)
	log := slog.New(h).With("component", "proxy")
	start := c.t
	for i := 0; i < 300; i++ {
		c.t = start.Add(time.Duration(i) * 100 * time.Millisecond)
		log.Warn("upstream failed", "app", "crm", "err", "dial tcp 127.0.0.1:9: connect: connection refused")
		if i%100 == 50 {
			log.Warn("upstream failed", "app", "billing", "err", "timeout")
			log.Info("request", "n", i)
		}
	}
	c.t = start.Add(31 * time.Second)
	h.Flush(false)

	total, crm, billing, info := 0, 0, 0, 0
	rep := regexp.MustCompile(`repeated=(\d+)`)
	for _, l := range lines(&buf) {
		switch {
		case strings.Contains(l, "app=crm"):
			crm++
			if !strings.Contains(l, "component=proxy") {
				t.Fatalf("lost the logger's attributes: %s", l)
			}
			if m := rep.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[1])
				total += n
				if !strings.Contains(l, "within=10s") {
					t.Fatalf("count line without its interval: %s", l)
				}
			} else {
				total++
			}
		case strings.Contains(l, "app=billing"):
			billing++
		case strings.Contains(l, "level=INFO"):
			info++
		}
	}
	if total != 300 {
		t.Fatalf("the crm lines account for %d warnings, want 300:\n%s", total, buf.String())
	}
	if crm > 6 {
		t.Fatalf("%d crm lines for 30 s at a 10 s interval, want at most 6:\n%s", crm, buf.String())
	}
	if billing != 3 || info != 3 {
		t.Fatalf("billing %d, info %d lines; want 3 and 3 (one-off lines are never folded)", billing, info)
	}
}

// TestFlushAllAtExit: a count still open when the daemon stops is written.
func TestFlushAllAtExit(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t: time.Now()}
	h := New(slog.NewTextHandler(&buf, nil), time.Minute, c.now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	for i := 0; i < 5; i++ {
		slog.New(h).Error("database locked")
	}
	cancel()
	<-done
	if l := lines(&buf); len(l) != 2 || !strings.Contains(l[1], "repeated=4") {
		t.Fatalf("lines: %q", l)
	}
}
