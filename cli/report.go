package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/tui/render"
	tuitable "github.com/keyward/keyward/tui/table"
)

type reportFlags struct {
	q      api.ReportQuery
	format string
	limit  int
	width  int
	// def is the range the daemon reports when --from and --to are not
	// given, so check refuses the range the daemon would refuse.
	def func(now time.Time) report.Range
}

func (f *reportFlags) add(cmd *cobra.Command, activity bool, def func(time.Time) report.Range) {
	f.def = def
	fl := cmd.Flags()
	fl.StringVar(&f.q.From, "from", "", "start of the range: 2026-11-23, RFC 3339, now, today, -90d")
	fl.StringVar(&f.q.To, "to", "", "end of the range (exclusive), same forms as --from, e.g. +90d")
	fl.StringVar(&f.q.Source, "source", "", "only this source")
	fl.StringVar(&f.q.Key, "key", "", "only this key id")
	fl.StringVar(&f.format, "format", "table", "table, json or csv")
	cmd.RegisterFlagCompletionFunc("format", fixedValues("table", "json", "csv"))
	fl.IntVar(&f.limit, "limit", 0, "at most this many rows (0: all)")
	fl.IntVar(&f.width, "width", 0, "table width (default: the terminal's, or unlimited when not a terminal)")
	if activity {
		fl.StringVar(&f.q.Operation, "operation", "", "only this operation (rotated, deleted, ...)")
		cmd.RegisterFlagCompletionFunc("operation", fixedValues(engine.Operations...))
		fl.StringVar(&f.q.Actor, "actor", "", "only this actor")
		fl.StringVar(&f.q.Origin, "origin", "", "only this origin: keyward, source, proxy, system")
		fl.BoolVar(&f.q.Comparison, "comparison", false, "only what happened in a KMS or cloud without going through keyward")
	}
}

func (f *reportFlags) check() error {
	switch f.format {
	case "table", "json", "csv":
	default:
		return Usagef("--format must be table, json or csv, not %q", f.format)
	}
	if f.limit < 0 {
		return Usagef("--limit must not be negative")
	}
	if f.q.Operation != "" {
		if err := engine.CheckOperation(f.q.Operation); err != nil {
			return Usagef("--operation: %v", err)
		}
	}
	if _, err := report.ParseRange(f.q.From, f.q.To, time.Now(), f.def(time.Now())); err != nil {
		return Usagef("%v", err)
	}
	return nil
}

// pages asks get for a report page after page, 1000 entries at a time,
// until the daemon has no more or --limit is reached: the first page (its
// range and summary) and every page's entries (items) together.
func pages[P, T any](ctx context.Context, f *reportFlags, get func(context.Context, api.ReportQuery) (*P, error), items func(*P) ([]T, string)) (*P, []T, error) {
	var first *P
	var all []T
	for {
		f.q.Limit = 1000
		if f.limit > 0 && f.limit-len(all) < f.q.Limit {
			f.q.Limit = f.limit - len(all)
		}
		p, err := get(ctx, f.q)
		if err != nil {
			return nil, nil, err
		}
		if first == nil {
			first = p
		}
		page, next := items(p)
		all = append(all, page...)
		if next == "" || (f.limit > 0 && len(all) >= f.limit) {
			return first, all, nil
		}
		f.q.Cursor = next
	}
}

func (a *App) termWidth(override int) int {
	if override > 0 {
		return override
	}
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 0 {
		return c
	}
	if fd, ok := a.Out.(*os.File); ok && term.IsTerminal(fd.Fd()) {
		if w, _, err := term.GetSize(fd.Fd()); err == nil && w > 0 {
			return w
		}
	}
	return 0
}

func (a *App) emit(f *reportFlags, tbl render.Table, jsonValue any) error {
	switch f.format {
	case "json":
		return printJSON(a.Out, jsonValue)
	case "csv":
		return tbl.WriteCSV(a.Out)
	}
	_, err := io.WriteString(a.Out, tbl.Text(a.termWidth(f.width)))
	return err
}

func newReportCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Key aging, key activity and service/usage reports (table, JSON, CSV)"}
	cmd.AddCommand(newAgingReportCmd(a), newActivityReportCmd(a), newUsageReportCmd(a))
	return cmd
}

// newReportKindCmd is one report's command: its flags (activity adds the
// activity filters; def is the range the daemon reports by default),
// checked before run is called with them.
func newReportKindCmd(use, short string, activity bool, def func(time.Time) report.Range, run func(cmd *cobra.Command, f *reportFlags) error) *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			return run(cmd, &f)
		},
	}
	f.add(cmd, activity, def)
	return cmd
}

