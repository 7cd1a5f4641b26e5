package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/tuitest"
)

// loseFirstCreate makes the emulated vault create each key whose name
// starts with "lost-", then lose the answer to that first CreateKey (a
// gateway's 500 after the vault did the work).
func loseFirstCreate(srv *vault.Server) {
	var mu sync.Mutex
	seen := map[string]bool{}
	srv.BeforeRequest(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/keys/lost-") || !strings.HasSuffix(r.URL.Path, "/create") {
			return false
		}
		mu.Lock()
		first := !seen[r.URL.Path]
		seen[r.URL.Path] = true
		mu.Unlock()
		if !first {
			return false
		}
		srv.ServeHTTP(httptest.NewRecorder(), r) // the vault does it
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"code":"InternalError","message":"upstream request timed out"}}`))
		return true
	})
}

// TestCreateAnswerLostFromTUIAndCLI: a key created from the TUI (x, n, the
// form) and one from the CLI whose CreateKey answer the vault lost after
// making the key are each made once, and the administrator is told the
// answer was lost and keyward found the key it made — never a failure.
func TestCreateAnswerLostFromTUIAndCLI(t *testing.T) {
	cfg, srv := startVaultDaemon(t)
	loseFirstCreate(srv)
	tm := tuitest.Start(t, api.NewClient(cfg.SocketPath()), tui.Options{Title: "keyward e2e", Socket: cfg.SocketPath()}, 120, 30)
	waitFor(t, tm, "● connected", "orders-kek", "1–1 of 1 key ")
	tm.Type("x")
	waitFor(t, tm, "Actions — orders-kek in vault")
	tm.Type("n")
	waitFor(t, tm, "New key in vault")
	tm.Type("lost-tui")
	for range 4 {
		tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	}
	// The message takes the help line's row when it is long: its parts.
	waitFor(t, tm, "✔ created lost-tui in vault", "the answer to CreateKey was lost;", "the key it made: lost-tui version", "made no second")
	if v := srv.Versions("lost-tui"); len(v) != 1 {
		t.Errorf("the vault holds %d versions of lost-tui after one create, want 1", len(v))
	}
	tuitest.Quit(t, tm, 10*time.Second)

	out := clitest.Runner(t, cfg.SocketPath())("key", "create", "vault", "lost-cli", "--type", "EC", "--curve", "P-256")
	if !strings.Contains(out, "the answer to CreateKey was lost; keyward found the key it made: lost-cli version") {
		t.Errorf("keyward key create whose answer was lost printed:\n%s", out)
	}
	if v := srv.Versions("lost-cli"); len(v) != 1 {
		t.Errorf("the vault holds %d versions of lost-cli after one create, want 1", len(v))
	}
}
