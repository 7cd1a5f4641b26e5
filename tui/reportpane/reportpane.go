// Package reportpane is the TUI pane for keyward's reports (Key Aging, Key
// Activity): a summary on top, one page of the report below (asked of the
// daemon by cursor, only the rows that fit), a date range and filters changed
// with the keyboard, a detail view on enter, and e to export the whole
// report for the range and filters as CSV. Rows are drawn from engine/report's Tables, the same the CLI
// prints, so the two cannot disagree.
package reportpane

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

// Page is one page of a report as a pane shows it.
type Page struct {
	Table      render.Table
	Range      report.Range
	NextCursor string
	// Summary is the report's head (bucket bars, a sparkline); only the
	// first page carries it, and the pane keeps it while paging.
	Summary any
}

// Spec is what differs between reports.
type Spec struct {
	ID    common.PaneID
	Title string
	// Fetch asks the daemon for one page. ok is false when the backend
	// cannot serve this report at all (an older daemon).
	Fetch func(ctx context.Context, b common.Backend, q api.ReportQuery, now time.Time) (p *Page, ok bool, err error)
	// DefaultRange is the range the pane opens with.
	DefaultRange func(now time.Time) report.Range
	// Summary draws the head in width cells; it may use at most max lines.
	Summary func(summary any, rg report.Range, width, maxLines int, st *styles.Styles) []string
	// Class styles a row by its class (an aging bucket, an origin).
	Class func(class string, st *styles.Styles) (lipgloss.Style, bool)
	// Refetch lists the notification types that change this report;
	// RefetchEvery (when set) is the least time between two such refreshes.
	Refetch      []string
	RefetchEvery time.Duration
	// Comparison enables the c key (activity seen only in a source).
	Comparison bool
	// Local is set for reports the daemon does not page: Fetch returns the
	// whole report and the pane pages through it itself.
	Local bool
}

type pageReq struct {
	seq    int
	pageNo int
	cursor string
	sel    int
	// keep is the selected row's identity (rowID) when the page is
	// fetched again: the selection follows that row if it moved.
	keep string
	// seek: the pages after this one that may be asked for to find keep,
	// and those passed on the way.
	seek common.Seek[pageMsg]
}

type pageMsg struct {
	req  pageReq
	page *Page
	ok   bool
	err  error
}

// Model is one report pane.
type Model struct {
	ctx  *common.Context
	spec Spec

	width, height int
	shown         bool

	rg         report.Range
	sources    common.SourceFilter
	comparison bool

	page        *Page
	summary     any
	unsupported bool
	pages       common.Pages
	sel         int
	keep        string // the selected row's rowID, for the next fetch (a refetch)
	seq         int
	loading     bool
	// seek is the next fetch's pageReq.seek, as keep is its keep.
	seek int
	// held: keys typed while a page loaded, handled once it is drawn.
	held      common.Held
	dirty     bool
	limit     int
	fetchedAt time.Time
	err       error
	detail    bool
	note      string // the export's progress or outcome
	exporting *exportJob
	exportSeq int
	// toEnd: G was pressed; pages are fetched one after the other until
	// the last (a report is paged forwards only).
	toEnd bool
	// live: the range is the default one and follows the clock (a TUI left
	// open keeps showing new activity) until the user moves it.
	live bool
}

// New returns a report pane.
func New(ctx *common.Context, spec Spec) *Model {
	return &Model{ctx: ctx, spec: spec, rg: spec.DefaultRange(ctx.Now()), live: true}
}

func (m *Model) ID() common.PaneID { return m.spec.ID }
func (m *Model) Title() string     { return m.spec.Title }
func (m *Model) Init() tea.Cmd     { return nil }
func (m *Model) Capturing() bool   { return false }
func (m *Model) Typing() bool      { return false }

// SetSize implements common.Pane.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// summaryLines is how many lines the head may take at this height.
func (m *Model) summaryLines() int {
	if m.height >= 30 {
		return 4
	}
	return 3
}

// rows is how many report rows fit: body less range line, head, blank, header.
func (m *Model) rows() int { return max(1, m.height-m.summaryLines()-3) }

