// Package common is what every pane of keyward's TUI shares: the context
// (size, styles, key map, clock, backend), the pane contract, and the typed
// messages the root routes between the daemon and the panes.
package common

import (
	"context"
	"io"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/styles"
)

// Context is shared by the root model and every pane. Panes hold a pointer to
// it and never reach for globals.
type Context struct {
	// Ctx ends when the TUI quits; every backend call derives from it.
	Ctx     context.Context
	Backend Backend
	Styles  *styles.Styles
	Keys    *KeyMap
	// Now is the clock: ages, "in 3d" and "reconnected at" use it.
	Now func() time.Time
	// Timeout bounds one request to the daemon.
	Timeout time.Duration
	// Debounce is how long typing in a filter must pause before the daemon
	// is asked (a text search over a large inventory is not free).
	Debounce time.Duration
	// Width and Height are the terminal size.
	Width, Height int
	Title         string
	Socket        string
	// ExportDir is where report exports are written; ExportPage is how
	// many rows an export asks the daemon for at a time.
	ExportDir  string
	ExportPage int
	// ReadOnly hides every action that changes something (keyward tui
	// --read-only, or a caller with the user role): the root sets it.
	ReadOnly bool
	// Clipboard is where Copy writes its OSC 52 sequence: the terminal.
	Clipboard io.Writer
}

// Call runs fn with a request context bounded by Timeout.
func (c *Context) Call(fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(c.Ctx, c.Timeout)
	defer cancel()
	return fn(ctx)
}

// Get is Call for a request that answers a value: it runs fn with a request
// context bounded by c's Timeout and returns fn's answer.
func Get[T any](c *Context, fn func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(c.Ctx, c.Timeout)
	defer cancel()
	return fn(ctx)
}

// PaneID names a pane.
type PaneID string

// The panes, in tab order.
const (
	PaneKeys      PaneID = "keys"
	PaneAging     PaneID = "aging"
	PaneActivity  PaneID = "activity"
	PaneProxy     PaneID = "proxy"
	PaneSources   PaneID = "sources"
	PaneUsage     PaneID = "usage"
	PaneSchedules PaneID = "schedules"
)

// Pane is the contract of one tab.
type Pane interface {
	ID() PaneID
	Title() string
	Init() tea.Cmd
	// Update handles a key press (only when the pane is visible), the
	// message of a PaneMsg addressed to it (the root unwraps it), or a
	// broadcast (NotificationMsg, StatusMsg, RefreshMsg).
	Update(msg tea.Msg) tea.Cmd
	View() string
	// SetSize gives the pane the size of its body.
	SetSize(width, height int)
	// ShortHelp and FullHelp list the pane's bindings from the shared key map.
	ShortHelp() []key.Binding
	FullHelp() [][]key.Binding
	// Capturing reports that the pane is taking text input, so global keys
	// (q, digits, tab) must go to it.
	Capturing() bool
	// Typing reports that a text input has the focus: runes arriving in one
	// key message (a paste, a fast typist) are text for it. Otherwise the
	// root hands them to the pane one key at a time.
	Typing() bool
	// StatusValue is a short summary shown in the status line.
	StatusValue() string
}

// PaneMsg carries the result of a pane's own request back to that pane: the
// root hands the pane Msg.
type PaneMsg struct {
	Pane PaneID
	Msg  tea.Msg
}

// Reply wraps msg so the root routes it to pane.
func Reply(pane PaneID, msg tea.Msg) tea.Msg { return PaneMsg{Pane: pane, Msg: msg} }

// NotificationMsg is one line of the daemon's event stream, broadcast to all panes.
type NotificationMsg struct{ api.Notification }

// StatusMsg carries the daemon's status (from hello or GET /v1/status).
type StatusMsg struct{ Status *api.Status }

// RefreshMsg asks panes to refetch what they show, after the daemon came
// back. OnlyFailed limits it to panes whose last request failed.
type RefreshMsg struct{ OnlyFailed bool }

// OpenKeyMsg asks the root to show one key's detail in the Keys pane (from a
// report entry, say).
type OpenKeyMsg struct{ ID string }

// DetailClosedMsg says that the Keys pane closed a key's detail (esc): the
// root goes back to the pane the key was opened from, if any.
type DetailClosedMsg struct{}

// SyncMsg asks the Keys pane to sync a source ("" every source), as y and Y
// do (from the command line).
type SyncMsg struct{ Source string }

// OpenKey is a command that sends OpenKeyMsg.
func OpenKey(id string) tea.Cmd { return func() tea.Msg { return OpenKeyMsg{ID: id} } }

// ResizedMsg follows SetSize: a pane whose page size changed fetches again.
type ResizedMsg struct{}

// ActivatedMsg tells a pane it has become the visible tab.
type ActivatedMsg struct{}

// Plural is "1 version", "3 versions" (engine.Plural, for the panes).
func Plural(n int, word string) string { return engine.Plural(n, word) }
