// Package keyspane is the Keys pane of keyward's TUI: the key inventory as a
// table that asks the daemon only for the page on screen (cursor paging), with
// sort, filters and a detail view of one key with its activity.
package keyspane

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/table"
)

// pageReq says which page a request was for, so a late answer to an old
// request is recognised and dropped.
type pageReq struct {
	seq    int
	pageNo int
	cursor string
	limit  int
	// keepID reselects this key in the answer if it is there; sel is the
	// row to select otherwise (-1: the last).
	keepID string
	sel    int
	// tail: the page is counted from the end (the reverse order).
	tail bool
	// seek: the pages after this one that may be asked for to find
	// keepID, and those passed on the way.
	seek common.Seek[pageMsg]
}

type pageMsg struct {
	req  pageReq
	page *api.KeysPage
	err  error
}

// countMsg answers countAgain: the query's total, asked while the pane
// shows a later page (which the daemon does not count).
type countMsg struct {
	gen   int
	total int
	err   error
}

// filterTick fires when typing in the filter has paused.
type filterTick struct{ seq int }

type detailMsg struct {
	id     string
	detail *api.KeyDetail
	err    error
}

// Model is the Keys pane.
type Model struct {
	ctx *common.Context
	tbl table.Table

	width, height int

	// Query state.
	sortIdx  int
	desc     bool
	stateIdx int // 0: all, else engine.States[stateIdx-1]
	sources  common.SourceFilter
	// jumped: the list shows a source's keys, opened from the Sources
	// pane; esc clears the filter and goes back there.
	jumped    bool
	buckets   []engine.Bucket
	agingIdx  int // 0: all
	text      string
	filter    textinput.Model
	filtering bool
	typed     int // filter edits so far; a filterTick for an older one is stale

	// The page on screen and how to get back to earlier ones.
	page    *api.KeysPage
	pages   common.Pages
	sel     int
	seq     int
	loading bool
	limit   int  // page size of the last request
	dirty   bool // a refresh was asked for while loading
	err     error
	// total is how many keys match the query, from its first page (the
	// daemon counts only there); -1 when not known to be true: a later
	// page asked again after the inventory changed (changed), until a
	// first page counts again.
	total   int
	changed bool
	// countGen numbers what a count asked by countAgain may be stale
	// against: it grows with each change the pane hears of and each new
	// query, and a count asked before is dropped.
	countGen int
	// tail: the pages are counted from the end (G): the query asks in the
	// reverse order and each page is drawn reversed, so the last page is
	// reached in one request however long the list.
	tail bool

	detail *detailView
	// versions, over the detail, lists the open key's versions (V).
	versions *versionsView

	// Cloud key actions: which sources are cloud vaults (nil until the
	// daemon said), the caller's role, and the open dialog.
	cloud        map[string]api.CloudSourceInfo
	cloudSeq     int
	cloudLoading bool
	cloudErr     error
	// noCloud: the daemon does not serve the cloud routes at all.
	noCloud bool
	role    api.Role
	health  map[string]engine.Source // from the daemon's status
	act     *flow
	flowSeq int
	// held: keys typed while the pane waited (waiting), handled in order
	// once the page or the key is there.
	held common.Held
}

// New returns the Keys pane.
func New(ctx *common.Context) *Model {
	ti := textinput.New()
	ti.Prompt = "/"
	ti.Placeholder = "name, alias, application or fingerprint"
	ti.CharLimit = 128
	m := &Model{
		ctx:     ctx,
		filter:  ti,
		buckets: engine.DefaultThresholds().Buckets(),
	}
	m.tbl = table.Table{Columns: Columns(), Header: ctx.Styles.Header, Row: ctx.Styles.Row, Selected: ctx.Styles.RowSelected}
	return m
}

// ID implements common.Pane.
func (m *Model) ID() common.PaneID { return common.PaneKeys }

// Title implements common.Pane.
func (m *Model) Title() string { return "Keys" }

// Init does nothing: the first page is fetched when the pane learns its
// size, since the page holds exactly the rows that fit.
func (m *Model) Init() tea.Cmd { return nil }

