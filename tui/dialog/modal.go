package dialog

import (
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/styles"
)

// Modal is the dialog an action flow has open. Several may be set at once
// (a confirmation opened from a menu); the one on top is, in this order, the
// confirmation, the form, the message, then the menu.
type Modal struct {
	Menu    *Menu
	Confirm *Confirm
	Form    *Form
	Msg     *Message
}

// Show replaces the open dialogs.
func (d *Modal) Show(menu *Menu, confirm *Confirm, form *Form, msg *Message) {
	d.Menu, d.Confirm, d.Form, d.Msg = menu, confirm, form, msg
}

// Status is the status line of the dialog on top (a throwaway one when none
// is open).
func (d *Modal) Status() *Status {
	switch {
	case d.Confirm != nil:
		return &d.Confirm.Status
	case d.Form != nil:
		return &d.Form.Status
	case d.Msg != nil:
		return &d.Msg.Status
	case d.Menu != nil:
		return &d.Menu.Status
	}
	return &Status{}
}

// Update passes msg to the dialog on top: any message to a confirmation or a
// form (their inputs blink), only key presses to a message or a menu. A form
// cancelled has its secret fields cleared. Submit comes from the
// confirmation, the form or the menu on top, never from a message.
func (d *Modal) Update(msg tea.Msg, k *common.KeyMap) (Outcome, tea.Cmd) {
	km, isKey := msg.(tea.KeyMsg)
	switch {
	case d.Confirm != nil:
		return d.Confirm.Update(msg, k)
	case d.Form != nil:
		out, cmd := d.Form.Update(msg, k)
		if out == Cancel {
			d.Form.Clear()
		}
		return out, cmd
	case !isKey:
		return None, nil
	case d.Msg != nil:
		return d.Msg.Update(km, k), nil
	case d.Menu != nil:
		return d.Menu.Update(km, k), nil
	}
	return None, nil
}

// View draws the dialog on top in a w×h pane.
func (d *Modal) View(st *styles.Styles, k *common.KeyMap, w, h int) string {
	switch {
	case d.Confirm != nil:
		return d.Confirm.View(st, k, w, h)
	case d.Form != nil:
		return d.Form.View(st, k, w, h)
	case d.Msg != nil:
		return d.Msg.View(st, k, w, h)
	case d.Menu != nil:
		return d.Menu.View(st, k, w, h)
	}
	return ""
}
