package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/demo"
	"github.com/keyward/keyward/tui"
)

func newDemoCmd(a *App) *cobra.Command {
	var headless bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole system on this machine with demo keys, and open the TUI",
		Long: "Starts a daemon in a temporary directory with demo key sources and opens the TUI on it.\n" +
			"Quitting the TUI stops everything and removes the directory. With --headless it runs\n" +
			"without the TUI until interrupted and prints the socket to point the CLI or curl at.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			return demo.Run(ctx, demo.Options{Headless: headless, Out: a.Out,
				RunTUI: func(ctx context.Context, socket string) error {
					return runTUI(ctx, a, socket, "keyward demo", tui.Options{})
				}})
		},
	}
	cmd.Flags().BoolVar(&headless, "headless", false, "run without the TUI until interrupted")
	return cmd
}