func (m *Model) query(cursor string) api.ReportQuery {
	q := api.ReportQuery{From: m.rg.From.UTC().Format(time.RFC3339), To: m.rg.To.UTC().Format(time.RFC3339),
		Limit: m.rows(), Cursor: cursor, Comparison: m.comparison}
	q.Source = m.sources.Current()
	return q
}

func (m *Model) fetch(pageNo int, cursor string, sel int) tea.Cmd {
	m.seq++
	m.loading = true
	m.limit = m.rows()
	m.fetchedAt = m.ctx.Now()
	if m.live && pageNo == 0 {
		// Later pages keep the range their cursor was made for.
		m.rg = m.spec.DefaultRange(m.fetchedAt)
	}
	req := pageReq{seq: m.seq, pageNo: pageNo, cursor: cursor, sel: sel, keep: m.keep, seek: common.Seek[pageMsg]{Left: m.seek}}
	m.keep, m.seek = "", 0
	return m.request(req)
}

// request asks for the page req names.
func (m *Model) request(req pageReq) tea.Cmd {
	q, c, spec := m.query(req.cursor), m.ctx, m.spec
	return func() tea.Msg {
		var (
			p  *Page
			ok bool
		)
		err := c.Call(func(ctx context.Context) (err error) {
			p, ok, err = spec.Fetch(ctx, c.Backend, q, c.Now())
			return err
		})
		return common.Reply(spec.ID, pageMsg{req: req, page: p, ok: ok, err: err})
	}
}

func (m *Model) refetch() tea.Cmd {
	if !m.shown {
		return nil
	}
	if m.loading {
		m.dirty = true
		return nil
	}
	m.keep = m.rowID(m.page, m.sel)
	// The selected row may now be past the page's end (a smaller page,
	// rows added before it): it is followed that many pages on.
	m.seek = m.sel/m.rows() + 1
	return m.fetch(m.pages.No, m.pages.Cursor(m.pages.No), m.sel)
}

// rowID is what tells row r of the page apart from the others whatever
// its place (the row's fields but those a refresh recounts: usage counts,
// an aging reason's days), "" for none.
func (m *Model) rowID(p *Page, r int) string {
	if p == nil || r < 0 || r >= len(p.Table.Rows) {
		return ""
	}
	var id []string
	for _, h := range []string{"time", "date", "milestone", "operation", "app", "key_id", "source", "actor", "details"} {
		id = append(id, p.Table.Field(r, h))
	}
	return strings.Join(id, "\x1f")
}

// rowOf is the row of p whose rowID is id, or -1.
func (m *Model) rowOf(p *Page, id string) int {
	for r := range p.Table.Rows {
		if m.rowID(p, r) == id {
			return r
		}
	}
	return -1
}

func (m *Model) restart() tea.Cmd {
	m.dirty = false
	m.toEnd = false
	m.detail = false
	return m.fetch(0, "", 0)
}

// Update implements common.Pane.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pageMsg:
		return m.onPage(msg)
	case exportStepMsg:
		return m.onExportStep(msg)
	case common.ActivatedMsg:
		if !m.shown {
			m.shown = true
			return m.fetch(0, "", 0)
		}
	case common.ResizedMsg:
		if m.shown && m.limit != m.rows() {
			m.loading = false
			return m.refetch()
		}
	case common.StatusMsg:
		m.sources.Set(msg.Status.Sources)
	case common.NotificationMsg:
		if msg.Type == api.NoteHello && msg.Status != nil {
			m.sources.Set(msg.Status.Sources)
		}
		for _, t := range m.spec.Refetch {
			if msg.Type == t {
				if m.spec.RefetchEvery > 0 && m.ctx.Now().Sub(m.fetchedAt) < m.spec.RefetchEvery {
					return nil
				}
				return m.refetch()
			}
		}
	case common.RefreshMsg:
		if !msg.OnlyFailed || m.err != nil {
			return m.refetch()
		}
	case tea.KeyMsg:
		if m.loading && m.page != nil && !m.detail {
			m.held.Hold(msg)
			return nil
		}
		return m.onKey(msg)
	}
	return nil
}

