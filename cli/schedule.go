package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/schedule"
	"github.com/keyward/keyward/tui/render"
	tuitable "github.com/keyward/keyward/tui/table"
)

func newScheduleCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Rotations, syncs, backups and reports the daemon runs by itself",
		Long: "Schedules run inside the daemon: rotate a selection of keys, sync sources, back up keys keeping the\n" +
			"last N, write a report to a directory. Reading them needs the user role; changing them the admin\n" +
			"role. Schedules of keyward.toml ([[schedule]]) are shown as config and are changed there.",
	}
	cmd.AddCommand(newScheduleListCmd(a), newScheduleShowCmd(a), newScheduleAddCmd(a, false), newScheduleAddCmd(a, true),
		newScheduleOpCmd(a, "pause", "Pause a schedule: no occurrence runs until it is resumed"),
		newScheduleOpCmd(a, "resume", "Resume a paused schedule from its next occurrence (missed ones are not run)"),
		newScheduleOpCmd(a, "rm", "Delete a schedule made over the socket, with its history"),
		newScheduleRunCmd(a))
	for _, sub := range cmd.Commands() {
		if strings.HasSuffix(sub.Use, " NAME") && sub.Name() != "add" {
			sub.ValidArgsFunction = a.completion(scheduleNames)
		}
	}
	return cmd
}

// scheduleNames completes a schedule's name (the first argument only).
func scheduleNames(ctx context.Context, c *api.Client, args []string, _ string) ([]string, error) {
	if len(args) > 0 {
		return nil, nil
	}
	ss, err := c.Schedules(ctx)
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out, err
}

// scheduleList is the schedules as keyward schedule list --json prints
// them.
type scheduleList struct {
	Schedules []api.ScheduleInfo `json:"schedules"`
}

func newScheduleListCmd(a *App) *cobra.Command {
	return newAnswerCmd(a, "list", "List the schedules: when each runs next and how its last run went", cobra.NoArgs, `print {"schedules": [...]} as JSON`,
		func(cmd *cobra.Command, _ []string) (scheduleList, error) {
			ss, err := a.Client().Schedules(cmd.Context())
			return scheduleList{ss}, err
		}, func(l scheduleList) error {
			if len(l.Schedules) == 0 {
				fmt.Fprintln(a.Out, "no schedules (keyward schedule add, or [[schedule]] in keyward.toml)")
				return nil
			}
			tw := table(a.Out)
			fmt.Fprintln(tw, "NAME\tKIND\tWHEN\tNEXT RUN\tLAST RUN\tHEALTH\tORIGIN")
			for _, s := range l.Schedules {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(s.Name), s.Kind, clean(s.When), a.nextRun(s), clean(lastRun(s)), clean(health(s)), origin(s))
			}
			return tw.Flush()
		})
}

// runTime is how a run's time is printed: in UTC, and saying so — beside
// a schedule "weekly tue 03:00 Europe/Paris" a bare 02:00 read as Paris
// time.
const runTime = "2006-01-02 15:04 UTC"

func (a *App) nextRun(s api.ScheduleInfo) string {
	switch {
	case s.Paused:
		return "paused"
	case s.NextRun == nil:
		return "none (past its end)"
	}
	return s.NextRun.UTC().Format(runTime) + " (in " + engine.HumanDuration(s.NextRun.Sub(a.now())) + ")"
}

func lastRun(s api.ScheduleInfo) string {
	if s.Running != nil {
		return "running since " + s.Running.Started.UTC().Format(runTime)
	}
	for _, r := range s.Recent {
		out := r.Status + " " + r.Started.UTC().Format(runTime)
		if r.Late {
			out += " (late)"
		}
		return out
	}
	return "never"
}

func health(s api.ScheduleInfo) string {
	if s.Reason != "" {
		return s.Health + ": " + s.Reason
	}
	return s.Health
}

func origin(s api.ScheduleInfo) string {
	if s.Origin == schedule.OriginConfig {
		return "config (keyward.toml)"
	}
	return s.Origin
}

