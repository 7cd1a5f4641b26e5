package kmip

import (
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	// ovh/kmip-go's server logs every connection to slog's default logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	// Become the reaper of orphaned descendants (PyKMIP's multiprocessing
	// helpers), so killing a pykmip-server leaves no zombie behind even where
	// PID 1 does not reap.
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	os.Exit(m.Run())
}

const prSetChildSubreaper = 36