func (m *Model) onPage(msg pageMsg) tea.Cmd {
	if msg.req.seq != m.seq {
		return nil
	}
	m.loading = false
	if !msg.ok && msg.err == nil {
		m.unsupported = true
		return nil
	}
	if msg.err != nil {
		m.err = msg.err
		return m.held.Drop(msg.err)
	}
	m.err = nil
	if m.spec.Local {
		msg.page = m.localPage(msg.page, msg.req.cursor)
	}
	if k := msg.req.keep; k != "" && m.rowOf(msg.page, k) < 0 {
		if seek, ok := msg.req.seek.Next(msg, msg.page.NextCursor != ""); ok {
			// Not drawn: the selected row may be on the next page.
			m.seq++
			m.loading = true
			next := msg.req
			next.seq, next.pageNo, next.cursor, next.seek = m.seq, next.pageNo+1, msg.page.NextCursor, seek
			return m.request(next)
		}
		msg = msg.req.seek.Fallback(msg)
	}
	if msg.req.keep != "" && m.rowOf(msg.page, msg.req.keep) >= 0 {
		for _, p := range msg.req.seek.Passed {
			m.pages.Land(p.req.pageNo, p.req.cursor, len(p.page.Table.Rows), p.page.NextCursor)
		}
	}
	if !m.pages.Land(msg.req.pageNo, msg.req.cursor, len(msg.page.Table.Rows), msg.page.NextCursor) {
		return nil
	}
	m.page = msg.page
	if msg.page.Summary != nil {
		m.summary = msg.page.Summary
	}
	n := len(msg.page.Table.Rows)
	m.sel = common.OnPage(msg.req.sel, n)
	if r := m.rowOf(msg.page, msg.req.keep); msg.req.keep != "" && r >= 0 {
		m.sel = r
	}
	if n == 0 {
		m.detail = false
	}
	if m.toEnd {
		if msg.page.NextCursor != "" {
			return m.fetch(m.pages.No+1, msg.page.NextCursor, -1)
		}
		m.toEnd = false
		m.sel = max(0, n-1)
	}
	if m.dirty {
		m.dirty = false
		return m.refetch()
	}
	return m.held.Replay(func(k tea.KeyMsg) tea.Cmd { return m.Update(k) }, func() bool { return m.loading })
}

