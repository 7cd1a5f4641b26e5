package cli

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAuditExportIntoAPipe: --out naming something that is not a regular
// file (a pipe to ssh, /dev/stdout, a device) gets the bundle written into
// it. The export wrote NAME.tmp beside it and renamed that over it: run as
// root with --out /dev/stdout or /dev/full it replaced the device node in
// /dev with a regular file (and said "wrote /dev/full").
func TestAuditExportIntoAPipe(t *testing.T) {
	dir, cfg, _ := auditDaemon(t)
	var out string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, out, _ = run(t, "--config", cfg.Path, "audit", "verify"); strings.Contains(out, "checkpoint") {
			break
		}
	}
	fifo := filepath.Join(dir, "to-the-auditor")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// O_RDWR: the open does not wait for a writer; the tar ends on its
	// own end-of-archive blocks, not on the pipe's end.
	r, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := make(chan []string, 1)
	go func() {
		var got []string
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					got = append(got, "error: "+err.Error())
				}
				names <- got
				return
			}
			got = append(got, h.Name)
		}
	}()
	code, stdout, errs := run(t, "--config", cfg.Path, "audit", "export", "--from", "-1d", "--to", "+1d", "--out", fifo)
	fi, lerr := os.Lstat(fifo)
	if lerr != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		r.Close()
		t.Fatalf("the pipe %s is no longer a pipe (%v, %v) after export: exit %d %s%s", fifo, fi.Mode(), lerr, code, stdout, errs)
	}
	if code != ExitOK {
		t.Fatalf("export into a pipe: exit %d %s%s", code, stdout, errs)
	}
	select {
	case got := <-names:
		if len(got) < 3 || !strings.HasSuffix(got[len(got)-1], "README") && !strings.Contains(strings.Join(got, " "), "README") {
			t.Errorf("the bundle read from the pipe holds %v", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no bundle came through the pipe")
	}
	r.Close()
	if _, err := os.Stat(fifo + ".tmp"); err == nil {
		t.Errorf("%s.tmp left beside the pipe", fifo)
	}
}
