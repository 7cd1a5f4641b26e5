// Package cli is keyward's command line: cobra commands that start the
// daemon, the demo and the TUI, and scripted commands that talk to the
// daemon's socket API. Exit codes: 0 ok, 1 error, 2 usage, 3 daemon not
// reachable.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/tui"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitUnreachable = 3
)

// App is the state shared by every command: global flags and output.
type App struct {
	Socket     string
	ConfigPath string
	Out        io.Writer
	Err        io.Writer
	In         io.Reader
	// Now is the clock for relative dates in human output (tests pin it).
	Now func() time.Time
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

type usageError struct{ error }

// Usagef reports a mistake in how a command was called (exit code 2).
func Usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// Config loads the config named by --config / KEYWARD_CONFIG, or defaults.
func (a *App) Config() (*config.Config, error) { return config.Load(a.ConfigPath) }

// SocketPath resolves the socket: --socket, then KEYWARD_SOCKET (already
// folded into the flag's default), then the config file's, then the default.
func (a *App) SocketPath() string {
	if a.Socket != "" {
		return a.Socket
	}
	if a.ConfigPath != "" {
		if c, err := config.Load(a.ConfigPath); err == nil {
			return c.SocketPath()
		}
	}
	return config.DefaultSocket()
}

// Client returns an API client for the resolved socket.
func (a *App) Client() *api.Client { return api.NewClient(a.SocketPath()) }

// NewRoot builds the command tree.
func NewRoot(a *App) *cobra.Command {
	root := &cobra.Command{
		Use:           "keyward",
		Short:         "Key inventory, KMIP key rings, cloud key life cycles and an encryption proxy, for a terminal",
		Long:          "keyward watches the data-encryption keys of an enterprise KMS and of cloud key vaults, runs their life\ncycles, and encrypts SaaS traffic with them. Run without arguments it opens the TUI.\n\nFirst time? Run: keyward demo",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTUI(cmd.Context(), a, "", "", tui.Options{})
		},
	}
	root.PersistentFlags().StringVar(&a.Socket, "socket", os.Getenv("KEYWARD_SOCKET"), "daemon socket (env KEYWARD_SOCKET)")
	root.PersistentFlags().StringVar(&a.ConfigPath, "config", os.Getenv("KEYWARD_CONFIG"), "config file keyward.toml (env KEYWARD_CONFIG)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.SetOut(a.Out)
	root.SetErr(a.Err)
	root.AddCommand(
		newTUICmd(a),
		newDaemonCmd(a),
		newDemoCmd(a),
		newStatusCmd(a),
		newKeysCmd(a),
		newReportCmd(a),
		newEncryptCmd(a), newDecryptCmd(a), newRewrapCmd(a),
		newDevCmd(a),
		newVersionCmd(a),
		newCertCmd(a),
		newKeyCmd(a), newSyncCmd(a),
		newAuditCmd(a),
		newScheduleCmd(a),
	)
	addExamples(root)
	a.registerCompletions(root)
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, a *App) int {
	root := NewRoot(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ue usageError
	switch {
	case errors.As(err, &ue) || isCobraUsage(err):
		fmt.Fprintf(a.Err, "keyward: %v\nRun 'keyward --help' for usage.\n", err)
		return ExitUsage
	case errors.Is(err, api.ErrUnreachable):
		fmt.Fprintf(a.Err, "keyward: %v\nIs the daemon running? Start it with 'keyward daemon' (or try 'keyward demo'), or point --socket / KEYWARD_SOCKET at its socket.\n", err)
		return ExitUnreachable
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		fmt.Fprintf(a.Err, "keyward: %s\n", ae.Message)
		if isUsageAnswer(ae) {
			return ExitUsage
		}
		return ExitError
	}
	fmt.Fprintf(a.Err, "keyward: %v\n", err)
	return ExitError
}

// isUsageAnswer tells a daemon's refusal of how a command was called (400:
// a query parameter made from a flag or argument) from a refusal of what it
// was given to work on (422: a token that does not decrypt; 413: input too
// large), which is an error, not a usage mistake.
func isUsageAnswer(ae *api.Error) bool {
	return ae.Code == api.CodeBadRequest && ae.Status == http.StatusBadRequest
}

func isCobraUsage(err error) bool {
	m := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires exactly", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

func newVersionCmd(a *App) *cobra.Command {
	return &cobra.Command{Use: "version", Short: "Print keyward's version", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(a.Out, "keyward", versionString())
			return nil
		}}
}
