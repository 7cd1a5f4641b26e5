package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/localapi"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// These tests play slow, greedy and sloppy clients against a real daemon on
// its real Unix socket, with small limits so they run in seconds.

func startLimited(t *testing.T, l Limits, extra ...sources.Source) *running {
	t.Helper()
	return startOpts(t, testConfig(t), Options{Limits: l, Sources: extra, Routes: []localapi.Route{echoRoute()}})
}

// echoRoute is a route open to users that reads a JSON body the way the
// daemon's routes do (api.ReadJSON).
func echoRoute() localapi.Route {
	h := func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Text string `json:"text"`
		}
		if e := api.ReadJSON(w, r, &req); e != nil {
			return e
		}
		if req.Text == "plain" {
			http.Error(w, "echo refuses plain text\nsecond line", http.StatusConflict)
			return nil
		}
		if req.Text == "wait" {
			// Outlive the tests' body deadline: the request must go on.
			time.Sleep(time.Second)
			if err := r.Context().Err(); err != nil {
				api.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "request context ended: %v", err)
				return nil
			}
		}
		api.WriteJSON(w, http.StatusOK, req)
		return nil
	}
	return localapi.Route{Method: http.MethodPost, Pattern: "/v1/echo", Role: api.RoleUser, Serve: h, Why: "a test route"}
}

func dial(t *testing.T, socket string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the daemon closes c (the client reads EOF,
// after whatever was sent before) within d.
func closedWithin(c net.Conn, d time.Duration) (bool, string) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	return err == nil, string(b)
}

// rawAnswer sends a raw request and reads one answer from it.
func rawAnswer(t *testing.T, c net.Conn, req string) (*http.Response, api.Error) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to %q: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e api.Error
	if resp.StatusCode >= 400 {
		if resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &e) != nil || e.Code == "" || e.Message == "" {
			t.Fatalf("%q: %s is not the API's JSON error: %s %q", req, resp.Status, resp.Header, b)
		}
	}
	return resp, e
}

func TestHalfHeaderClientIsCut(t *testing.T) {
	r := startLimited(t, Limits{HeaderTimeout: 300 * time.Millisecond})
	c := dial(t, r.socket)
	io.WriteString(c, "GET /v1/status HTTP/1.1\r\nHost: keyward\r\nX-Slow: ")
	if closed, _ := closedWithin(c, 3*time.Second); !closed {
		t.Fatal("a client that stopped halfway through its headers still holds its connection")
	}
	// A connection that never sends a byte is cut the same way.
	if closed, _ := closedWithin(dial(t, r.socket), 3*time.Second); !closed {
		t.Fatal("a silent connection is still open")
	}
}

func TestSlowBodyIsCut(t *testing.T) {
	r := startLimited(t, Limits{BodyTimeout: 300 * time.Millisecond})
	c := dial(t, r.socket)
	start := time.Now()
	resp, e := rawAnswer(t, c, "POST /v1/echo HTTP/1.1\r\nHost: keyward\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"text\":")
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(e.Message, "not received in time") {
		t.Fatalf("slow body: %s %+v", resp.Status, e)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("slow body answered after %s", time.Since(start))
	}
	// A body that arrives in time is served, and the handler's context
	// is not cancelled by the body deadline passing afterwards.
	c = dial(t, r.socket)
	resp, e = rawAnswer(t, c, "POST /v1/echo HTTP/1.1\r\nHost: keyward\r\nContent-Length: 15\r\n\r\n{\"text\":\"wait\"}")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("prompt body, long handler: %s %+v", resp.Status, e)
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	r := startLimited(t, Limits{IdleTimeout: 300 * time.Millisecond})
	c := dial(t, r.socket)
	if resp, _ := rawAnswer(t, c, "GET /v1/status HTTP/1.1\r\nHost: keyward\r\n\r\n"); resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %s", resp.Status)
	}
	if closed, _ := closedWithin(c, 3*time.Second); !closed {
		t.Fatal("an idle keep-alive connection is still open")
	}
}

func TestConnectionsPerUIDAreBounded(t *testing.T) {
	r := startLimited(t, Limits{ConnsPerUID: 3})
	var held []net.Conn
	for range 3 {
		held = append(held, dial(t, r.socket))
	}
	resp, e := rawAnswer(t, dial(t, r.socket), "GET /v1/status HTTP/1.1\r\nHost: keyward\r\n\r\n")
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(e.Message, fmt.Sprintf("uid %d already has 3 connections open", os.Getuid())) {
		t.Fatalf("fourth connection: %s %+v", resp.Status, e)
	}
	held[0].Close()
	var status string
	testkit.Eventually(t, 5*time.Second, "a closed connection to be given back (a new one answered 200)", func() bool {
		resp, _ := rawAnswer(t, dial(t, r.socket), "GET /v1/status HTTP/1.1\r\nHost: keyward\r\nConnection: close\r\n\r\n")
		status = resp.Status
		return resp.StatusCode == http.StatusOK
	}, func() string { return status })
}

func TestRefusedCallerConnectionIsClosed(t *testing.T) {
	r := startLimited(t, Limits{})
	c := dial(t, r.socket)
	resp, _ := rawAnswer(t, c, "GET /v1/status HTTP/1.1\r\nHost: keyward\r\nOrigin: https://evil.example\r\n\r\n")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("browser request: %s", resp.Status)
	}
	if closed, rest := closedWithin(c, 3*time.Second); !closed || rest != "" {
		t.Fatalf("a refused caller keeps its connection (closed=%v, then %q)", closed, rest)
	}
}