// SetSize implements common.Pane; a new height changes the page size, so the
// current page is fetched again.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.tbl.SetWidth(w)
	m.filter.Width = max(10, w-4)
	if m.detail != nil {
		m.detail.setSize(w, h)
	}
	if m.versions != nil {
		m.versions.setSize(w, h)
	}
}

// rows is how many keys fit: the body less the info line and the header.
func (m *Model) rows() int { return max(1, m.height-2) }

// Capturing implements common.Pane.
func (m *Model) Capturing() bool { return m.filtering || m.act != nil }

// Typing is true in the filter and in a dialog's text input.
func (m *Model) Typing() bool { return m.filtering || (m.act != nil && m.act.Typing()) }

// Selected returns the key under the cursor, if any.
func (m *Model) Selected() (engine.Key, bool) {
	if m.page == nil || m.sel < 0 || m.sel >= len(m.page.Keys) {
		return engine.Key{}, false
	}
	return m.page.Keys[m.sel], true
}

func (m *Model) query(cursor string, limit int) api.KeyQuery {
	q := api.KeyQuery{Sort: string(engine.SortFields[m.sortIdx]), Text: m.text, Cursor: cursor, Limit: limit}
	if m.desc {
		q.Sort = "-" + q.Sort
	}
	if m.stateIdx > 0 {
		q.State = string(engine.States[m.stateIdx-1])
	}
	q.Source = m.sources.Current()
	if m.agingIdx > 0 {
		q.Aging = string(m.buckets[m.agingIdx-1])
	}
	return q
}

// fetch asks the daemon for page pageNo (reached with cursor), counted
// the way the list on screen is (m.tail).
func (m *Model) fetch(pageNo int, cursor, keepID string, sel int) tea.Cmd {
	return m.fetchFrom(m.tail, pageNo, cursor, keepID, sel)
}

// fetchFrom asks for page pageNo counted from the end (tail: in the reverse
// order) or from the start. What is on screen changes only with the answer.
func (m *Model) fetchFrom(tail bool, pageNo int, cursor, keepID string, sel int) tea.Cmd {
	return m.fetchSeek(tail, pageNo, cursor, keepID, sel, 0)
}

// fetchSeek is fetchFrom that, when keepID is not on the page, asks for
// up to seek pages after it to find the key there (pageReq.seek).
func (m *Model) fetchSeek(tail bool, pageNo int, cursor, keepID string, sel, seek int) tea.Cmd {
	m.seq++
	if cursor == "" {
		m.countGen++ // a first page counts itself
	}
	m.loading = true
	m.limit = m.rows()
	return m.request(pageReq{seq: m.seq, pageNo: pageNo, cursor: cursor, limit: m.rows(), keepID: keepID, sel: sel, tail: tail, seek: common.Seek[pageMsg]{Left: seek}})
}

// request asks the daemon for the page req names.
func (m *Model) request(req pageReq) tea.Cmd {
	q := m.query(req.cursor, req.limit)
	if req.tail {
		if strings.HasPrefix(q.Sort, "-") {
			q.Sort = q.Sort[1:]
		} else {
			q.Sort = "-" + q.Sort
		}
	}
	c := m.ctx
	return func() tea.Msg {
		page, err := common.Get(c, func(ctx context.Context) (*api.KeysPage, error) { return c.Backend.Keys(ctx, q) })
		return common.Reply(common.PaneKeys, pageMsg{req: req, page: page, err: err})
	}
}

// refetch asks again for the page on screen, keeping the selected key.
func (m *Model) refetch() tea.Cmd {
	if m.loading {
		m.dirty = true
		return nil
	}
	id := ""
	if k, ok := m.Selected(); ok {
		id = k.ID
	}
	m.changed = true
	// The selected key may now be past the page's end (a smaller page,
	// keys added before it): it is followed that many pages on.
	return m.fetchSeek(m.tail, m.pages.No, m.pages.Cursor(m.pages.No), id, m.sel, m.sel/m.rows()+1)
}

// restart goes back to the first page after the query changed.
func (m *Model) restart() tea.Cmd {
	m.dirty = false
	return m.fetchFrom(false, 0, "", "", 0)
}

// toEnd shows the last page (G): the first page of the reverse order.
func (m *Model) toEnd() tea.Cmd {
	m.dirty = false
	return m.fetchFrom(true, 0, "", "", -1)
}

