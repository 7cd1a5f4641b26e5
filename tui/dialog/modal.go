package dialog

import (
	"github.com/charmbracelet/bubbles/key"
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

// Typing reports that the dialog on top has a text input with the focus: a
// confirmation that wants the key's name typed, or a form.
func (d *Modal) Typing() bool {
	switch {
	case d.Confirm != nil:
		return d.Confirm.Require != ""
	case d.Form != nil:
		return len(d.Form.Fields) > 0
	}
	return false
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

// Help is the help line of the dialog on top: a form moves between fields,
// a confirmation is accepted or not, a message scrolls and closes, a menu
// moves between items.
func (d *Modal) Help(k *common.KeyMap) []key.Binding {
	switch {
	case d.Form != nil:
		return []key.Binding{k.NextField, k.Confirm, k.Cancel}
	case d.Confirm != nil:
		return []key.Binding{k.Confirm, k.Cancel}
	case d.Msg != nil:
		return []key.Binding{k.Up, k.Down, k.Cancel}
	}
	return []key.Binding{k.Up, k.Down, k.Confirm, k.Cancel}
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

// Step is what an action flow does after its dialog handled a message.
type Step int

// Steps.
const (
	Stay   Step = iota // the dialog stays open
	Close              // the dialog was cancelled: close the flow
	Send               // send the request: the confirmation was accepted or the form's input checked
	Choose             // a menu item was picked (Menu.Chosen)
)

// Flow is an action flow's open dialog with what it sends: Run when the
// confirmation is accepted, what Submit makes of the form when the form is
// submitted.
type Flow[R any] struct {
	Modal
	Run    R
	Submit func(f *Form) (R, error)
}

// Next passes msg to the dialog on top and says what the flow does next;
// with Send, r is the request to send. A form whose input Submit refuses
// shows why and stays open; a form submitted has its secret fields cleared
// (they go with the request only).
func (f *Flow[R]) Next(msg tea.Msg, k *common.KeyMap) (step Step, r R, cmd tea.Cmd) {
	out, cmd := f.Update(msg, k)
	switch {
	case out == Cancel:
		return Close, r, cmd
	case out != Submit:
		return Stay, r, cmd
	case f.Confirm != nil:
		return Send, f.Run, cmd
	case f.Form != nil:
		run, err := f.Submit(f.Form)
		if err != nil {
			f.Form.Status.Err = err.Error()
			return Stay, r, cmd
		}
		f.Form.Clear()
		return Send, run, cmd
	}
	return Choose, r, cmd // a message never submits: the menu did
}
