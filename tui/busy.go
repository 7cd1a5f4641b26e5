package tui

import (
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/tui/common"
)

// busyOp is a long operation under way, as the status line shows it.
type busyOp struct {
	id    int64
	text  string
	start time.Time
	// flashSeq is the status message shown when it started: a newer one
	// is shown over the spinner.
	flashSeq int
}

// busyTick turns the spinner.
type busyTick struct{}

// spinnerFrames are drawn one per busyEvery; they read without colour.
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

const busyEvery = 120 * time.Millisecond

// onBusy keeps the operations under way and turns the spinner while there
// are any.
func (m *Model) onBusy(msg common.BusyMsg) tea.Cmd {
	if msg.Done {
		for i, op := range m.busy {
			if op.id == msg.ID {
				m.busy = append(m.busy[:i], m.busy[i+1:]...)
				break
			}
		}
		return nil
	}
	m.busy = append(m.busy, busyOp{id: msg.ID, text: msg.Text, start: m.c.Now(), flashSeq: m.flashSeq})
	if len(m.busy) == 1 {
		return m.tickBusy()
	}
	return nil
}

func (m *Model) tickBusy() tea.Cmd {
	return tea.Tick(busyEvery, func(time.Time) tea.Msg { return busyTick{} })
}

func (m *Model) onBusyTick() tea.Cmd {
	if len(m.busy) == 0 {
		return nil
	}
	m.spin++
	return m.tickBusy()
}

// showBusy reports that the status line shows the operation under way: no
// status message came since it started.
func (m *Model) showBusy() bool {
	return len(m.busy) > 0 && m.busy[len(m.busy)-1].flashSeq == m.flashSeq
}

// busyText is the newest operation under way with a spinner and how long
// it has run ("⠹ syncing every source… 4s"), and how many others run.
func (m *Model) busyText() string {
	op := m.busy[len(m.busy)-1]
	s := fmt.Sprintf("%s %s… %s", spinnerFrames[m.spin%len(spinnerFrames)], op.text, max(0, m.c.Now().Sub(op.start)).Truncate(time.Second))
	if n := len(m.busy) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}
