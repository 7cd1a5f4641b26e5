package tui

import (
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/table"
)

// The daemon's event stream runs in a goroutine per connection attempt (a
// "session"); notifications come to the event loop one at a time through a
// tea.Cmd that waits on the session's channel. When the stream ends the
// status line says "reconnecting…" and a new session starts after a backoff.

type watchSession struct {
	id  int
	ch  chan api.Notification
	err error // set before ch is closed
}

type watchNoteMsg struct {
	session int
	note    api.Notification
}

type watchEndedMsg struct {
	session int
	err     error
}

type reconnectMsg struct{}

type connState int

const (
	connConnecting connState = iota
	connConnected
	connReconnecting
)

// connection is what the status line says about the daemon.
type connection struct {
	state   connState
	session *watchSession
	nextID  int
	// attempt counts failed attempts since the stream was last up.
	attempt int
	err     error
	retryIn time.Duration
	// backAt is when the stream came back after an outage.
	backAt time.Time
	hellos int
	// seq is the sequence number of the latest notification seen (the
	// hello's, then each notice's); daemon is when the daemon answering
	// started, to tell a restart (which numbers from 1 again).
	seq        uint64
	seqKnown   bool
	daemon     time.Time
	downSince  time.Time
	everUp     bool
	lastOutage time.Duration
}

func (m *Model) startWatch() tea.Cmd {
	m.conn.nextID++
	s := &watchSession{id: m.conn.nextID, ch: make(chan api.Notification, 64)}
	m.conn.session = s
	ctx, b := m.c.Ctx, m.c.Backend
	go func() {
		err := b.Watch(ctx, func(n api.Notification) {
			select {
			case s.ch <- n:
			case <-ctx.Done():
			}
		})
		if err == nil {
			err = errors.New("event stream ended")
		}
		s.err = err
		close(s.ch)
	}()
	return s.next()
}

func (s *watchSession) next() tea.Cmd {
	return func() tea.Msg {
		n, ok := <-s.ch
		if !ok {
			return watchEndedMsg{session: s.id, err: s.err}
		}
		return watchNoteMsg{session: s.id, note: n}
	}
}

// backoff is the wait before attempt n (1-based): min, 2·min, 4·min, … max.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

func (m *Model) onWatch(msg tea.Msg) tea.Cmd {
	s := m.conn.session
	switch msg := msg.(type) {
	case watchNoteMsg:
		if s == nil || msg.session != s.id {
			return nil
		}
		cmds := []tea.Cmd{s.next()}
		if msg.note.Type == api.NoteHello {
			cmds = append(cmds, m.onHello(msg.note))
		} else {
			cmds = append(cmds, m.onNotice(msg.note))
		}
		cmds = append(cmds, m.broadcast(common.NotificationMsg{Notification: msg.note}))
		return tea.Batch(cmds...)
	case watchEndedMsg:
		if s == nil || msg.session != s.id || m.c.Ctx.Err() != nil {
			return nil
		}
		if m.conn.state != connReconnecting {
			m.conn.downSince = m.c.Now()
		}
		m.conn.state = connReconnecting
		m.conn.attempt++
		// No stream: the panes start anyway and show what they get.
		start := m.startPanes()
		m.conn.err = msg.err
		m.conn.retryIn = backoff(m.conn.attempt, m.opts.ReconnectMin, m.opts.ReconnectMax)
		return tea.Batch(start, tea.Tick(m.conn.retryIn, func(time.Time) tea.Msg { return reconnectMsg{} }))
	case reconnectMsg:
		if m.c.Ctx.Err() != nil {
			return nil
		}
		return m.startWatch()
	}
	return nil
}

// onNotice follows the sequence numbers: a jump means the daemon dropped
// notifications for this stream (it could not keep up), so every pane
// fetches again rather than miss a change.
func (m *Model) onNotice(n api.Notification) tea.Cmd {
	gap := m.conn.seqKnown && n.Seq > m.conn.seq+1
	m.conn.seq = max(m.conn.seq, n.Seq)
	if gap {
		return m.broadcast(common.RefreshMsg{})
	}
	return nil
}

