package tui

import (
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/table"
)

// logSize is how many status messages the message log keeps.
const logSize = 200

// logEntry is one status message as it was shown.
type logEntry struct {
	at   time.Time
	text string
	err  bool
}

// record keeps a status message for the log, newest last.
func (m *Model) record(f common.FlashMsg) {
	if f.Text == "" {
		return
	}
	m.log = append(m.log, logEntry{at: m.c.Now(), text: table.Clean(f.Text), err: f.Err})
	if len(m.log) > logSize {
		m.log = append(m.log[:0], m.log[len(m.log)-logSize:]...)
	}
}

// openLog shows the message log, newest first, each message whole
// (wrapped to the box).
func (m *Model) openLog(w int) *overlay {
	o := &overlay{title: "Messages — newest first", close: m.c.Keys.Log}
	inner := max(10, w-4)
	for i := len(m.log) - 1; i >= 0; i-- {
		e := m.log[i]
		mark := "✔"
		if e.err {
			mark = "✖"
		}
		head := e.at.UTC().Format("15:04:05") + " " + mark + " "
		for n, l := range table.Wrap(e.text, inner-len("15:04:05 ✖ ")) {
			if n == 0 {
				o.lines = append(o.lines, head+l)
			} else {
				o.lines = append(o.lines, "           "+l)
			}
		}
	}
	if len(o.lines) == 0 {
		o.lines = []string{"no messages yet"}
	}
	return o
}

// maxStatusLines is how many lines a status message may take: the status
// line, the help line's row, and the two last rows of the pane.
const maxStatusLines = 4

// statusLines are the bottom lines: the help line and the status line. A
// status message too long for the status line is kept whole: while it
// shows, it takes the help line's row too, and then up to the two last
// rows of the pane; when even that is too little, its end says that the
// log (L) has it whole.
func (m *Model) statusLines(w int) []string {
	st := m.c.Styles
	help, status := m.helpLine(w), m.statusLine(w)
	if m.flash.Text == "" || m.conn.state != connConnected || m.overlay != nil || m.showBusy() {
		// An open log has the message whole; help keeps its box whole.
		return []string{help, status}
	}
	right := m.statusRight(w)
	room := w - ansi.StringWidth(right)
	text := flashMark(m.flash) + table.Clean(m.flash.Text)
	if ansi.StringWidth(" "+text) <= room {
		return []string{help, status}
	}
	style := st.StatusOK
	if m.flash.Err {
		style = st.StatusErr
	}
	lines := table.Wrap(text, w-1)
	// The last line shares its row with the pane's summary.
	if n := len(lines); ansi.StringWidth(lines[n-1]) > room-1 {
		lines = append(lines[:n-1], table.Wrap(lines[n-1], room-1)...)
	}
	if len(lines) > maxStatusLines {
		hint := "… (" + m.c.Keys.Log.Help().Key + ": whole message)"
		rest := strings.Join(lines[maxStatusLines-1:], " ")
		lines = append(lines[:maxStatusLines-1], ansi.Truncate(rest, max(0, room-1-ansi.StringWidth(hint)), "")+hint)
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = table.Fit(" "+style.Render(l), w)
	}
	out[len(out)-1] = table.Fit(" "+style.Render(lines[len(lines)-1]), room) + right
	if len(out) < 2 {
		out = append([]string{help}, out...)
	}
	return out
}

// flashMark is the sign before a status message: a tick or a cross.
func flashMark(f common.FlashMsg) string {
	if f.Err {
		return "✖ "
	}
	return "✔ "
}