// canForward and canBack report that a page follows or precedes the one
// on screen, in the order the list is drawn.
func (m *Model) canForward() bool {
	if m.tail {
		return m.pages.No > 0
	}
	return m.page != nil && m.page.NextCursor != ""
}

func (m *Model) canBack() bool {
	if m.tail {
		return m.page != nil && m.page.NextCursor != ""
	}
	return m.pages.No > 0
}

// forward and back fetch the page after or before the one on screen and
// select row sel of it (-1: the last).
func (m *Model) forward(sel int) tea.Cmd {
	if m.tail {
		return m.fetch(m.pages.No-1, m.pages.Cursor(m.pages.No-1), "", sel)
	}
	return m.fetch(m.pages.No+1, m.page.NextCursor, "", sel)
}

func (m *Model) back(sel int) tea.Cmd {
	if m.tail {
		return m.fetch(m.pages.No+1, m.page.NextCursor, "", sel)
	}
	return m.fetch(m.pages.No-1, m.pages.Cursor(m.pages.No-1), "", sel)
}

func (m *Model) openDetail(k engine.Key) tea.Cmd {
	m.versions = nil
	m.detail = newDetailView(m.ctx, k)
	m.detail.setSize(m.width, m.height)
	return m.fetchDetail(k.ID)
}

func (m *Model) fetchDetail(id string) tea.Cmd {
	c := m.ctx
	return func() tea.Msg {
		d, err := common.Get(c, func(ctx context.Context) (*api.KeyDetail, error) { return c.Backend.Key(ctx, id) })
		return common.Reply(common.PaneKeys, detailMsg{id: id, detail: d, err: err})
	}
}

// Update implements common.Pane.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pageMsg:
		return m.onPage(msg)
	case filterTick:
		return m.applyFilter(msg.seq)
	case cloudSourcesMsg:
		return m.onCloudSources(msg)
	case actionDoneMsg:
		return m.onActionDone(msg)
	case syncDoneMsg:
		return onSyncDone(msg)
	case detailMsg:
		if m.detail != nil && m.detail.key.ID == msg.id {
			pending := m.waiting()
			m.detail.set(msg.detail, msg.err)
			if m.versions != nil {
				// The same version stays selected, wherever it moved;
				// what was typed while the list loaded acts on it.
				cmd := m.onVersions(msg.detail, msg.err)
				if pending && msg.err != nil {
					return tea.Batch(cmd, m.held.Drop(msg.err))
				}
				return tea.Batch(cmd, m.replay())
			}
			if pending && msg.err != nil {
				return m.held.Drop(msg.err)
			}
			return m.replay()
		}
		return nil
	case common.StatusMsg:
		m.setSources(msg.Status.Sources)
		return m.setStatus(msg.Status)
	case common.SyncMsg:
		return m.sync(msg.Source)
	case common.SourceKeysMsg:
		// A source's keys (from the Sources pane): only that filter, and
		// esc clears it and goes back.
		m.filtering, m.detail, m.versions = false, nil, nil
		m.filter.Blur()
		m.text, m.stateIdx, m.agingIdx = "", 0, 0
		m.filter.SetValue("")
		m.typed++
		if !m.sources.Choose(msg.Source) {
			return common.FlashErr("no source named " + table.Clean(msg.Source))
		}
		m.jumped = true
		return m.restart()
	case common.OpenKeyMsg:
		m.filtering = false
		m.filter.Blur()
		return m.openDetail(engine.Key{ID: msg.ID, Name: msg.ID})
	case common.ResizedMsg:
		if m.page == nil && !m.loading {
			return m.fetch(0, "", "", 0)
		}
		if m.limit != m.rows() {
			m.dirty = false
			m.loading = false // the answer in flight is for the old size
			return m.refetch()
		}
		return nil
	case common.NotificationMsg:
		switch msg.Type {
		case api.NoteKeys:
			return m.refetchShown()
		case api.NoteHello:
			if msg.Status != nil {
				m.setSources(msg.Status.Sources)
				return m.setStatus(msg.Status)
			}
		case api.NoteSources:
			// A vault added or its capabilities changed.
			if m.cloud != nil || m.cloudErr != nil {
				return m.fetchCloud()
			}
		}
		return nil
	case common.RefreshMsg:
		if msg.OnlyFailed && m.err == nil && (m.detail == nil || m.detail.err == nil) {
			return nil
		}
		return m.refetchShown()
	case countMsg:
		if msg.gen == m.countGen && msg.err == nil && msg.total >= 0 {
			m.total, m.changed = msg.total, false
		}
		return nil
	case tea.KeyMsg:
		if m.waiting() {
			// What is typed meanwhile is for the page or the key that
			// comes, so it waits for it rather than being lost or acting
			// on a row of the page that goes (or on a key not yet read).
			m.held.Hold(msg)
			return nil
		}
		if m.act != nil {
			return m.updateAction(msg)
		}
		if m.filtering {
			return m.updateFilter(msg)
		}
		if m.versions != nil {
			return m.updateVersions(msg)
		}
		if m.detail != nil {
			switch k := m.ctx.Keys; {
			case key.Matches(msg, k.Back):
				m.detail = nil
				return func() tea.Msg { return common.DetailClosedMsg{} }
			case key.Matches(msg, k.Actions):
				return m.openActions(m.detail.key)
			case key.Matches(msg, k.Versions):
				return m.openVersions()
			case key.Matches(msg, k.Backups):
				return m.openBackups()
			case key.Matches(msg, k.SyncSource):
				return m.sync(m.detail.key.Source)
			case key.Matches(msg, k.SyncAll):
				return m.sync("")
			case key.Matches(msg, k.CopyID), key.Matches(msg, k.CopyFP):
				return m.copy(m.detail.key, msg)
			case key.Matches(msg, k.GoSource) && m.detail.key.Source != "":
				return common.OpenSource(m.detail.key.Source)
			}
			return m.detail.update(msg)
		}
		return m.updateTable(msg)
	}
	if m.act != nil {
		return m.updateAction(msg)
	}
	if m.filtering {
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		return cmd
	}
	return nil
}

