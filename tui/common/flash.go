package common

import (
	"context"
	"errors"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
)

// FlashMsg asks the root to show a one-line result in the status line until
// it is replaced or expires.
type FlashMsg struct {
	Text string
	Err  bool
}

// Flash is a command that shows text in the status line.
func Flash(text string) tea.Cmd { return func() tea.Msg { return FlashMsg{Text: text} } }

// FlashErr is a command that shows an error in the status line.
func FlashErr(text string) tea.Cmd { return func() tea.Msg { return FlashMsg{Text: text, Err: true} } }

// CallFor is Call with a longer bound, for requests that wait for a source
// (a sync asks the vault or the KMS before answering).
func (c *Context) CallFor(d time.Duration, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(c.Ctx, max(d, c.Timeout))
	defer cancel()
	return fn(ctx)
}

// Unsure reports that err leaves a request's outcome unknown: it was
// sent, and the daemon went away (ErrAnswerLost) or did not answer in time
// before it said. A dialog that sent it closes rather than offer enter
// again, which would do it twice.
func Unsure(err error) bool {
	return errors.Is(err, api.ErrAnswerLost) || errors.Is(err, context.DeadlineExceeded)
}

// Explain turns an error from the daemon into words for the administrator:
// the daemon's own message without its code, or what to do when the daemon
// is not there or does not know the route yet.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	var ae *api.Error
	switch {
	case errors.Is(err, api.ErrAnswerLost):
		return "the daemon went away before it answered: it may have been done (not sent again; check before repeating it)"
	case errors.Is(err, api.ErrUnreachable):
		return "daemon not reachable (start it with: keyward daemon)"
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer from the daemon in time (it may still be working; watch the activity)"
	case errors.As(err, &ae):
		msg := strings.TrimSpace(ae.Message)
		if msg == "" {
			msg = ae.Code
		}
		switch ae.Code {
		case api.CodeForbidden:
			if !strings.Contains(msg, "admin role") {
				msg += " (needs the admin role)"
			}
		case api.CodeNotFound:
			if strings.HasPrefix(msg, "no such") {
				msg += " — this daemon does not serve it (yet)"
			}
		}
		return msg
	}
	return err.Error()
}