func newAgingReportCmd(a *App) *cobra.Command {
	return newReportKindCmd("aging", "Keys by their dates: expiry, rotation due, deactivation, deletion, purge (default -90d to +90d)",
		false, report.DefaultAgingRange, func(cmd *cobra.Command, f *reportFlags) error {
			first, entries, err := pages(cmd.Context(), f, a.Client().AgingReport,
				func(p *api.AgingReport) ([]report.AgingEntry, string) { return p.Entries, p.NextCursor })
			if err != nil {
				return err
			}
			all := api.AgingReport{Range: first.Range, Summary: first.Summary, Entries: entries}
			if all.Entries == nil {
				all.Entries = []report.AgingEntry{}
			}
			if f.format == "table" && all.Summary != nil {
				fmt.Fprintf(a.Out, "Key aging %s to %s\n\n", all.Range.From.Format(time.DateOnly), all.Range.To.Format(time.DateOnly))
				fmt.Fprintln(a.Out, summaryLine(*all.Summary))
				fmt.Fprintln(a.Out)
			}
			return a.emit(f, render.Aging(all.Entries, a.now()), all)
		})
}

func summaryLine(s report.AgingSummary) string {
	parts := make([]string, 0, len(s.Buckets))
	for _, b := range s.Buckets {
		parts = append(parts, fmt.Sprintf("%s %d", b.Bucket, b.Count))
	}
	return strings.Join(parts, " · ")
}

func newActivityReportCmd(a *App) *cobra.Command {
	return newReportKindCmd("activity", "Key history by operation, actor and origin (default: the last 30 days)",
		true, report.DefaultActivityRange, func(cmd *cobra.Command, f *reportFlags) error {
			first, events, err := pages(cmd.Context(), f, a.Client().ActivityReport,
				func(p *api.ActivityReport) ([]engine.Event, string) { return p.Events, p.NextCursor })
			if err != nil {
				return err
			}
			all := api.ActivityReport{Range: first.Range, PerDay: first.PerDay, Events: events}
			if f.format == "table" {
				counts := make([]int, len(all.PerDay))
				total := 0
				for i, d := range all.PerDay {
					counts[i] = d.Count
					total += d.Count
				}
				title := "Key activity"
				if f.q.Comparison {
					title = "Seen in a KMS or cloud, not done through keyward"
				}
				w := a.termWidth(f.width)
				if w <= 0 || w > 100 {
					w = 100
				}
				fmt.Fprintf(a.Out, "%s %s to %s: %d events\n%s\n\n", title, all.Range.From.Format(time.DateOnly),
					all.Range.To.Format(time.DateOnly), total, render.Sparkline(render.Resample(counts, w)))
			}
			return a.emit(f, render.Activity(all.Events), all)
		})
}

func newUsageReportCmd(a *App) *cobra.Command {
	var app string
	cmd := newReportKindCmd("usage", "Which applications use which keys and how much; keys with no use (default: the last 30 days)",
		false, report.DefaultActivityRange, func(cmd *cobra.Command, f *reportFlags) error {
			f.q.App = app
			f.q.Limit = f.limit
			u, err := a.Client().UsageReport(cmd.Context(), f.q)
			if err != nil {
				return err
			}
			if f.format == "table" {
				usageSummary(a.Out, u)
			}
			return a.emit(f, render.Usage(*u, a.now()), u)
		})
	cmd.Flags().StringVar(&app, "app", "", "only this application")
	return cmd
}

// usageSummary writes the usage table's header: the range, then one line
// per application, its name cleaned (a principal's name is the cloud's
// text) and padded to the longest, and the unused keys' count.
func usageSummary(w io.Writer, u *report.Usage) {
	fmt.Fprintf(w, "Service/usage %s to %s\n", u.Range.From.Format(time.DateOnly), u.Range.To.Format(time.DateOnly))
	names := make([]string, len(u.Apps))
	width := 0
	for i, app := range u.Apps {
		names[i] = tuitable.Clean(app.App)
		width = max(width, ansi.StringWidth(names[i]))
	}
	for i, app := range u.Apps {
		fmt.Fprintf(w, "  %s  %s  %s  %s\n", tuitable.Align(names[i], width, false), engine.Plural(app.Keys, "key"),
			engine.Plural(int(app.Encrypts), "encrypt"), engine.Plural(int(app.Decrypts), "decrypt"))
	}
	fmt.Fprintf(w, "  %s unused in the range", engine.Plural(u.UnusedTotal, "key"))
	if len(u.Unused) < u.UnusedTotal {
		fmt.Fprintf(w, " (the first %d listed; --limit lists more)", len(u.Unused))
	}
	fmt.Fprint(w, "\n\n")
}