func newScheduleShowCmd(a *App) *cobra.Command {
	var run int64
	cmd := newAnswerCmd(a, "show NAME", "Show a schedule, its latest runs and what its latest run (or --run ID) did to each key",
		cobra.ExactArgs(1), `print {"schedule", "run", "steps"} as JSON`, func(cmd *cobra.Command, args []string) (*api.ScheduleDetail, error) {
			if run < 0 {
				return nil, Usagef("--run must be a run id (1 or more), not %d", run)
			}
			return a.Client().Schedule(cmd.Context(), args[0], run)
		}, func(d *api.ScheduleDetail) error {
			s := d.Schedule
			fmt.Fprintf(a.Out, "%s: %s, %s\n", clean(s.Name), s.Kind.Describe(), clean(s.When))
			fmt.Fprintf(a.Out, "origin    %s\nnext run  %s\nhealth    %s\n", origin(s), a.nextRun(s), clean(health(s)))
			if sel := render.ScheduleSelection(s.Spec); sel != "" {
				fmt.Fprintf(a.Out, "selects   %s\n", clean(sel))
			}
			if len(s.Recent) > 0 {
				fmt.Fprintln(a.Out, "\nRUNS")
				tw := table(a.Out)
				fmt.Fprintln(tw, "ID\tTRIGGER\tSTARTED\tSTATUS\tSUMMARY")
				for _, r := range s.Recent {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.ID, clean(r.Trigger), r.Started.UTC().Format(time.RFC3339), clean(r.Status), clean(r.Summary))
				}
				_ = tw.Flush()
			}
			if d.Run != nil {
				fmt.Fprintf(a.Out, "\nRUN %d (%s)\n", d.Run.ID, clean(d.Run.Status))
				printSteps(a, d.Steps)
			}
			return nil
		})
	cmd.Flags().Int64Var(&run, "run", 0, "the steps of this run (default: the latest)")
	return cmd
}

// clean makes text from the daemon safe to print: key names, versions and
// the errors of vaults others write to may hold escape sequences the
// terminal would run (table.Clean, as the TUI and the report tables do).
func clean(s string) string { return tuitable.Clean(s) }

func printSteps(a *App, steps []schedule.Step) {
	if len(steps) == 0 {
		fmt.Fprintln(a.Out, "nothing selected")
		return
	}
	tw := table(a.Out)
	fmt.Fprintln(tw, "TARGET\tSTATUS\tBEFORE\tAFTER\tWHY")
	for _, st := range steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clean(st.Target), clean(st.Status), clean(orDash(st.Before)), clean(orDash(st.After)), clean(orDash(st.Reason)))
	}
	_ = tw.Flush()
}

// newScheduleAddCmd is add, or edit when edit is set (only the flags given
// change).
func newScheduleAddCmd(a *App, edit bool) *cobra.Command {
	var sp schedule.Spec
	var kind string
	var tags []string
	var asJSON bool
	use, short := "add NAME", "Add a schedule (admin)"
	if edit {
		use, short = "edit NAME", "Change a schedule made over the socket; only the flags given change (admin)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := a.Client()
			f := cmd.Flags()
			if edit {
				d, err := c.Schedule(cmd.Context(), args[0], 0)
				if err != nil {
					return err
				}
				cur := d.Schedule.Spec
				if f.Changed("every") {
					cur.Every, cur.Cron = sp.Every, ""
				}
				if f.Changed("cron") {
					cur.Cron, cur.Every = sp.Cron, ""
				}
				for flag, dst := range map[string]*string{"zone": &cur.Zone, "start": &cur.Start, "end": &cur.End, "jitter": &cur.Jitter,
					"pattern": &cur.Pattern, "aging": &cur.Aging, "report": &cur.Report, "dir": &cur.Dir} {
					if f.Changed(flag) {
						*dst = map[string]string{"zone": sp.Zone, "start": sp.Start, "end": sp.End, "jitter": sp.Jitter,
							"pattern": sp.Pattern, "aging": sp.Aging, "report": sp.Report, "dir": sp.Dir}[flag]
					}
				}
				if f.Changed("kind") {
					cur.Kind = schedule.Kind(kind)
				}
				if f.Changed("source") {
					cur.Sources = sp.Sources
				}
				if f.Changed("keep") {
					cur.Keep = sp.Keep
				}
				if f.Changed("tag") {
					cur.Tags = nil
				}
				sp = cur
			} else {
				sp.Kind = schedule.Kind(kind)
			}
			sp.Name = args[0]
			for _, t := range tags {
				k, v, ok := strings.Cut(t, "=")
				if !ok || k == "" {
					return Usagef("--tag %q: expected NAME=VALUE (VALUE * or empty: any value)", t)
				}
				if sp.Tags == nil {
					sp.Tags = map[string]string{}
				}
				sp.Tags[k] = v
			}
			// The daemon's own parser, so a mistake is a usage error with or
			// without a daemon.
			if _, err := schedule.Parse(sp); err != nil {
				return Usagef("%s", strings.TrimPrefix(err.Error(), schedule.ErrInvalid.Error()+": "))
			}
			var info *api.ScheduleInfo
			var err error
			if edit {
				info, err = c.EditSchedule(cmd.Context(), sp)
			} else {
				info, err = c.CreateSchedule(cmd.Context(), sp)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.Out, map[string]any{"schedule": info})
			}
			verb := "added"
			if edit {
				verb = "changed"
			}
			fmt.Fprintf(a.Out, "%s %s: %s, %s; next run %s\n", verb, clean(info.Name), info.Kind.Describe(), clean(info.When), a.nextRun(*info))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "rotate | sync | backup | report")
	f.StringVar(&sp.Every, "every", "", `"daily HH:MM", "weekly mon HH:MM" or "monthly D HH:MM"`)
	f.StringVar(&sp.Cron, "cron", "", `a cron expression instead of --every ("0 3 * * 1")`)
	f.StringVar(&sp.Zone, "zone", "", "IANA time zone of the time of day (default UTC)")
	f.StringVar(&sp.Start, "start", "", "first day it may run (YYYY-MM-DD)")
	f.StringVar(&sp.End, "end", "", "day from which it no longer runs (YYYY-MM-DD)")
	f.StringVar(&sp.Jitter, "jitter", "", `random delay window ("30m"), so a fleet does not stampede a cloud`)
	f.StringSliceVar(&sp.Sources, "source", nil, "only keys of (or, sync: only) these sources; repeat or comma-separate")
	f.StringVar(&sp.Pattern, "pattern", "", "only keys whose name matches (* and ? wildcards)")
	f.StringArrayVar(&tags, "tag", nil, "only keys with this tag NAME=VALUE (repeatable)")
	f.StringVar(&sp.Aging, "aging", "", "only keys of this aging bucket (expiring-30d, rotation-overdue, ...)")
	f.IntVar(&sp.Keep, "keep", 0, "backups per key, or reports, to keep (default 7)")
	f.StringVar(&sp.Report, "report", "", "report: aging | activity | usage")
	f.StringVar(&sp.Dir, "dir", "", "report: the directory the daemon writes it to (absolute)")
	f.BoolVar(&asJSON, "json", false, `print {"schedule": ...} as JSON`)
	if !edit {
		_ = cmd.MarkFlagRequired("kind")
	}
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedValues(schedule.Kinds...))
	_ = cmd.RegisterFlagCompletionFunc("report", fixedValues(schedule.Reports...))
	return cmd
}