func (m *Model) onKey(msg tea.KeyMsg) tea.Cmd {
	k := m.ctx.Keys
	n := 0
	if m.page != nil {
		n = len(m.page.Table.Rows)
	}
	hasNext := m.page != nil && m.page.NextCursor != ""
	if m.detail {
		switch {
		case key.Matches(msg, k.Back):
			m.detail = false
		case key.Matches(msg, k.Open):
			if id := m.selected("key_id"); id != "" {
				return common.OpenKey(id)
			}
			// An event without a key (a source's outage): its source.
			if src := m.selected("source"); src != "" {
				return common.OpenSource(src)
			}
		}
		return nil
	}
	span := m.rg.To.Sub(m.rg.From)
	switch {
	case key.Matches(msg, k.Down):
		if m.sel < n-1 {
			m.sel++
		} else if hasNext && !m.loading {
			return m.fetch(m.pages.No+1, m.page.NextCursor, 0)
		}
	case key.Matches(msg, k.Up):
		if m.sel > 0 {
			m.sel--
		} else if m.pages.No > 0 && !m.loading {
			return m.fetch(m.pages.No-1, m.pages.Cursor(m.pages.No-1), -1)
		}
	case key.Matches(msg, k.PageDown):
		if hasNext && !m.loading {
			return m.fetch(m.pages.No+1, m.page.NextCursor, 0)
		}
		m.sel = max(0, n-1)
	case key.Matches(msg, k.PageUp):
		if m.pages.No > 0 && !m.loading {
			return m.fetch(m.pages.No-1, m.pages.Cursor(m.pages.No-1), 0)
		}
		m.sel = 0
	case key.Matches(msg, k.Home):
		m.toEnd = false
		if m.pages.No > 0 {
			return m.fetch(0, "", 0)
		}
		m.sel = 0
	case key.Matches(msg, k.End):
		if hasNext && !m.loading {
			m.toEnd = true
			return m.fetch(m.pages.No+1, m.page.NextCursor, -1)
		}
		m.sel = max(0, n-1)
	case key.Matches(msg, k.HalfDown):
		to, next := common.Half(m.sel, n, m.rows(), true, hasNext && !m.loading)
		if next {
			return m.fetch(m.pages.No+1, m.page.NextCursor, to)
		}
		m.sel = to
	case key.Matches(msg, k.HalfUp):
		to, prev := common.Half(m.sel, n, m.rows(), false, m.pages.No > 0 && !m.loading)
		if prev {
			return m.fetch(m.pages.No-1, m.pages.Cursor(m.pages.No-1), to)
		}
		m.sel = to
	case key.Matches(msg, k.Open):
		if n > 0 {
			m.detail = true
		}
	case key.Matches(msg, k.Earlier):
		m.live = false
		m.rg = report.Range{From: m.rg.From.Add(-span), To: m.rg.To.Add(-span)}
		return m.restart()
	case key.Matches(msg, k.Later):
		m.live = false
		m.rg = report.Range{From: m.rg.From.Add(span), To: m.rg.To.Add(span)}
		return m.restart()
	case key.Matches(msg, k.Wider):
		m.live = false
		m.rg = report.Range{From: m.rg.From.Add(-span / 2), To: m.rg.To.Add(span / 2)}
		return m.restart()
	case key.Matches(msg, k.Narrower):
		if span >= 2*24*time.Hour {
			m.live = false
			m.rg = report.Range{From: m.rg.From.Add(span / 4), To: m.rg.To.Add(-span / 4)}
			return m.restart()
		}
	case key.Matches(msg, k.SourceFilter):
		m.sources.Next()
		return m.restart()
	case key.Matches(msg, k.SourceBack):
		m.sources.Prev()
		return m.restart()
	case key.Matches(msg, k.Comparison) && m.spec.Comparison:
		m.comparison = !m.comparison
		return m.restart()
	case key.Matches(msg, k.Export):
		if m.page != nil {
			return m.export()
		}
	case key.Matches(msg, k.Reload):
		return m.refetch()
	}
	return nil
}

// selected is the selected entry's value in column (key_id, source), if
// the report has that column.
func (m *Model) selected(column string) string {
	if m.page == nil {
		return ""
	}
	return m.page.Table.Field(m.sel, column)
}

// localPage cuts one screenful out of a whole report, with an offset as the
// cursor, so an unpaged report scrolls like the paged ones. The summary is
// kept on every page.
func (m *Model) localPage(all *Page, cursor string) *Page {
	start := 0
	if cursor != "" {
		fmt.Sscan(cursor, &start)
	}
	t := all.Table
	start = min(max(0, start), len(t.Rows))
	end := min(len(t.Rows), start+m.rows())
	p := &Page{Table: t.Slice(start, end), Range: all.Range, Summary: all.Summary}
	if end < len(t.Rows) {
		p.NextCursor = fmt.Sprint(end)
	}
	return p
}

// ShortHelp implements common.Pane.
func (m *Model) ShortHelp() []key.Binding {
	k := m.ctx.Keys
	if m.detail {
		switch {
		case m.selected("key_id") != "":
			return []key.Binding{k.Back, key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open the key"))}
		case m.selected("source") != "":
			return []key.Binding{k.Back, key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open the source"))}
		}
		return []key.Binding{k.Back}
	}
	b := []key.Binding{k.Open, k.Earlier, k.Later, k.Wider, k.Narrower, k.SourceFilter}
	if m.spec.Comparison {
		b = append(b, k.Comparison)
	}
	return append(b, k.Export)
}

// FullHelp implements common.Pane.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.ctx.Keys
	g := []key.Binding{k.Earlier, k.Later, k.Wider, k.Narrower, k.SourceFilter, k.SourceBack}
	if m.spec.Comparison {
		g = append(g, k.Comparison)
	}
	g = append(g, k.Export, k.Reload)
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.HalfUp, k.HalfDown, k.Home, k.End, k.Open, k.Back}, g}
}

