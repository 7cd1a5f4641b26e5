package common

import (
	"fmt"
	"os"

	"github.com/aymanbagabas/go-osc52/v2"
	tea "github.com/charmbracelet/bubbletea"
)

// Copy puts text on the clipboard of the terminal the TUI runs in, with an
// OSC 52 sequence written to ctx.Clipboard: it works over SSH (the local
// terminal does the copying) and, through tmux's passthrough, in tmux.
// what names the text in the status line ("the key id"); an id or a
// fingerprint, never key material.
func Copy(ctx *Context, what, text string) tea.Cmd {
	w := ctx.Clipboard
	return func() tea.Msg {
		if w == nil {
			return FlashMsg{Text: "cannot copy: no terminal to send the clipboard sequence to", Err: true}
		}
		seq := osc52.New(text)
		if os.Getenv("TMUX") != "" {
			seq = seq.Tmux()
		} else if os.Getenv("STY") != "" {
			seq = seq.Screen()
		}
		if _, err := seq.WriteTo(w); err != nil {
			return FlashMsg{Text: fmt.Sprintf("cannot copy %s: %v", what, err), Err: true}
		}
		return FlashMsg{Text: fmt.Sprintf("copied %s %s (OSC 52: the terminal must allow clipboard writes)", what, text)}
	}
}