func (m *Model) setSources(srcs []engine.Source) {
	// A schedule's health row has no keys: it is no filter choice.
	var real []engine.Source
	for _, s := range srcs {
		if _, ok := common.ScheduleOfRow(s); !ok {
			real = append(real, s)
		}
	}
	m.sources.Set(real)
	m.health = make(map[string]engine.Source, len(srcs))
	for _, s := range srcs {
		m.health[s.Name] = s
	}
}

func (m *Model) onPage(msg pageMsg) tea.Cmd {
	if msg.req.seq != m.seq {
		return nil // an answer to a request that was superseded
	}
	if msg.err == nil && msg.req.keepID != "" && !holds(msg.page.Keys, msg.req.keepID) {
		if seek, ok := msg.req.seek.Next(msg, msg.page.NextCursor != ""); ok {
			// Not drawn: the selected key may be on the next page.
			m.seq++
			next := msg.req
			next.seq, next.pageNo, next.cursor, next.seek = m.seq, next.pageNo+1, msg.page.NextCursor, seek
			return m.request(next)
		}
		msg = msg.req.seek.Fallback(msg)
	}
	var passed []pageMsg
	if msg.err == nil && holds(msg.page.Keys, msg.req.keepID) {
		passed = msg.req.seek.Passed
	}
	m.loading = false
	if msg.err != nil {
		m.err = msg.err
		return m.held.Drop(msg.err)
	}
	m.err = nil
	if msg.req.tail != m.tail {
		// From the start to the end (G) or back (g, a new query): the
		// pages are counted the other way now.
		m.tail, m.pages = msg.req.tail, common.Pages{}
	}
	for _, p := range passed {
		m.pages.Land(p.req.pageNo, p.req.cursor, len(p.page.Keys), p.page.NextCursor)
	}
	if !m.pages.Land(msg.req.pageNo, msg.req.cursor, len(msg.page.Keys), msg.page.NextCursor) {
		return nil // cannot happen: pages are reached one at a time
	}
	m.page = msg.page
	if m.tail {
		keys := make([]engine.Key, len(msg.page.Keys))
		for i, k := range msg.page.Keys {
			keys[len(keys)-1-i] = k
		}
		p := *msg.page
		p.Keys = keys
		m.page = &p
	}
	total := msg.page.Total
	for _, p := range passed {
		if total < 0 && p.page.Total >= 0 {
			total = p.page.Total // the first page, counted, on the way here
		}
	}
	switch {
	case total >= 0:
		m.total, m.changed = total, false
	case msg.req.pageNo == 0 || m.changed:
		m.total = -1
	}
	n := len(m.page.Keys)
	m.sel = msg.req.sel
	if msg.req.keepID != "" {
		for i, k := range m.page.Keys {
			if k.ID == msg.req.keepID {
				m.sel = i
			}
		}
	}
	m.sel = common.OnPage(m.sel, n)
	if m.dirty {
		m.dirty = false
		return m.refetch()
	}
	return m.replay()
}