// StatusValue implements common.Pane.
func (m *Model) StatusValue() string {
	if m.note != "" {
		return m.note
	}
	if m.page == nil {
		return ""
	}
	n := len(m.page.Table.Rows)
	if n == 0 {
		return "no entries"
	}
	first := m.pages.First() + 1
	more := ""
	if m.page.NextCursor != "" {
		more = "+"
	}
	return fmt.Sprintf("entries %d–%d%s", first, first+n-1, more)
}

func (m *Model) rangeLine() string {
	st := m.ctx.Styles
	parts := []string{fmt.Sprintf("%s → %s", m.rg.From.UTC().Format(time.DateOnly), m.rg.To.UTC().Format(time.DateOnly))}
	if src := m.sources.Current(); src != "" {
		parts = append(parts, "source "+src)
	}
	if m.comparison {
		parts = append(parts, "only what happened in a source without keyward")
	}
	return st.FilterBar.Render(strings.Join(parts, " · "))
}

// View implements common.Pane.
func (m *Model) View() string {
	st := m.ctx.Styles
	w := m.width
	if m.unsupported {
		return lipgloss.Place(w, m.height, lipgloss.Center, lipgloss.Center,
			st.Placeholder.Render("This daemon does not serve the "+m.spec.Title+" report yet."))
	}
	lines := []string{table.Fit(m.rangeLine(), w)}
	head := m.spec.Summary(m.summary, m.rg, w, m.summaryLines(), st)
	for i := 0; i < m.summaryLines(); i++ {
		l := ""
		if i < len(head) {
			l = head[i]
		}
		lines = append(lines, table.Fit(l, w))
	}
	lines = append(lines, "")
	switch {
	case m.err != nil:
		lines = append(lines, table.Fit(st.Error.Render("  cannot load the report: "+table.Clean(m.err.Error())), w))
	case m.page == nil:
		lines = append(lines, st.Placeholder.Render("  loading…"))
	case len(m.page.Table.Rows) == 0:
		lines = append(lines, st.Placeholder.Render("  nothing in this range (use [ ] + - to change it)"))
	case m.detail:
		lines = append(lines, m.detailView()...)
	default:
		lines = append(lines, Rows(m.page.Table, m.sel, w, m.rows(), st, m.spec.Class)...)
	}
	return strings.Join(lines, "\n")
}

func (m *Model) detailView() []string {
	st := m.ctx.Styles
	t := m.page.Table
	hint := "  (esc back)"
	if m.selected("key_id") != "" {
		hint = "  (esc back · enter opens the key)"
	} else if m.selected("source") != "" {
		hint = "  (esc back · enter opens the source)"
	}
	out := []string{st.Section.Render("  Entry "+fmt.Sprint(m.pages.First()+m.sel+1)) + st.Muted.Render(hint)}
	for i, h := range t.Header {
		v := ""
		if m.sel < len(t.Rows) && i < len(t.Rows[m.sel].Raw) {
			v = table.Clean(t.Rows[m.sel].Raw[i])
		}
		if v == "" {
			v = "—"
		}
		for j, l := range table.Wrap(v, max(10, m.width-18)) {
			label := ""
			if j == 0 {
				label = h
			}
			out = append(out, table.Fit("  "+st.Label.Render(fmt.Sprintf("%-14s", label))+" "+l, m.width))
		}
	}
	return out
}

// Rows draws a report table: header, then up to n rows with the selected one
// marked, laid out as the CLI's tables are (render.Table.Layout).
func Rows(t render.Table, sel, width, n int, st *styles.Styles, class func(string, *styles.Styles) (lipgloss.Style, bool)) []string {
	cols, widths := t.Layout(width - table.Marker)
	out := []string{st.Header.Render(table.Fit("  "+t.Line(t.Titles(), cols, widths), width))}
	for r, row := range t.Rows {
		if r >= n {
			break
		}
		text := t.Line(row.Cells, cols, widths)
		if r == sel {
			out = append(out, st.RowSelected.Render(table.Fit("› "+text, width)))
			continue
		}
		text = table.Fit("  "+text, width)
		if class != nil {
			if s, ok := class(row.Class, st); ok {
				text = s.Render(text)
			}
		}
		out = append(out, text)
	}
	return out
}
