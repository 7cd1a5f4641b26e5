package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

func date(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func shortFP(fp string) string {
	fp = strings.TrimPrefix(fp, "sha256:")
	if len(fp) > 12 {
		return fp[:12]
	}
	if fp == "" {
		return "-"
	}
	return fp
}

func newStatusCmd(a *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the daemon's status and the health of every source",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.Client().Status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.Out, st)
			}
			fmt.Fprintf(a.Out, "keyward %s  pid %d  up %s\n", st.Version, st.PID, engine.HumanDuration(time.Since(st.StartedAt)))
			fmt.Fprintf(a.Out, "socket   %s\ndata dir %s\nkeys     %d\nyou      %s (%s)\n\n", st.Socket, st.DataDir, st.Keys, st.Caller.User, st.Caller.Role)
			tw := table(a.Out)
			fmt.Fprintln(tw, "SOURCE\tKIND\tHEALTH\tKEYS\tLAST SYNC\tSINCE\tREASON")
			for _, s := range st.Sources {
				since := "-"
				if s.Since != nil {
					since = engine.HumanDuration(time.Since(*s.Since)) + " ago"
				}
				last := "-"
				if s.LastSync != nil {
					last = engine.HumanDuration(time.Since(*s.LastSync)) + " ago"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, s.Kind, s.Health, s.Keys, last, since, orDash(s.Reason))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			// KMIP sources: the KMS that answered, the protocol version
			// negotiated and what the latest poll cost.
			infos, err := a.Client().Sources(cmd.Context())
			if err != nil {
				return err
			}
			sep := "\n"
			for _, s := range infos {
				if s.Poll != nil {
					fmt.Fprintf(a.Out, "%s%s: %s\n", sep, s.Name, s.Poll.Summary())
					sep = ""
				}
				for _, r := range s.Rings {
					if r.NextOut != nil {
						fmt.Fprintf(a.Out, "%s%s: %s\n", sep, s.Name, r.NextOut.Summary(r.Application))
						sep = ""
					}
				}
				for _, l := range s.Client.Lines() {
					fmt.Fprintf(a.Out, "%s%s: %s\n", sep, s.Name, l)
					sep = ""
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newKeysCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "List and inspect the key inventory"}
	cmd.AddCommand(newKeysListCmd(a), newKeysShowCmd(a))
	return cmd
}

// KeysListJSON is what keyward keys list --json prints.
type KeysListJSON struct {
	Keys  []engine.Key `json:"keys"`
	Total int          `json:"total"`
}

func newKeysListCmd(a *App) *cobra.Command {
	var q api.KeyQuery
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys (all pages unless --limit)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.State != "" {
				if _, err := engine.ParseState(q.State); err != nil {
					return Usagef("--state: %v", err)
				}
			}
			if limit < 0 {
				return Usagef("--limit must not be negative")
			}
			c := a.Client()
			out := KeysListJSON{Keys: []engine.Key{}}
			q.Limit = 1000
			if limit > 0 && limit < q.Limit {
				q.Limit = limit
			}
			for first := true; ; first = false {
				p, err := c.Keys(cmd.Context(), q)
				if err != nil {
					return err
				}
				if first {
					out.Total = p.Total
				}
				out.Keys = append(out.Keys, p.Keys...)
				if p.NextCursor == "" || (limit > 0 && len(out.Keys) >= limit) {
					break
				}
				q.Cursor = p.NextCursor
			}
			if limit > 0 && len(out.Keys) > limit {
				out.Keys = out.Keys[:limit]
			}
			if asJSON {
				return printJSON(a.Out, out)
			}
			tw := table(a.Out)
			fmt.Fprintln(tw, "ID\tSTATE\tAGING\tALGORITHM\tCREATED\tEXPIRES\tFINGERPRINT")
			for _, k := range out.Keys {
				aging := "-"
				if k.Aging != nil {
					aging = string(k.Aging.Bucket)
				}
				alg := k.Algorithm
				if k.Length > 0 && !strings.ContainsAny(alg, " -") {
					alg = fmt.Sprintf("%s-%d", k.Algorithm, k.Length)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.State, aging, alg, date(k.Created), date(k.Expires), shortFP(k.Fingerprint))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(out.Keys) < out.Total {
				fmt.Fprintf(a.Err, "(%d of %d keys shown)\n", len(out.Keys), out.Total)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Source, "source", "", "only keys of this source")
	f.StringVar(&q.State, "state", "", "only keys in this state (active, deactivated, disabled, ...)")
	f.StringVar(&q.Aging, "aging", "", "only keys in this aging bucket (expired, expiring-30d, rotation-overdue, ...)")
	f.StringVar(&q.Text, "filter", "", "only keys whose name, id, application or fingerprint contains this text")
	f.StringVar(&q.Sort, "sort", "name", "sort by name, source, state, created or expires; prefix - for descending")
	f.IntVar(&limit, "limit", 0, "at most this many keys (0: all)")
	f.BoolVar(&asJSON, "json", false, "print JSON: {\"keys\": [...], \"total\": N}")
	return cmd
}

func newKeysShowCmd(a *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one key and its recent activity",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.Client().Key(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.Out, d)
			}
			k := d.Key
			tw := table(a.Out)
			row := func(label, v string) {
				if v != "" && v != "-" {
					fmt.Fprintf(tw, "%s\t%s\n", label, v)
				}
			}
			row("id", k.ID)
			row("source", k.Source)
			row("name", k.Name)
			row("version", k.Version)
			row("application", k.Application)
			row("algorithm", fmt.Sprintf("%s %d", k.Algorithm, k.Length))
			row("state", string(k.State))
			if k.Aging != nil {
				row("aging", fmt.Sprintf("%s (%s)", k.Aging.Bucket, k.Aging.Reason))
			}
			row("fingerprint", k.Fingerprint)
			row("created", date(k.Created))
			row("activated", date(k.Activated))
			row("expires", date(k.Expires))
			row("deactivated", date(k.Deactivated))
			row("destroyed", date(k.Destroyed))
			row("deleted", date(k.Deleted))
			row("purge at", date(k.PurgeAt))
			row("linked to", k.LinkedTo)
			for t, v := range k.Tags {
				row("tag "+t, v)
			}
			tw.Flush()
			fmt.Fprintln(a.Out, "\nACTIVITY")
			tw = table(a.Out)
			fmt.Fprintln(tw, "TIME\tOPERATION\tACTOR\tORIGIN\tDETAILS")
			for _, e := range d.Activity {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02 15:04Z"), e.Operation, e.Actor, e.Origin, orDash(e.Details))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: {\"key\": {...}, \"activity\": [...]}")
	return cmd
}