// onHello marks the daemon connected. The first hello starts the panes:
// what they fetch now includes every change up to it. After an outage
// every pane fetches again if the inventory moved meanwhile (another
// sequence number, or a daemon restarted).
func (m *Model) onHello(n api.Notification) tea.Cmd {
	wasDown := m.conn.state == connReconnecting
	moved := !m.conn.seqKnown || n.Seq != m.conn.seq || n.Seq == 0 ||
		n.Status == nil || !n.Status.StartedAt.Equal(m.conn.daemon)
	m.conn.seq, m.conn.seqKnown = n.Seq, true
	if n.Status != nil {
		m.conn.daemon = n.Status.StartedAt
	}
	m.conn.hellos++
	m.conn.state = connConnected
	m.conn.attempt = 0
	m.conn.err = nil
	var cmds []tea.Cmd
	if n.Status != nil {
		m.setStatus(n.Status)
		cmds = append(cmds, m.broadcast(common.StatusMsg{Status: n.Status}))
	} else {
		cmds = append(cmds, m.fetchStatus())
	}
	if wasDown {
		m.conn.backAt = m.c.Now()
		if m.conn.everUp {
			m.conn.lastOutage = m.conn.backAt.Sub(m.conn.downSince)
		}
	}
	switch {
	case !m.panesStarted:
		cmds = append(cmds, m.startPanes())
	case wasDown && moved:
		cmds = append(cmds, m.broadcast(common.RefreshMsg{}))
	case wasDown:
		// Nothing changed meanwhile: only panes whose request failed ask again.
		cmds = append(cmds, m.broadcast(common.RefreshMsg{OnlyFailed: true}))
	}
	if n.Dropped != "" {
		// The daemon cut this caller's previous stream (it fell behind):
		// say so, in the daemon's words; what it missed is fetched again.
		cmds = append(cmds, common.FlashErr("the daemon dropped this TUI's event stream: "+table.Clean(n.Dropped)))
	}
	m.conn.everUp = true
	return tea.Batch(cmds...)
}

// describe is the connection part of the status line.
func (c connection) describe(ctx *common.Context, status *api.Status) string {
	st := ctx.Styles
	where := ctx.Socket
	if where == "" && status != nil {
		where = status.Socket
	}
	switch c.state {
	case connConnected:
		s := st.StatusOK.Render("● connected")
		if status != nil {
			if status.Version != "" {
				s += st.StatusBar.Render(" · keyward " + status.Version)
			}
			if status.Caller.Role != "" {
				s += st.StatusBar.Render(" · " + string(status.Caller.Role))
			}
		}
		if ctx.ReadOnly {
			s += st.StatusWarn.Render(" · read-only")
		}
		if !c.backAt.IsZero() {
			back := "reconnected " + c.backAt.UTC().Format("15:04:05")
			if c.lastOutage > 0 {
				back += " after " + elapsed(c.lastOutage)
			}
			s += st.StatusWarn.Render(" · " + back)
		}
		if where != "" {
			s += st.StatusBar.Render(" · " + where)
		}
		return s
	case connReconnecting:
		// Why first, then the attempt: an 80-column status line cuts
		// its end, and the cut hid the command that starts the daemon.
		s := st.StatusErr.Render("⟳ reconnecting…")
		if c.err != nil {
			s += st.StatusBar.Render(" " + reason(c.err) + " ·")
		}
		return s + st.StatusBar.Render(fmt.Sprintf(" attempt %d, next in %s", c.attempt, elapsed(c.retryIn)))
	}
	s := st.StatusWarn.Render("◌ connecting…")
	if where != "" {
		s += st.StatusBar.Render(" " + where)
	}
	return s
}

// reason shortens an error for the status line.
func reason(err error) string {
	if errors.Is(err, api.ErrUnreachable) {
		return "daemon not reachable (run: keyward daemon)"
	}
	// A daemon opening its store says so: its words first, not the code,
	// so "starting" fits an 80-column status line.
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == api.CodeUnavailable && ae.Message != "" {
		return ae.Message
	}
	return err.Error()
}