func newScheduleOpCmd(a *App, op, short string) *cobra.Command {
	return &cobra.Command{
		Use:   op + " NAME",
		Short: short + " (admin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wire := op
			if op == "rm" {
				wire = "delete"
			}
			if err := a.Client().ScheduleAction(cmd.Context(), args[0], wire); err != nil {
				return err
			}
			done := map[string]string{"pause": "paused", "resume": "resumed", "rm": "deleted"}[op]
			fmt.Fprintf(a.Out, "%s %s\n", done, args[0])
			return nil
		},
	}
}

func newScheduleRunCmd(a *App) *cobra.Command {
	var dry, wait, asJSON bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "run NAME",
		Short: "Run a schedule now (admin), or list with --dry-run exactly which keys a run would touch (user)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := a.Client()
			if dry {
				d, err := c.DryRunSchedule(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(a.Out, d)
				}
				// Counts first, then the skipped targets with why (few),
				// then the thousands a large selection touches.
				var touch, skip []schedule.Step
				for _, st := range d.Steps {
					if st.Status == schedule.StepPending {
						touch = append(touch, st)
					} else {
						skip = append(skip, st)
					}
				}
				fmt.Fprintf(a.Out, "a run of %s now would touch %s, skip %d:\n", clean(args[0]), engine.Plural(len(touch), "target"), len(skip))
				printSteps(a, append(skip, touch...))
				return nil
			}
			run, err := c.RunSchedule(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !wait {
				if asJSON {
					return printJSON(a.Out, map[string]any{"run": run})
				}
				fmt.Fprintf(a.Out, "started run %d of %s (keyward schedule show %s --run %d)\n", run.ID, args[0], args[0], run.ID)
				return nil
			}
			deadline := time.Now().Add(timeout)
			for {
				d, err := c.Schedule(cmd.Context(), args[0], run.ID)
				if err != nil {
					return err
				}
				if d.Run != nil && d.Run.Status != schedule.RunRunning {
					if asJSON {
						if err := printJSON(a.Out, d); err != nil {
							return err
						}
					} else {
						fmt.Fprintf(a.Out, "run %d of %s: %s (%s)\n", d.Run.ID, clean(args[0]), clean(d.Run.Status), clean(d.Run.Summary))
						printSteps(a, d.Steps)
					}
					if d.Run.Status != schedule.RunDone {
						return fmt.Errorf("run %d of %s %s", d.Run.ID, args[0], d.Run.Status)
					}
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("run %d of %s still running after %s; the daemon goes on (keyward schedule show %s --run %d)", run.ID, args[0], timeout, args[0], run.ID)
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(200 * time.Millisecond):
				}
			}
		},
	}
	cmd.Flags().BoolVar(&dry, "dry-run", false, "list the keys a run would touch (and skip, with why); change nothing")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the run to end and print what it did to each key (exit 1 unless done)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "with --wait: how long to wait")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the answer as JSON")
	return cmd
}
