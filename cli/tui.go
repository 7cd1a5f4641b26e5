package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui"
)

func newTUICmd(a *App) *cobra.Command {
	var opts tui.Options
	cmd := &cobra.Command{
		Use:   "tui",
		Short: "Open the terminal UI on the daemon's socket (the default command)",
		Example: `  keyward tui
  keyward tui --read-only
  keyward tui --export-dir ~/reports`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTUI(cmd.Context(), a, "", "", opts)
		},
	}
	cmd.Flags().StringVar(&opts.ExportDir, "export-dir", "",
		"where the report panes write CSV exports (default $XDG_DATA_HOME/keyward/exports, else ~/.local/share/keyward/exports)")
	cmd.Flags().BoolVar(&opts.ReadOnly, "read-only", false,
		"hide every action that changes something (on by itself for a caller with the user role)")
	return cmd
}

// runTUI opens the TUI on socket (or the resolved socket when empty). The
// TUI starts even when the daemon is down and connects when it comes up.
func runTUI(ctx context.Context, a *App, socket, title string, opts tui.Options) error {
	if socket == "" {
		socket = a.SocketPath()
	}
	opts.Title, opts.Socket = title, socket
	// The TUI bounds each request itself (10 s, a sync 2 min): the API
	// client's own 30 s would cut a long sync.
	return tui.Run(ctx, api.NewClient(socket).WithTimeout(0), opts)
}