// waiting reports that keys typed now wait (held): the list is loading a
// page, or a key opened by id is not read yet (an x acts on its detail).
// A dialog, the filter and the versions take keys as they come, except
// that keys typed while the versions list loads (V pressed before the
// key's detail came) wait for its versions: an x meant for a version.
func (m *Model) waiting() bool {
	switch {
	case m.act != nil || m.filtering:
		return false
	case m.versions != nil:
		return m.versions.loading
	case m.detail != nil:
		// A key opened by its id alone (the command line, a report) is
		// not known until its detail comes; one opened from the list is.
		return m.detail.detail == nil && m.detail.err == nil && m.detail.key.Source == ""
	}
	return m.loading && m.page != nil
}

// replay handles the keys held while the pane waited, until it waits
// again.
func (m *Model) replay() tea.Cmd {
	return m.held.Replay(func(k tea.KeyMsg) tea.Cmd { return m.Update(k) }, m.waiting)
}

// holds reports that keys has the key id.
func holds(keys []engine.Key, id string) bool {
	for _, k := range keys {
		if k.ID == id {
			return true
		}
	}
	return false
}

// countAgain asks the daemon for the total of the query on screen when
// the page refetched is a later one (a first page counts itself): the
// query's first page of one key, whose answer carries the total. Its
// answer is kept only if the pane heard of no change and asked no other
// query since (countGen), so the total stays true or absent.
func (m *Model) countAgain() tea.Cmd {
	if m.page == nil || m.pages.No == 0 {
		return nil
	}
	gen, q, c := m.countGen, m.query("", 1), m.ctx
	return func() tea.Msg {
		page, err := common.Get(c, func(ctx context.Context) (*api.KeysPage, error) { return c.Backend.Keys(ctx, q) })
		msg := countMsg{gen: gen, total: -1, err: err}
		if err == nil {
			msg.total = page.Total
		}
		return common.Reply(common.PaneKeys, msg)
	}
}

// refetchShown asks again for what the pane shows after the inventory
// changed (a notification, the daemon back after an outage): the page,
// the open key's detail, and, on a later page, whose answer the daemon
// does not count, the total (countAgain).
func (m *Model) refetchShown() tea.Cmd {
	m.countGen++ // news of a change: a count asked before may miss it
	cmd := tea.Batch(m.refetch(), m.countAgain())
	if m.detail != nil {
		cmd = tea.Batch(cmd, m.fetchDetail(m.detail.key.ID))
	}
	return cmd
}

func (m *Model) updateFilter(msg tea.KeyMsg) tea.Cmd {
	k := m.ctx.Keys
	switch {
	case key.Matches(msg, k.ApplyFilter):
		m.filtering = false
		m.filter.Blur()
		return m.applyFilter(m.typed)
	case key.Matches(msg, k.ClearFilter):
		m.filtering = false
		m.filter.Blur()
		m.filter.SetValue("")
		m.typed++
		if m.text != "" {
			m.text = ""
			return m.restart()
		}
		return nil
	}
	var cmd tea.Cmd
	before := m.filter.Value()
	m.filter, cmd = m.filter.Update(msg)
	if m.filter.Value() == before {
		return cmd
	}
	// Ask the daemon once typing pauses, not at every key.
	m.typed++
	seq := m.typed
	tick := tea.Tick(m.ctx.Debounce, func(time.Time) tea.Msg { return common.Reply(common.PaneKeys, filterTick{seq: seq}) })
	return tea.Batch(cmd, tick)
}

