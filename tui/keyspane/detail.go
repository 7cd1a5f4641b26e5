package keyspane

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/table"
)

// detailView shows one key and its activity. It opens at once with the row
// it came from and fills in when the daemon answers.
type detailView struct {
	ctx    *common.Context
	key    engine.Key
	detail *api.KeyDetail
	err    error
	vp     viewport.Model
	width  int
	height int
}

func newDetailView(ctx *common.Context, k engine.Key) *detailView {
	return &detailView{ctx: ctx, key: k, vp: common.NewViewport()}
}

func (d *detailView) setSize(w, h int) {
	d.width, d.height = w, h
	d.vp.Width, d.vp.Height = w, max(1, h-1)
	d.render()
}

func (d *detailView) set(detail *api.KeyDetail, err error) {
	d.err = err
	if err == nil && detail != nil {
		d.detail = detail
		d.key = detail.Key
	}
	d.render()
}

func (d *detailView) update(msg tea.KeyMsg) tea.Cmd {
	d.ctx.Keys.Scroll(&d.vp, msg)
	return nil
}

func (d *detailView) render() {
	st := d.ctx.Styles
	now := d.ctx.Now()
	k := d.key
	var b strings.Builder
	c := table.Clean
	field := func(label, value string) {
		if value == "" {
			value = "—"
		}
		b.WriteString(table.Fit("  "+st.Label.Render(fmt.Sprintf("%-12s", label))+" "+value, d.width))
		b.WriteByte('\n')
	}
	field("id", c(k.ID))
	field("source", c(k.Source))
	field("version", c(k.Version))
	field("algorithm", c(render.Algorithm(k)))
	field("state", st.State(k.State).Render(string(k.State)))
	if k.Aging != nil {
		field("aging", st.Bucket(k.Aging.Bucket).Render(render.AgingLabel(k.Aging.Bucket))+" — "+c(k.Aging.Reason))
	}
	field("application", c(k.Application))
	field("fingerprint", c(k.Fingerprint))
	field("created", When(k.Created, now))
	field("activated", When(k.Activated, now))
	field("expires", When(k.Expires, now))
	if k.Deactivated != nil {
		field("deactivated", When(k.Deactivated, now))
	}
	if k.Destroyed != nil {
		label := "destroyed"
		if k.State == engine.StatePurged {
			label = "purged"
		}
		field(label, When(k.Destroyed, now))
	}
	if k.Deleted != nil {
		field("deleted", When(k.Deleted, now))
	}
	// A scheduled purge is news only while the key waits for it: once
	// purged (or recovered) the date is past history, not "in 89d".
	if k.PurgeAt != nil && k.State == engine.StateDeleted {
		field("purge at", When(k.PurgeAt, now))
	}
	if k.RotateAfter > 0 {
		field("rotate after", k.RotateAfter.String())
	}
	if k.LinkedTo != "" {
		field("linked to", c(k.LinkedTo))
	}
	if len(k.Tags) > 0 {
		names := slices.Sorted(maps.Keys(k.Tags))
		tags := make([]string, len(names))
		for i, n := range names {
			tags[i] = c(n) + "=" + c(k.Tags[n])
		}
		field("tags", strings.Join(tags, " "))
	}
	b.WriteByte('\n')
	b.WriteString(st.Section.Render("  Activity"))
	b.WriteByte('\n')
	switch {
	case d.err != nil:
		b.WriteString(table.Fit(st.Error.Render("  cannot load activity: "+d.err.Error()), d.width))
	case d.detail == nil:
		b.WriteString(st.Placeholder.Render("  loading…"))
	case len(d.detail.Activity) == 0:
		b.WriteString(st.Placeholder.Render("  no activity recorded"))
	default:
		for _, e := range d.detail.Activity {
			line := fmt.Sprintf("  %s  %-17s %-10s %-8s %s", e.Time.UTC().Format("2006-01-02 15:04"),
				c(e.Operation), c(e.Actor), c(string(e.Origin)), c(e.Details))
			if e.Severity == engine.SeverityAlert {
				line = st.Danger.Render(line)
			} else if e.Severity == engine.SeverityWarn {
				line = st.Warn.Render(line)
			}
			b.WriteString(table.Fit(line, d.width))
			b.WriteByte('\n')
		}
	}
	d.vp.SetContent(strings.TrimRight(b.String(), "\n"))
}

func (d *detailView) view() string {
	st := d.ctx.Styles
	title := st.Bold.Render(table.Clean(d.key.Name)) + st.Muted.Render("  "+table.Clean(d.key.ID)+"  (esc back)")
	return table.Fit(title, d.width) + "\n" + d.vp.View()
}
