package gcp

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/grpclog"

	"github.com/keyward/keyward/daemon/demo/gcpkms"
)

// TestGRPCLogGoesToDaemonLog: once a [[gcp]] source is made, what gRPC's
// components log (by default errors to stderr, over the TUI) is in the
// daemon's log instead, and stderr stays empty.
func TestGRPCLogGoesToDaemonLog(t *testing.T) {
	fake := gcpkms.New(TestProject)
	addr, stop, err := fake.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cfg := Settings{Name: "gcp-log", Project: TestProject, Endpoint: addr, Credential: CredNone}
	if errs := cfg.Validate("gcp"); len(errs) > 0 {
		t.Fatal(errs)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = stderr }()

	var mu sync.Mutex
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return log.Write(p)
	}), nil))
	grpcLogOnce = sync.Once{} // another test of the package may have made a source first
	if _, err := NewSource(cfg, logger); err != nil {
		t.Fatal(err)
	}
	grpclog.Component("transport").Errorf("probe: connection refused")
	grpclog.Component("transport").Warningf("probe warning")
	os.Stderr = stderr
	w.Close()
	leaked, _ := io.ReadAll(r)
	if len(leaked) != 0 {
		t.Errorf("gRPC wrote to stderr: %q", leaked)
	}
	mu.Lock()
	got := log.String()
	mu.Unlock()
	for _, want := range []string{"level=ERROR", "probe: connection refused", "component=grpc", "level=WARN"} {
		if !strings.Contains(got, want) {
			t.Errorf("daemon log lacks %q:\n%s", want, got)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