// applyFilter queries with the filter's text if edit seq is the latest and
// the text differs from what is on screen.
func (m *Model) applyFilter(seq int) tea.Cmd {
	if seq != m.typed {
		return nil
	}
	v := strings.TrimSpace(m.filter.Value())
	if v == m.text {
		return nil
	}
	m.text = v
	return m.restart()
}

func (m *Model) updateTable(msg tea.KeyMsg) tea.Cmd {
	k := m.ctx.Keys
	n := 0
	if m.page != nil {
		n = len(m.page.Keys)
	}
	switch {
	case key.Matches(msg, k.Filter):
		m.filtering = true
		m.filter.SetValue(m.text)
		m.filter.CursorEnd()
		return m.filter.Focus()
	case key.Matches(msg, k.ClearAll):
		// One key clears every filter: text, state, source and aging; on
		// a source's keys (a jump) it also goes back.
		var back tea.Cmd
		if m.jumped {
			m.jumped = false
			back = func() tea.Msg { return common.DetailClosedMsg{} }
		}
		if m.filtered() {
			m.text, m.stateIdx, m.agingIdx = "", 0, 0
			m.sources.Clear()
			m.filter.SetValue("")
			m.typed++
			return tea.Batch(m.restart(), back)
		}
		return back
	case key.Matches(msg, k.Down):
		if m.sel < n-1 {
			m.sel++
		} else if m.canForward() && !m.loading {
			return m.forward(0)
		}
	case key.Matches(msg, k.Up):
		if m.sel > 0 {
			m.sel--
		} else if m.canBack() && !m.loading {
			return m.back(-1)
		}
	case key.Matches(msg, k.PageDown):
		if m.canForward() && !m.loading {
			return m.forward(0)
		}
		m.sel = max(0, n-1)
	case key.Matches(msg, k.PageUp):
		if m.canBack() && !m.loading {
			return m.back(0)
		}
		m.sel = 0
	case key.Matches(msg, k.HalfDown):
		to, next := common.Half(m.sel, n, m.rows(), true, m.canForward() && !m.loading)
		if next {
			return m.forward(to)
		}
		m.sel = to
	case key.Matches(msg, k.HalfUp):
		to, prev := common.Half(m.sel, n, m.rows(), false, m.canBack() && !m.loading)
		if prev {
			return m.back(to)
		}
		m.sel = to
	case key.Matches(msg, k.Home):
		if m.pages.No > 0 || m.tail {
			return m.restart()
		}
		m.sel = 0
	case key.Matches(msg, k.End):
		if m.canForward() {
			return m.toEnd()
		}
		m.sel = max(0, n-1)
	case key.Matches(msg, k.Open):
		if sel, ok := m.Selected(); ok {
			return m.openDetail(sel)
		}
	case key.Matches(msg, k.Sort):
		m.sortIdx = (m.sortIdx + 1) % len(engine.SortFields)
		return m.restart()
	case key.Matches(msg, k.Reverse):
		m.desc = !m.desc
		return m.restart()
	case key.Matches(msg, k.StateFilter):
		m.stateIdx = (m.stateIdx + 1) % (len(engine.States) + 1)
		return m.restart()
	case key.Matches(msg, k.SourceFilter):
		m.sources.Next()
		return m.restart()
	case key.Matches(msg, k.AgingFilter):
		m.agingIdx = (m.agingIdx + 1) % (len(m.buckets) + 1)
		return m.restart()
	case key.Matches(msg, k.StateBack):
		m.stateIdx = (m.stateIdx + len(engine.States)) % (len(engine.States) + 1)
		return m.restart()
	case key.Matches(msg, k.SourceBack):
		m.sources.Prev()
		return m.restart()
	case key.Matches(msg, k.AgingBack):
		m.agingIdx = (m.agingIdx + len(m.buckets)) % (len(m.buckets) + 1)
		return m.restart()
	case key.Matches(msg, k.Reload):
		return m.refetch()
	case key.Matches(msg, k.CopyID), key.Matches(msg, k.CopyFP):
		if sel, ok := m.Selected(); ok {
			return m.copy(sel, msg)
		}
	case key.Matches(msg, k.Actions):
		if sel, ok := m.Selected(); ok {
			return m.openActions(sel)
		}
	case key.Matches(msg, k.Backups):
		return m.openBackups()
	case key.Matches(msg, k.SyncSource):
		if sel, ok := m.Selected(); ok {
			return m.sync(sel.Source)
		}
		return m.sync("")
	case key.Matches(msg, k.SyncAll):
		return m.sync("")
	}
	return nil
}

