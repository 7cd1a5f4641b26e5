package gcp

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/grpclog"

	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
	"github.com/keyward/keyward/daemon/testkit"
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

	stderr := cloudtest.Stderr(t)
	var log testkit.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	grpcLogOnce = sync.Once{} // another test of the package may have made a source first
	if _, err := NewSource(cfg, logger); err != nil {
		t.Fatal(err)
	}
	grpclog.Component("transport").Errorf("probe: connection refused")
	grpclog.Component("transport").Warningf("probe warning")
	if leaked := stderr(); leaked != "" {
		t.Errorf("gRPC wrote to stderr: %q", leaked)
	}
	got := log.String()
	for _, want := range []string{"level=ERROR", "probe: connection refused", "component=grpc", "level=WARN"} {
		if !strings.Contains(got, want) {
			t.Errorf("daemon log lacks %q:\n%s", want, got)
		}
	}
}
