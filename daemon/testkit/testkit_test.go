package testkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 || len(b.Bytes()) != len(b.String()) {
		t.Fatalf("%d lines, want 800", n)
	}
}

// recorder is a testing.TB that records a failure instead of stopping.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatal(args ...any)              { r.msg = fmt.Sprint(args...) }
func (r *recorder) Fatalf(format string, a ...any) { r.msg = fmt.Sprintf(format, a...) }

// A wait that never ends fails within its timeout, saying what it waited
// for and how things stand.
func TestEventuallyFailsClearly(t *testing.T) {
	r := &recorder{TB: t}
	start := time.Now()
	Eventually(r, 50*time.Millisecond, "the keys to load", func() bool { return false }, func() string { return "loading keys…" })
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %s", el)
	}
	if r.msg != "waited 50ms for the keys to load; it is now:\nloading keys…" {
		t.Fatalf("message %q", r.msg)
	}
	n := 0
	Eventually(t, time.Minute, "three checks", func() bool { n++; return n == 3 }, nil)
}

// Await gives what the goroutine sent, and fails, saying what it waited
// for, when nothing comes.
func TestAwait(t *testing.T) {
	done := make(chan error, 1)
	go func() { done <- io.ErrUnexpectedEOF }()
	if err := Await(t, time.Minute, "the sync", done); err != io.ErrUnexpectedEOF {
		t.Fatalf("Await gave %v", err)
	}
	r := &recorder{TB: t}
	if err := Await(r, 20*time.Millisecond, "Run to return on cancellation", make(chan error)); err != nil || r.msg != "waited 20ms for Run to return on cancellation" {
		t.Fatalf("Await with nothing sent: %v, message %q", err, r.msg)
	}
}

// FreeAddr names a loopback port nothing answers on, and one a server can
// then listen on.
func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("something answers on %s", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the free address %s: %v", addr, err)
	}
	l.Close()
}

// Start waits for ready and gives its address; Stop ends the server and
// returns what it returned; a server that never becomes ready or never
// stops fails the test, saying so, instead of hanging it.
func TestStart(t *testing.T) {
	r := Start(t, "echo server", time.Second, func(ctx context.Context, ready func(string)) error {
		ready("/tmp/echo.sock")
		<-ctx.Done()
		return errors.New("stopped by the test")
	})
	if r.Addr != "/tmp/echo.sock" {
		t.Fatalf("addr %q", r.Addr)
	}
	if err := r.Stop(); err == nil || err.Error() != "stopped by the test" || r.Stop() != err {
		t.Fatalf("stop: %v", err)
	}

	rec := &recorder{TB: t}
	start := time.Now()
	Start(rec, "slow server", 50*time.Millisecond, func(ctx context.Context, ready func(string)) error {
		<-ctx.Done()
		return nil
	})
	if rec.msg != "slow server did not start within 50ms" || time.Since(start) > 5*time.Second {
		t.Fatalf("message %q", rec.msg)
	}
	rec.msg = ""
	Start(rec, "broken server", time.Second, func(ctx context.Context, ready func(string)) error {
		return errors.New("listen unix /x.sock: address already in use")
	})
	if rec.msg != "broken server did not start: listen unix /x.sock: address already in use" {
		t.Fatalf("message %q", rec.msg)
	}
}

// ServeUnix answers on a real Unix socket while the test runs.
func TestServeUnix(t *testing.T) {
	sock := ServeUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	res, err := UnixClient(sock).Get("http://keyward/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if string(b) != "GET /v1/status" {
		t.Fatalf("answer %q", b)
	}
}

// Get gives the body of a page, whatever its status.
func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprint(w, "path "+r.URL.Path)
	}))
	defer srv.Close()
	if got := Get(t, srv.URL+"/records/7"); got != "path /records/7" {
		t.Fatalf("body %q", got)
	}
}

// Accept hands every connection to the handler, and closes the listener
// when the test ends.
func TestAccept(t *testing.T) {
	var l net.Listener
	t.Run("serve", func(t *testing.T) {
		var err error
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		Accept(t, l, func(c net.Conn) { fmt.Fprint(c, "hello"); c.Close() })
		for range 2 {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(c)
			c.Close()
			if string(b) != "hello" {
				t.Fatalf("answer %q", b)
			}
		}
	})
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after its test ended")
	}
}

// ReadCSV gives a file's records, quoted fields unquoted; a file that is
// not CSV fails the test naming the file.
func TestReadCSV(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	if err := os.WriteFile(good, []byte("date,key_id\n2026-11-23,\"acme-kms/a,b\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := ReadCSV(t, good); len(got) != 2 || got[1][1] != "acme-kms/a,b" {
		t.Fatalf("records %q", got)
	}
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("a,b\n\"unterminated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	ReadCSV(r, bad)
	if !strings.Contains(r.msg, bad) {
		t.Fatalf("message %q does not name %s", r.msg, bad)
	}
}

// README is found from a test's directory however deep; a section ends at
// the next heading of its level, not at a deeper one; a missing one fails
// the test naming it.
func TestREADMESection(t *testing.T) {
	if !strings.HasPrefix(README(t), "# ") {
		t.Fatal("README does not start with its title")
	}
	sec := READMESection(t, "## Architecture")
	if strings.Contains(sec, "\n## ") || !strings.Contains(sec, "daemon/testkit") {
		t.Fatalf("the Architecture section runs on or is not it:\n%.300s", sec)
	}
	r := &recorder{TB: t}
	READMESection(r, "## No such section")
	if r.msg != `the README has no "## No such section" section` {
		t.Fatalf("message %q", r.msg)
	}
}

// WriteFile leaves the file readable by its owner only, and says where.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := WriteFile(t, dir, "client.key", []byte("k"))
	b, err := os.ReadFile(p)
	st, _ := os.Stat(p)
	if err != nil || string(b) != "k" || p != filepath.Join(dir, "client.key") || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %q %v", p, b, err)
	}
}

// Packages lists the packages a pattern matches with every dependency.
func TestPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	pkgs := Packages(t, "./daemon/testkit")
	if len(pkgs) != 1 || pkgs[0].Path != "github.com/keyward/keyward/daemon/testkit" || !slices.Contains(pkgs[0].Deps, "os/exec") {
		t.Fatalf("packages %+v", pkgs)
	}
}

// boundaryWait sleeps past an hour's end only when it is closer than the
// margin, and then just past it.
func TestBoundaryWait(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		now  string
		want time.Duration
	}{
		{"2026-12-05T13:00:00Z", 0},
		{"2026-12-05T13:59:29Z", 0},
		{"2026-12-05T13:59:30Z", 0},
		{"2026-12-05T13:59:31Z", 29*time.Second + 10*time.Millisecond},
		{"2026-12-05T13:59:59.995Z", 15 * time.Millisecond},
	} {
		if got := boundaryWait(at(c.now), time.Hour, 30*time.Second); got != c.want {
			t.Errorf("at %s: wait %s, want %s", c.now, got, c.want)
		}
	}
}