// setStatus learns the caller's role and, the first time, which sources
// are cloud vaults.
func (m *Model) setStatus(s *api.Status) tea.Cmd {
	if s == nil {
		return nil
	}
	m.role = s.Caller.Role
	if m.cloud == nil && !m.cloudLoading {
		return m.fetchCloud()
	}
	return nil
}

// ShortHelp implements common.Pane.
func (m *Model) ShortHelp() []key.Binding {
	k := m.ctx.Keys
	switch {
	case m.act != nil:
		return m.act.Help(k)
	case m.filtering:
		return []key.Binding{k.ApplyFilter, k.ClearFilter}
	case m.versions != nil:
		return []key.Binding{k.Back, k.Up, k.Down, versionActions(k), k.Open}
	case m.detail != nil:
		if m.isCloud(m.detail.key) {
			return []key.Binding{k.Back, k.Versions, k.GoSource, k.Actions, k.SyncSource, k.Backups}
		}
		return []key.Binding{k.Back, k.Up, k.Down, k.GoSource}
	}
	sel, ok := m.Selected()
	switch {
	case ok && m.isCloud(sel):
		return []key.Binding{k.Actions, k.SyncSource, k.Backups, k.Open, k.Filter, k.Sort, k.StateFilter, k.SourceFilter, k.AgingFilter}
	case !ok && m.hasBackups():
		// Nothing on screen (a purged key searched for, say): the stored
		// backups are where it may come back from.
		return []key.Binding{k.Backups, k.Filter, k.ClearAll, k.StateFilter, k.SourceFilter, k.AgingFilter}
	}
	return []key.Binding{k.Open, k.Filter, k.Sort, k.StateFilter, k.SourceFilter, k.AgingFilter}
}

// hasBackups reports that stored backups can be listed: the daemon has a
// cloud vault.
func (m *Model) hasBackups() bool {
	return len(m.cloud) > 0
}

// FullHelp implements common.Pane.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.ctx.Keys
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.HalfUp, k.HalfDown, k.Home, k.End, k.Open, k.Back},
		// The action menu lists its own keys; at 80 columns there is no room
		// for a fourth column here.
		{k.Filter, k.ClearAll, k.Sort, k.Reverse, k.StateFilter, k.StateBack, k.SourceFilter, k.SourceBack,
			k.AgingFilter, k.AgingBack, k.Reload, k.CopyID, k.CopyFP, k.GoSource, k.Versions,
			k.Actions, k.Backups, k.SyncSource, k.SyncAll},
	}
}

// StatusValue implements common.Pane: the rows on screen and the total.
func (m *Model) StatusValue() string {
	if m.page == nil {
		return ""
	}
	n := len(m.page.Keys)
	if n == 0 {
		if m.total > 0 {
			return "0 of " + common.Plural(m.total, "key")
		}
		return "no keys"
	}
	first := m.pages.First() + 1
	if m.tail {
		// Counted from the end: only the total places the page.
		if m.total < 0 {
			return fmt.Sprintf("keys %d–%d from the end", m.pages.First()+1, m.pages.First()+n)
		}
		first = m.total - m.pages.First() - n + 1
	}
	if m.total < 0 {
		// Not counted on this page: the range alone, never a made-up total.
		return fmt.Sprintf("keys %d–%d", first, first+n-1)
	}
	return fmt.Sprintf("%d–%d of %s", first, first+n-1, common.Plural(m.total, "key"))
}

