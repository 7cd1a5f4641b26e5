package reportpane

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/styles"
	"github.com/keyward/keyward/tui/table"
)

// fetch makes a Spec's Fetch from the backend method that serves the
// report (get) and the page made of its answer (page). A daemon that does
// not serve the report's route does not offer it (ok false).
func fetch[A any](get func(common.Backend, context.Context, api.ReportQuery) (A, error), page func(A, time.Time) *Page) func(context.Context, common.Backend, api.ReportQuery, time.Time) (*Page, bool, error) {
	return func(ctx context.Context, b common.Backend, q api.ReportQuery, now time.Time) (*Page, bool, error) {
		a, err := get(b, ctx, q)
		if common.Unserved(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, true, err
		}
		return page(a, now), true, nil
	}
}

// Usage is the Service/Usage report's pane: which applications use which
// keys, and the keys nobody used in the range (retirement candidates). The
// report is not paged by the daemon; the pane shows what fits and pages
// locally.
func Usage() Spec {
	return Spec{
		ID:    common.PaneUsage,
		Title: "Usage",
		Fetch: fetch(func(r common.Backend, ctx context.Context, q api.ReportQuery) (*report.Usage, error) {
			q.Limit, q.Cursor = 0, ""
			return r.UsageReport(ctx, q)
		}, func(u *report.Usage, now time.Time) *Page {
			return &Page{Table: render.Usage(*u, now), Range: u.Range, Summary: u.Apps}
		}),
		DefaultRange: report.DefaultActivityRange,
		Summary:      usageSummary,
		Class: func(c string, st *styles.Styles) (lipgloss.Style, bool) {
			if c == "unused" {
				return st.Warn, true
			}
			return lipgloss.Style{}, false
		},
		// Usage is counted per hour: proxy traffic refreshes it at most once
		// a minute.
		Refetch:      []string{api.NoteProxy},
		RefetchEvery: time.Minute,
		Local:        true,
	}
}

// usageSummary lists each application's totals, as many per line as fit.
func usageSummary(v any, _ report.Range, width, maxLines int, st *styles.Styles) []string {
	apps, _ := v.([]report.AppUsage)
	if len(apps) == 0 {
		return []string{st.Placeholder.Render("  no application used a key in this range")}
	}
	items := make([]string, len(apps))
	itemW := 0
	for i, a := range apps {
		keys := common.Plural(a.Keys, "key")
		items[i] = fmt.Sprintf("%s: %s · %d enc · %d dec", table.Clean(a.App), keys, a.Encrypts, a.Decrypts)
		itemW = max(itemW, lipgloss.Width(items[i]))
	}
	cols := max(1, (width-2)/(itemW+3))
	var lines []string
	for i := 0; i < len(items) && len(lines) < maxLines; i += cols {
		var row []string
		for j := i; j < i+cols && j < len(items); j++ {
			row = append(row, table.Fit(items[j], itemW))
		}
		lines = append(lines, "  "+st.Info.Render(strings.Join(row, "   ")))
	}
	if shown := min(len(items), cols*maxLines); shown < len(items) {
		// The count of the others is the part that must show: the last
		// line gives way to it (it used to be cut: "(+3 mor…").
		more := fmt.Sprintf("  (+%d more)", len(items)-shown)
		last := lines[len(lines)-1]
		if room := width - lipgloss.Width(more); lipgloss.Width(last) > room {
			last = table.Fit(last, max(room, 0))
		}
		lines[len(lines)-1] = last + st.Muted.Render(more)
	}
	return lines
}

// activityHead is what the Activity pane keeps from the first page: the
// events per day, and the audit chain's last verified checkpoint in words
// (from the daemon's status, as of the fetch).
type activityHead struct {
	perDay []report.DayCount
	audit  string
	broken bool // the latest check of the chain failed
}

// Aging is the Key Aging report's pane.
func Aging() Spec {
	return Spec{
		ID:    common.PaneAging,
		Title: "Aging",
		Fetch: fetch(common.Backend.AgingReport, func(rep *api.AgingReport, now time.Time) *Page {
			p := &Page{Table: render.Aging(rep.Entries, now), Range: rep.Range, NextCursor: rep.NextCursor}
			if rep.Summary != nil {
				p.Summary = rep.Summary
			}
			return p
		}),
		DefaultRange: report.DefaultAgingRange,
		Summary:      agingSummary,
		Class: func(c string, st *styles.Styles) (lipgloss.Style, bool) {
			return st.Bucket(engine.Bucket(c)), true
		},
		Refetch: []string{api.NoteKeys},
	}
}

