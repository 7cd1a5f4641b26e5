package kmip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIdleConnectionsLeavePyKMIPLogClean: PyKMIP times a connection out
// after 10 idle seconds and logs a traceback for it, again every 10 s. With
// the defaults keyward closes its connection after a poll, so the KMS's log
// stays clean; with keep_alive the traceback appears (which shows the log
// is read right).
func TestIdleConnectionsLeavePyKMIPLogClean(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "defaults", true: "keep_alive"}[keep], func(t *testing.T) {
			t.Parallel()
			b := pykmipBackend(t)
			b.create(t, "acme.crm.key.1")
			b.closeAdmin() // the admin connection would idle too
			e := newEnv(t, b, "", nil, crmApp)
			e.cfg.KeepAlive = keep
			src, err := New(e.cfg, e.deps)
			if err != nil {
				t.Fatal(err)
			}
			e.src = src
			t.Cleanup(func() { src.Close() })
			e.mustPoll()
			time.Sleep(12 * time.Second)
			log, err := os.ReadFile(filepath.Join(b.dir, "server.log"))
			if err != nil {
				t.Fatal(err)
			}
			const timeout = "Failure handling message loop"
			if got := strings.Contains(string(log), timeout); got != keep {
				t.Fatalf("keep_alive=%v: PyKMIP's log has %q: %v, want %v; the log:\n%s", keep, timeout, got, keep, tail(log))
			}
			if keep {
				return
			}
			// The next poll reconnects by itself.
			if st := e.mustPoll(); st.Matched != 1 {
				t.Fatalf("poll after the idle close: %+v", st)
			}
		})
	}
}