func (m *Model) describeQuery() string {
	st := m.ctx.Styles
	dir := "↑"
	if m.desc {
		dir = "↓"
	}
	parts := []string{"sort " + string(engine.SortFields[m.sortIdx]) + " " + dir}
	q := m.query("", 0)
	add := func(label, v string) {
		if v != "" {
			parts = append(parts, label+" "+v)
		}
	}
	add("state", q.State)
	add("source", q.Source)
	add("aging", q.Aging)
	if q.Text != "" {
		parts = append(parts, fmt.Sprintf("filter %q", q.Text))
	}
	return st.FilterBar.Render(strings.Join(parts, " · "))
}

// View implements common.Pane.
func (m *Model) View() string {
	if m.act != nil {
		return m.actionView()
	}
	if m.versions != nil {
		return m.versions.view()
	}
	if m.detail != nil {
		return m.detail.view()
	}
	st := m.ctx.Styles
	lines := make([]string, 0, m.height)
	if m.filtering {
		m.filter.PromptStyle, m.filter.TextStyle, m.filter.PlaceholderStyle = st.Bold, st.Row, st.Placeholder
		lines = append(lines, table.Fit(m.filter.View(), m.width))
	} else {
		lines = append(lines, table.Fit(m.describeQuery(), m.width))
	}
	var names []string
	if m.page != nil && m.err == nil {
		names = make([]string, len(m.page.Keys))
		for i, k := range m.page.Keys {
			names[i] = k.DisplayName()
		}
		// The name identifies the row: it gets the room, and names too long
		// for it still read apart (Identify lays the columns out again).
		names = m.tbl.Identify(render.KeyName, names)
	}
	lines = append(lines, m.tbl.HeaderView())
	switch {
	case m.err != nil:
		lines = append(lines, table.Fit(st.Error.Render("  cannot load keys: "+m.err.Error()), m.width),
			table.Fit(st.Muted.Render("  press r to retry; keyward retries by itself when the daemon is back"), m.width))
	case m.page == nil:
		lines = append(lines, table.Fit(st.Placeholder.Render("  loading keys…"), m.width))
	case len(m.page.Keys) == 0:
		msg := "  the inventory is empty"
		if hint := m.filterHint(); hint != "" {
			msg = "  no key matches these filters (" + hint + ")"
		}
		lines = append(lines, table.Fit(st.Placeholder.Render(msg), m.width))
	default:
		now := m.ctx.Now()
		for i, k := range m.page.Keys {
			if len(lines) >= m.height {
				break
			}
			cells := Row(k, now, st)
			cells[render.KeyName] = table.Plain(names[i])
			lines = append(lines, m.tbl.RowView(cells, i == m.sel))
		}
	}
	for len(lines) < m.height {
		lines = append(lines, "")
	}
	return strings.Join(lines[:min(len(lines), max(m.height, 0))], "\n")
}

// copy puts the key's id (c) or fingerprint (C) on the clipboard.
func (m *Model) copy(k engine.Key, msg tea.KeyMsg) tea.Cmd {
	if key.Matches(msg, m.ctx.Keys.CopyFP) {
		if k.Fingerprint == "" {
			return common.FlashErr("the daemon gave no fingerprint for " + table.Clean(k.Name))
		}
		return common.Copy(m.ctx, "the fingerprint of "+table.Clean(k.Name), table.Clean(k.Fingerprint))
	}
	return common.Copy(m.ctx, "the key id", table.Clean(k.ID))
}

// filtered reports that a filter is on.
func (m *Model) filtered() bool {
	return m.text != "" || m.stateIdx != 0 || m.agingIdx != 0 || m.sources.Current() != ""
}

// filterHint says how to loosen each filter that is on ("" when none is):
// the keys that cycle or clear them.
func (m *Model) filterHint() string {
	q := m.query("", 0)
	k := m.ctx.Keys
	var hints []string
	add := func(on bool, b key.Binding, what string) {
		if on {
			hints = append(hints, b.Help().Key+" "+what)
		}
	}
	add(q.Text != "", k.Filter, "edits the text filter")
	add(q.State != "", k.StateFilter, "cycles the state filter")
	add(q.Source != "", k.SourceFilter, "the source filter")
	add(q.Aging != "", k.AgingFilter, "the aging filter")
	add(len(hints) > 0, k.ClearAll, "clears them all")
	return strings.Join(hints, ", ")
}
