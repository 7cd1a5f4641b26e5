package common

import (
	"fmt"

	tea "github.com/charmbracelet/bubbletea"
)

// MaxHeld bounds the keys a list holds while a page loads (a key held
// down over a slow link); past it they are dropped.
const MaxHeld = 256

// Held is the keys typed at a paged list while it waits for a page (a j
// past the page's end, a new filter or range): they are for the list that
// comes, so they wait for it rather than being lost or acting on a row of
// the page that goes.
type Held struct{ keys []tea.KeyMsg }

// Hold keeps k for Replay.
func (h *Held) Hold(k tea.KeyMsg) {
	if len(h.keys) < MaxHeld {
		h.keys = append(h.keys, k)
	}
}

// Replay hands the held keys to handle in order, until waiting reports
// that one asked for another page (the rest wait for that one).
func (h *Held) Replay(handle func(tea.KeyMsg) tea.Cmd, waiting func() bool) tea.Cmd {
	var cmds []tea.Cmd
	for len(h.keys) > 0 && !waiting() {
		k := h.keys[0]
		h.keys = h.keys[1:]
		cmds = append(cmds, handle(k))
	}
	if len(h.keys) == 0 {
		h.keys = nil
	}
	return tea.Batch(cmds...)
}

// Forget forgets the held keys and returns how many there were.
func (h *Held) Forget() int {
	n := len(h.keys)
	h.keys = nil
	return n
}

// Drop forgets the held keys when the page they waited for failed, and
// says in the status line how many were not handled and why.
func (h *Held) Drop(err error) tea.Cmd {
	n := h.Forget()
	if n == 0 {
		return nil
	}
	return FlashErr(fmt.Sprintf("%s typed while it loaded not handled: %s", Plural(n, "key"), Explain(err)))
}
