// Package tui is keyward's terminal user interface: a bubbletea program with a
// tab per pane (Keys, Aging, Activity, Proxy, Sources) that talks to the daemon
// only through a Backend (the socket API client), never blocking its event loop
// on the socket, and follows the daemon's event stream instead of polling.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/tui/common"
)

// Backend is what the TUI needs from the daemon; *api.Client satisfies it.
type Backend = common.Backend

// Options tune the TUI. The zero value is usable.
type Options struct {
	// Title is shown at the left of the tab bar ("keyward" when empty),
	// e.g. "keyward demo".
	Title string
	// Socket is the daemon's socket path, shown in the status line.
	Socket string
	// Now is the clock (time.Now when nil); tests pin it.
	Now func() time.Time
	// RequestTimeout bounds each request to the daemon (default 10s).
	RequestTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between attempts to
	// reach the daemon's event stream again (defaults 250ms and 5s).
	ReconnectMin, ReconnectMax time.Duration
	// Input and Output replace the terminal (for embedding and tests).
	Input  io.Reader
	Output io.Writer
	// FilterDebounce is how long typing in a filter must pause before the
	// daemon is queried (default 150ms).
	FilterDebounce time.Duration
	// NoAltScreen keeps the TUI in the normal screen buffer.
	NoAltScreen bool
	// NoColor draws without colour (styles.NoColor): Run sets it when the
	// NO_COLOR environment variable is set.
	NoColor bool
	// ExportDir is where the report panes write CSV exports (default
	// DefaultExportDir); ExportPage is how many rows an export asks the
	// daemon for at a time (default 1000).
	ExportDir  string
	ExportPage int
	// ReadOnly hides every action that changes something; it is on by
	// itself when the daemon says the caller has the user role.
	ReadOnly bool
	// Clipboard is where copying writes its OSC 52 sequence (default:
	// Output, else the terminal on stdout).
	Clipboard io.Writer
}

// DefaultExportDir is $XDG_DATA_HOME/keyward/exports, or
// ~/.local/share/keyward/exports; "" when neither is known.
func DefaultExportDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "keyward", "exports")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "share", "keyward", "exports")
	}
	return ""
}

func (o Options) withDefaults() Options {
	if o.Title == "" {
		o.Title = "keyward"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.ExportDir == "" {
		o.ExportDir = DefaultExportDir()
	}
	if o.Clipboard == nil {
		o.Clipboard = o.Output
	}
	if o.Clipboard == nil {
		o.Clipboard = os.Stdout
	}
	if o.ExportPage <= 0 {
		o.ExportPage = 1000
	}
	if o.FilterDebounce <= 0 {
		o.FilterDebounce = 150 * time.Millisecond
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 250 * time.Millisecond
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = max(5*time.Second, o.ReconnectMin)
	}
	return o
}

// Run shows the TUI until the user quits or ctx ends. It returns nil on a
// normal quit.
func Run(ctx context.Context, backend Backend, opts Options) error {
	if backend == nil {
		return errors.New("tui: no backend to talk to the keyward daemon")
	}
	if os.Getenv("NO_COLOR") != "" {
		// No colour, but attributes: the styles have no colour to draw
		// (styles.NoColor), and reverse, bold and underline still show the
		// selection, the focus and the cursor, which the Ascii profile
		// lipgloss picks for NO_COLOR would strip. Aging and states stay
		// readable: they are words.
		opts.NoColor = true
		lipgloss.SetColorProfile(termenv.ANSI)
	} else {
		// Ask the terminal for its background before the program owns stdin.
		lipgloss.SetHasDarkBackground(lipgloss.HasDarkBackground())
	}
	m := New(ctx, backend, opts)
	defer m.Close()
	popts := []tea.ProgramOption{tea.WithContext(ctx)}
	if !opts.NoAltScreen {
		popts = append(popts, tea.WithAltScreen())
	}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		popts = append(popts, tea.WithOutput(opts.Output))
	}
	_, err := tea.NewProgram(m, popts...).Run()
	if err != nil && !(errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil) {
		return fmt.Errorf("run the terminal UI: %w", err)
	}
	return nil
}
