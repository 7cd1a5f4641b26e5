package sourcespane

import (
	"context"
	"fmt"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/dialog"
	"github.com/keyward/keyward/tui/table"
)

// rotateDoneMsg is the daemon's answer to a rotation of an application.
type rotateDoneMsg struct {
	rot *api.AppRotation
	err error
}

func (m *Model) rotating() bool { return m.modal.Confirm != nil }

// confirmRotate asks before rotating the application of the selected
// ring generation (x): its next generation, created and activated on the
// KMS, as a rotate schedule does.
func (m *Model) confirmRotate() tea.Cmd {
	if m.sel >= len(m.items) || m.items[m.sel].gen == nil {
		return common.Flash("x on a ring's generation rotates its application (select one with j/k)")
	}
	if m.ctx.ReadOnly || m.role == api.RoleUser {
		return common.FlashErr("read-only: no rotation (admin only); nothing sent")
	}
	it := m.items[m.sel]
	m.modal.Show(nil, dialog.NewConfirm("Rotate application "+table.Clean(it.app)+" of "+table.Clean(it.source)+" now?", []string{
		"The KMS gets the ring's next generation, created and activated.",
		"The proxy encrypts with it; older generations still decrypt.",
		"Recorded as rotated, with your user name.",
	}, "", true), nil, nil)
	return nil
}

func (m *Model) updateRotate(msg tea.KeyMsg) tea.Cmd {
	out, cmd := m.modal.Update(msg, m.ctx.Keys)
	switch out {
	case dialog.Cancel:
		m.modal.Show(nil, nil, nil, nil)
	case dialog.Submit:
		it := m.items[min(m.sel, len(m.items)-1)]
		m.modal.Confirm.Status.Busy = "asking the KMS…"
		c, source, app := m.ctx, it.source, it.app
		return func() tea.Msg {
			rot, err := common.Get(c, func(ctx context.Context) (*api.AppRotation, error) { return c.Backend.RotateApp(ctx, source, app) })
			return common.Reply(common.PaneSources, rotateDoneMsg{rot: rot, err: err})
		}
	}
	return cmd
}

func (m *Model) onRotateDone(msg rotateDoneMsg) tea.Cmd {
	if msg.err != nil {
		if common.Unsure(msg.err) {
			// It may have rotated: no enter to send it again.
			m.modal.Show(nil, nil, nil, nil)
			return common.FlashErr("rotate: " + common.Explain(msg.err))
		}
		if m.modal.Confirm != nil {
			m.modal.Confirm.Status.Busy, m.modal.Confirm.Status.Err = "", "refused: "+common.Explain(msg.err)
		}
		return nil
	}
	m.modal.Show(nil, nil, nil, nil)
	r := msg.rot
	text := fmt.Sprintf("rotated %s: %s (after %s)", table.Clean(r.Application), table.Clean(r.Generation), table.Clean(r.Previous))
	if r.Note != "" {
		text += "; " + table.Clean(r.Note)
	}
	return tea.Batch(common.Flash(text), m.fetch())
}