// Activity is the Key Activity report's pane.
func Activity() Spec {
	return Spec{
		ID:           common.PaneActivity,
		Title:        "Activity",
		Fetch:        activityFetch,
		DefaultRange: report.DefaultActivityRange,
		Summary:      activitySummary,
		Class: func(c string, st *styles.Styles) (lipgloss.Style, bool) {
			switch engine.Origin(c) {
			case engine.OriginSource:
				return st.Warn, true // happened in a KMS or cloud without keyward
			case engine.OriginSystem:
				return st.Muted, true
			}
			return lipgloss.Style{}, false
		},
		Refetch:    []string{api.NoteActivity},
		Comparison: true,
	}
}

// activityFetch is the report's first page or the next, and with the first
// page the audit chain's state from the daemon's status.
func activityFetch(ctx context.Context, b common.Backend, q api.ReportQuery, now time.Time) (*Page, bool, error) {
	p, ok, err := fetch(common.Backend.ActivityReport, func(rep *api.ActivityReport, _ time.Time) *Page {
		p := &Page{Table: render.Activity(rep.Events), Range: rep.Range, NextCursor: rep.NextCursor}
		if len(rep.PerDay) > 0 {
			p.Summary = activityHead{perDay: rep.PerDay}
		}
		return p
	})(ctx, b, q, now)
	if !ok || err != nil || q.Cursor != "" {
		return p, ok, err
	}
	if st, err := b.Status(ctx); err == nil && st.Audit != nil {
		h, _ := p.Summary.(activityHead)
		h.audit, h.broken = st.Audit.Summary(now), st.Audit.Error != ""
		p.Summary = h
	}
	return p, ok, nil
}

// agingSummary draws the bucket counts as small bars, laid out in as many
// columns as the lines allow.
func agingSummary(v any, _ report.Range, width, maxLines int, st *styles.Styles) []string {
	s, _ := v.(*report.AgingSummary)
	if s == nil {
		return []string{st.Placeholder.Render("  no summary yet")}
	}
	n := len(s.Buckets) + 1 // and the total
	cols := (n + maxLines - 1) / maxLines
	itemW := (width - 2 - 2*(cols-1)) / cols
	labelW := len("total")
	hi := 0
	for _, b := range s.Buckets {
		hi = max(hi, b.Count)
		labelW = max(labelW, len(render.AgingLabel(b.Bucket)))
	}
	cntW := len(fmt.Sprint(max(hi, s.Total)))
	barW := min(30, itemW-labelW-cntW-2)
	if barW < 3 {
		barW = 0 // too short to compare anything
	}
	items := make([]string, 0, n)
	for _, b := range s.Buckets {
		bar := ""
		if barW > 0 {
			filled := 0
			if hi > 0 {
				filled = (b.Count*barW + hi - 1) / hi
			}
			bar = " " + strings.Repeat("█", filled) + strings.Repeat("·", barW-filled)
		}
		label := fmt.Sprintf("%-*s %*d", labelW, render.AgingLabel(b.Bucket), cntW, b.Count)
		items = append(items, st.Bucket(b.Bucket).Render(table.Fit(label+bar, itemW)))
	}
	items = append(items, st.Bold.Render(table.Fit(fmt.Sprintf("%-*s %*d", labelW, "total", cntW, s.Total), itemW)))
	var lines []string
	for r := 0; r < maxLines; r++ {
		var row []string
		for c := 0; c < cols; c++ {
			if i := c*maxLines + r; i < len(items) {
				row = append(row, items[i])
			}
		}
		if len(row) > 0 {
			lines = append(lines, "  "+strings.Join(row, "  "))
		}
	}
	return lines
}

// activitySummary draws events per day as a sparkline that fits the width.
func activitySummary(v any, rg report.Range, width, maxLines int, st *styles.Styles) []string {
	h, _ := v.(activityHead)
	lines := activityDays(h, width, st)
	if h.audit != "" && len(lines) < maxLines {
		style := st.Muted
		if h.broken {
			style = st.Warn
		}
		lines = append(lines, style.Render(table.Fit("  "+h.audit, width)))
	}
	return lines
}

// activityDays is the sparkline of events per day and its totals.
func activityDays(h activityHead, width int, st *styles.Styles) []string {
	if len(h.perDay) == 0 {
		return []string{st.Placeholder.Render("  no activity in this range")}
	}
	counts := make([]int, len(h.perDay))
	total, peak, peakDay := 0, 0, time.Time{}
	for i, d := range h.perDay {
		counts[i] = d.Count
		total += d.Count
		if d.Count > peak {
			peak, peakDay = d.Count, d.Day
		}
	}
	spark := render.Sparkline(render.Resample(counts, max(10, width-4)))
	line2 := fmt.Sprintf("  %s over %s", common.Plural(total, "event"), common.Plural(len(h.perDay), "day"))
	if peak > 0 {
		line2 += fmt.Sprintf(" · busiest %s with %d", peakDay.UTC().Format(time.DateOnly), peak)
	}
	return []string{"  " + st.Info.Render(spark), st.Muted.Render(line2)}
}
