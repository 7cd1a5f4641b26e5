package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui"
)

func newTUICmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "tui",
		Short: "Open the terminal UI on the daemon's socket (the default command)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTUI(cmd.Context(), a, "", "")
		},
	}
}

// runTUI opens the TUI on socket (or the resolved socket when empty). The
// TUI starts even when the daemon is down and connects when it comes up.
func runTUI(ctx context.Context, a *App, socket, title string) error {
	if socket == "" {
		socket = a.SocketPath()
	}
	return tui.Run(ctx, api.NewClient(socket), tui.Options{Title: title, Socket: socket})
}
