package cli

import (
	"context"

	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon"
)

func versionString() string { return daemon.Version }

func newDaemonCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "Run the keyward daemon in the foreground (for systemd)",
		Long: "Runs the daemon: key sources, the store and the socket API. Logs go to stderr as structured\n" +
			"text; SIGTERM or SIGINT stop it cleanly. With no --config it runs on defaults.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.Config()
			if err != nil {
				return err
			}
			if a.Socket != "" {
				cfg.Socket = a.Socket
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return daemon.Run(ctx, cfg, daemon.Options{Logger: NewLogger(cfg.LogLevel)})
		},
	}
}

// NewLogger returns the daemon's structured logger on stderr.
func NewLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
}
