package common

import (
	"sync/atomic"

	tea "github.com/charmbracelet/bubbletea"
)

// BusyMsg tells the root that a long operation (a sync, say) started or,
// with Done, ended: while one runs, the status line shows a spinner, what
// it is and for how long, instead of a result it does not have yet. Its
// outcome comes after as a FlashMsg.
type BusyMsg struct {
	ID   int64
	Text string
	Done bool
}

var busyIDs atomic.Int64

// Busy starts a long operation: it shows text with a spinner until the
// command that ends it (Idle with the same id) runs. It returns the
// command and the id.
func Busy(text string) (tea.Cmd, int64) {
	id := busyIDs.Add(1)
	return func() tea.Msg { return BusyMsg{ID: id, Text: text} }, id
}

// Idle ends the long operation id.
func Idle(id int64) tea.Cmd { return func() tea.Msg { return BusyMsg{ID: id, Done: true} } }