// noisySource applies, when told, a batch of n events with long details:
// enough notifications to fill a socket's buffers.
type noisySource struct {
	n    int
	kick chan struct{}
}

func (s *noisySource) Name() string    { return "noise" }
func (s *noisySource) Kind() string    { return "seed" }
func (s *noisySource) Address() string { return "test" }
func (s *noisySource) Run(ctx context.Context, sink sources.Sink) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
			evs := make([]engine.Event, s.n)
			for i := range evs {
				evs[i] = engine.Event{Time: time.Now(), Source: "noise", Operation: engine.OpSynced, Actor: "noise", Origin: engine.OriginSource,
					Details: fmt.Sprintf("%d %s", i, strings.Repeat("x", 4000))}
			}
			if err := sink.Apply(ctx, sources.Batch{Source: "noise", Events: evs}); err != nil {
				return err
			}
		}
	}
}

func TestEventStreamThatStopsReadingIsDropped(t *testing.T) {
	noise := &noisySource{n: 400, kick: make(chan struct{}, 4)}
	r := startLimited(t, Limits{StreamWriteTimeout: 300 * time.Millisecond}, noise)
	c := dial(t, r.socket)
	io.WriteString(c, "GET /v1/events HTTP/1.1\r\nHost: keyward\r\n\r\n")
	time.Sleep(200 * time.Millisecond) // the stream is open; now it is never read
	for range 3 {
		noise.kick <- struct{}{}
	}
	time.Sleep(2 * time.Second)
	// Drain what the daemon managed to send: the stream must have ended.
	if closed, _ := closedWithin(c, 5*time.Second); !closed {
		t.Fatal("an event stream nobody reads is still open")
	}
	// Coming back, the caller is told why.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hello := make(chan api.Notification, 1)
	go api.NewClient(r.socket).Watch(ctx, func(n api.Notification) {
		select {
		case hello <- n:
		default:
		}
	})
	select {
	case n := <-hello:
		if n.Type != api.NoteHello || !strings.Contains(n.Dropped, "previous event stream was dropped") || !strings.Contains(n.Dropped, "did not read") {
			t.Fatalf("hello after a drop: %+v", n)
		}
	case <-ctx.Done():
		t.Fatal("no hello")
	}
}

func TestEventStreamsPerUIDAreBounded(t *testing.T) {
	r := startLimited(t, Limits{StreamsPerUID: 2})
	c := api.NewClient(r.socket)
	var cancels []context.CancelFunc
	for range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		cancels = append(cancels, cancel)
		up := make(chan struct{})
		go c.Watch(ctx, func(api.Notification) {
			select {
			case <-up:
			default:
				close(up)
			}
		})
		<-up
	}
	third, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := c.Watch(third, func(api.Notification) {})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || !strings.Contains(ae.Message, "already has 2 event streams open") {
		t.Fatalf("third stream: %v", err)
	}
	cancels[0]()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan struct{}, 1)
		done := make(chan error, 1)
		go func() { done <- c.Watch(ctx, func(api.Notification) { got <- struct{}{}; cancel() }) }()
		select {
		case <-got:
			cancel()
			return
		case err := <-done:
			cancel()
			if time.Now().After(deadline) {
				t.Fatalf("a closed stream was never given back: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestNetHTTPErrorsAreJSON(t *testing.T) {
	r := startLimited(t, Limits{MaxHeaderBytes: 1 << 10})
	for _, tc := range []struct {
		name, req, want string
		status          int
	}{
		{"bad request line", "GARBAGE\r\n\r\n", "could not be read as HTTP", 400},
		{"no Host", "GET /v1/status HTTP/1.1\r\n\r\n", "missing required Host header", 400},
		{"headers too large", "GET /v1/status HTTP/1.1\r\nHost: keyward\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", "headers are larger than 1024 bytes", 431},
		{"path cleaning redirect", "GET /v1//status HTTP/1.1\r\nHost: keyward\r\n\r\n", "the canonical path is /v1/status", 404},
		{"dot segments", "GET /v1/./keys HTTP/1.1\r\nHost: keyward\r\n\r\n", "not redirected", 404},
		{"method not allowed in a mount", "GET /v1/echo HTTP/1.1\r\nHost: keyward\r\n\r\n", "GET is not allowed on /v1/echo (allowed: POST)", 405},
		{"http.Error in a handler", "POST /v1/echo HTTP/1.1\r\nHost: keyward\r\nContent-Length: 16\r\n\r\n{\"text\":\"plain\"}", "POST /v1/echo: echo refuses plain text", 409},
		{"unknown endpoint", "GET /v2/status HTTP/1.1\r\nHost: keyward\r\n\r\n", "no such endpoint", 404},
	} {
		resp, e := rawAnswer(t, dial(t, r.socket), tc.req)
		if resp.StatusCode != tc.status || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: %s %+v, want %d with %q", tc.name, resp.Status, e, tc.status, tc.want)
		}
		if resp.Header.Get("Location") != "" {
			t.Errorf("%s: still redirects to %s", tc.name, resp.Header.Get("Location"))
		}
	}
}
