package cli

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/testkit"
)

// slowDaemon serves the socket API's POST /v1/sync on a real Unix socket,
// answering only after delay, as a daemon waiting for a slow vault does.
func slowDaemon(t *testing.T, delay time.Duration) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sync", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"synced":["azure-demo"]}`))
	})
	return testkit.ServeUnix(t, mux)
}

// keyward sync against a slow source says it is still waiting, and past
// --timeout fails in words with exit 1, not with Go's HTTP timeout.
func TestSyncSlowSource(t *testing.T) {
	defer func(d time.Duration) { syncProgressEvery = d }(syncProgressEvery)
	syncProgressEvery = 100 * time.Millisecond
	sock := slowDaemon(t, time.Minute)
	start := time.Now()
	code, out, errs := run(t, "--socket", sock, "sync", "--source", "azure-demo", "--timeout", "1s")
	if code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s with --timeout 1s", took)
	}
	if !strings.Contains(errs, "syncing azure-demo… ") {
		t.Errorf("no progress on stderr: %q", errs)
	}
	if !strings.Contains(errs, "keyward: sync of azure-demo did not finish in 1s; the daemon may still be syncing") ||
		strings.Contains(errs, "deadline") || strings.Contains(errs, "Client.Timeout") || strings.Contains(errs, "http://") {
		t.Errorf("stderr: %q", errs)
	}
	if out != "" {
		t.Errorf("stdout: %q", out)
	}
}

// A sync slower than the API client's 30 s bound for one request still
// gets its answer: keyward sync waits for --timeout, not for 30 s.
func TestSyncWaitsPastClientBound(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 31 s")
	}
	sock := slowDaemon(t, 31*time.Second)
	code, out, errs := run(t, "--socket", sock, "sync", "--timeout", "1m")
	if code != ExitOK || !strings.Contains(out, "synced azure-demo") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if !strings.Contains(errs, "syncing every source… 30s") {
		t.Errorf("no progress on stderr: %q", errs)
	}
}

func TestSyncTimeoutUsage(t *testing.T) {
	code, _, errs := run(t, "--socket", "/nonexistent", "sync", "--timeout", "0s")
	if code != ExitUsage || !strings.Contains(errs, "--timeout must be positive") {
		t.Errorf("exit %d: %q", code, errs)
	}
}
