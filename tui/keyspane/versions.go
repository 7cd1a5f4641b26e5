package keyspane

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/table"
)

// versionsView lists the versions of one cloud key, newest first, as the
// daemon gave them with the key's detail (api.KeyDetail.Versions). One is
// selected (j/k, arrows, pages, g/G); x opens its actions, enter its
// details. The selection follows a version, not a row: when the list comes
// again (a version added or changed), the same version stays selected.
type versionsView struct {
	ctx    *common.Context
	name   string // the key's name and source
	source string
	// primaryTag marks the primary version, where the source announces
	// one (api.CloudSourceInfo.PrimaryTag).
	primaryTag string
	versions   []engine.Key
	total      int
	// loading: opened before the key's detail came (V pressed right
	// after enter); the versions fill in when it does, the key's own
	// selected (keep).
	loading bool
	keep    string
	err     error
	sel     int
	top     int
	tbl     table.Table
	width   int
	height  int
}

func newVersionsView(ctx *common.Context, k engine.Key, primaryTag string) *versionsView {
	v := &versionsView{ctx: ctx, name: k.Name, source: k.Source, primaryTag: primaryTag, loading: true, keep: k.ID}
	v.tbl = table.Table{Columns: render.VersionPaneColumns(primaryTag != ""), Header: ctx.Styles.Header, Row: ctx.Styles.Row, Selected: ctx.Styles.RowSelected}
	return v
}

// setPrimaryTag shows the PRIMARY column when the source has a primary
// version (the vaults' capabilities came after the list was opened).
func (v *versionsView) setPrimaryTag(tag string) {
	if tag != v.primaryTag {
		v.primaryTag = tag
		v.tbl.Columns = render.VersionPaneColumns(tag != "")
		v.tbl.SetWidth(v.width)
	}
}

// set shows versions, keeping the selected version selected if it is
// among them (else the row at the same place); the first time, the
// version the view was opened on.
func (v *versionsView) set(versions []engine.Key, total int) {
	keepID := v.keep
	if sel, ok := v.selected(); ok && !v.loading {
		keepID = sel.ID
	}
	v.loading, v.err = false, nil
	v.versions, v.total = versions, max(total, len(versions))
	for i, k := range versions {
		if k.ID == keepID {
			v.sel = i
		}
	}
	v.sel = common.OnPage(v.sel, len(versions))
}

// selected is the version under the cursor.
func (v *versionsView) selected() (engine.Key, bool) {
	if v.sel < 0 || v.sel >= len(v.versions) {
		return engine.Key{}, false
	}
	return v.versions[v.sel], true
}

func (v *versionsView) setSize(w, h int) {
	v.width, v.height = w, h
	v.tbl.SetWidth(w)
}

// rows is how many versions fit: the body less the title, the header and,
// when the daemon listed only the newest, the line that says so.
func (v *versionsView) rows() int {
	n := v.height - 2
	if v.total > len(v.versions) {
		n--
	}
	return max(1, n)
}

// move handles a key that moves the selection and reports whether msg was
// one.
func (v *versionsView) move(msg tea.KeyMsg) bool {
	k, n := v.ctx.Keys, len(v.versions)
	switch {
	case key.Matches(msg, k.Down):
		v.sel = min(n-1, v.sel+1)
	case key.Matches(msg, k.Up):
		v.sel--
	case key.Matches(msg, k.PageDown):
		v.sel += v.rows()
	case key.Matches(msg, k.PageUp):
		v.sel -= v.rows()
	case key.Matches(msg, k.HalfDown):
		v.sel += max(1, v.rows()/2)
	case key.Matches(msg, k.HalfUp):
		v.sel -= max(1, v.rows()/2)
	case key.Matches(msg, k.Home):
		v.sel = 0
	case key.Matches(msg, k.End):
		v.sel = n - 1
	default:
		return false
	}
	v.sel = max(0, min(n-1, v.sel))
	return true
}

func (v *versionsView) view() string {
	st := v.ctx.Styles
	now := v.ctx.Now()
	count := common.Plural(v.total, "version")
	if v.loading {
		count = "…"
	}
	title := st.Bold.Render("Versions of "+table.Clean(v.name)) +
		st.Muted.Render(fmt.Sprintf("  %s · %s", table.Clean(v.source), count))
	lines := []string{table.Fit(title, v.width), v.tbl.HeaderView()}
	n := v.rows()
	v.top = max(0, min(v.top, v.sel, len(v.versions)-n))
	if v.sel >= v.top+n {
		v.top = v.sel - n + 1
	}
	switch {
	case v.err != nil && len(v.versions) == 0:
		lines = append(lines, table.Fit(st.Error.Render("  cannot load the versions: "+v.err.Error()), v.width))
	case v.loading:
		lines = append(lines, table.Fit(st.Placeholder.Render("  loading versions…"), v.width))
	}
	for i := v.top; i < len(v.versions) && i < v.top+n; i++ {
		lines = append(lines, v.tbl.RowView(st.Cells(render.VersionPaneRow(v.versions[i], now, v.primaryTag)), i == v.sel))
	}
	if v.total > len(v.versions) {
		lines = append(lines, table.Fit(st.Muted.Render(fmt.Sprintf("  the newest %d of %d versions (keyward keys list --source %s --filter NAME lists them all)",
			len(v.versions), v.total, table.Clean(v.source))), v.width))
	}
	for len(lines) < v.height {
		lines = append(lines, "")
	}
	return strings.Join(lines[:min(len(lines), max(v.height, 0))], "\n")
}
