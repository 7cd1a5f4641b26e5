package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/render"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// statusJSON prints the /v1/status object and, beside its fields,
// kmip_polls: each KMIP source's latest poll as GET /v1/sources gives it.
func statusJSON(ctx context.Context, a *App, st *api.Status) error {
	infos, err := a.Client().Sources(ctx)
	if err != nil {
		return err
	}
	polls := map[string]*api.KMIPPoll{}
	for _, s := range infos {
		if s.Poll != nil {
			polls[s.Name] = s.Poll
		}
	}
	return printJSON(a.Out, struct {
		*api.Status
		KMIPPolls map[string]*api.KMIPPoll `json:"kmip_polls,omitempty"`
	}{st, polls})
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
				return statusJSON(cmd.Context(), a, st)
			}
			fmt.Fprintf(a.Out, "keyward %s  pid %d  up %s\n", st.Version, st.PID, engine.HumanDuration(time.Since(st.StartedAt)))
			fmt.Fprintf(a.Out, "socket   %s\ndata dir %s\nkeys     %d\nyou      %s (%s)\n", st.Socket, st.DataDir, st.Keys, st.Caller.User, st.Caller.Role)
			fmt.Fprintf(a.Out, "%s\n\n", st.Audit.Summary(a.now()))
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
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", clean(s.Name), s.Kind, s.Health, s.Keys, last, since, clean(orDash(s.Reason)))
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
					fmt.Fprintf(a.Out, "%s%s: %s\n", sep, clean(s.Name), clean(s.Poll.Summary()))
					sep = ""
				}
				for _, r := range s.Rings {
					if r.NextOut != nil {
						fmt.Fprintf(a.Out, "%s%s: %s\n", sep, clean(s.Name), clean(r.NextOut.Summary(r.Application)))
						sep = ""
					}
				}
				for _, l := range s.Client.Lines() {
					fmt.Fprintf(a.Out, "%s%s: %s\n", sep, clean(s.Name), clean(l))
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

// KeysListJSON is what keyward keys list --json prints (writeKeysJSON
// streams the same shape).
type KeysListJSON struct {
	Keys  []engine.Key `json:"keys"`
	Total int          `json:"total"`
}

// keysFormats are the output formats of keyward keys list.
var keysFormats = []string{"table", "json", "ndjson", "csv"}

func newKeysListCmd(a *App) *cobra.Command {
	var q api.KeyQuery
	var asJSON bool
	var limit int
	var format string
	var width int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys (all of them unless --limit), streamed from the daemon",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.State != "" {
				if _, err := engine.ParseState(q.State); err != nil {
					return Usagef("--state: %v", err)
				}
			}
			if q.Aging != "" {
				if _, err := engine.ParseBucket(q.Aging); err != nil {
					return Usagef("--aging: %v", err)
				}
			}
			if limit < 0 {
				return Usagef("--limit must not be negative")
			}
			if !slices.Contains(engine.SortFields, engine.SortField(strings.TrimPrefix(q.Sort, "-"))) {
				return Usagef("--sort: cannot sort by %q (use name, source, state, created or expires, with - for descending)", q.Sort)
			}
			if asJSON {
				if cmd.Flags().Changed("format") && format != "json" {
					return Usagef("--json and --format %s disagree; give one of them", format)
				}
				format = "json"
			}
			if !slices.Contains(keysFormats, format) {
				return Usagef("--format must be one of %s, not %q", strings.Join(keysFormats, ", "), format)
			}
			c := a.Client()
			// The total of a limited list is counted by the daemon; an
			// export of everything counts what it printed.
			total := -1
			if limit > 0 && (format == "json" || format == "table") {
				first := q
				first.Limit = 1
				p, err := c.Keys(cmd.Context(), first)
				if err != nil {
					return err
				}
				total = p.Total
			}
			wire := "ndjson"
			if format == "csv" {
				wire = "csv"
			}
			body, err := c.ExportKeys(cmd.Context(), q, wire, limit)
			if err != nil {
				return err
			}
			defer body.Close()
			switch format {
			case "json":
				err = writeKeysJSON(a.Out, body, total)
			case "table":
				var n int
				n, err = writeKeysTable(a.Out, body, a.termWidth(width), a.now())
				if err == nil && n < total {
					fmt.Fprintf(a.Err, "(%d of %d keys shown)\n", n, total)
				}
			default:
				_, err = io.Copy(a.Out, body)
				err = exportFailed(err, -1)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Source, "source", "", "only keys of this source")
	f.StringVar(&q.State, "state", "", "only keys in this state (active, deactivated, disabled, ...)")
	f.StringVar(&q.Aging, "aging", "", "only keys in this aging bucket (expired, expiring-30d, rotation-overdue, ...)")
	f.StringVar(&q.Text, "filter", "", "only keys whose name, any alias (AWS) or application contains this text, any case, or whose fingerprint starts with it")
	f.StringVar(&q.Sort, "sort", "name", "sort by name, source, state, created or expires; prefix - for descending")
	f.IntVar(&limit, "limit", 0, "at most this many keys (0: all)")
	f.BoolVar(&asJSON, "json", false, "print JSON: {\"keys\": [...], \"total\": N} (same as --format json)")
	f.StringVar(&format, "format", "table", "table, json, ndjson (one key per line) or csv")
	cmd.RegisterFlagCompletionFunc("format", fixedValues(keysFormats...))
	f.IntVar(&width, "width", 0, "table width (default: the terminal's, or unlimited when not a terminal)")
	return cmd
}

// maxKeyLine bounds one key's line in an export (a key with many tags).
const maxKeyLine = 4 << 20

// exportLines calls fn with each line of a newline-delimited JSON export.
func exportLines(r io.Reader, fn func(line []byte) error) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxKeyLine)
	n := 0
	for sc.Scan() {
		if err := fn(sc.Bytes()); err != nil {
			return n, fmt.Errorf("key %d of the export: %w", n+1, err)
		}
		n++
	}
	return n, exportFailed(sc.Err(), n)
}

// exportFailed explains a read error of an export: the daemon cut it short
// (its log says why) or the connection failed.
func exportFailed(err error, n int) error {
	if err == nil {
		return nil
	}
	after := ""
	if n >= 0 {
		after = fmt.Sprintf(" after %d keys", n)
	}
	return fmt.Errorf("the export ended early%s, so what was printed is incomplete (%w); the daemon's log says why", after, err)
}

// writeKeysJSON prints an export as {"keys": [...], "total": N} in the
// layout printJSON gives, one key at a time, so memory does not grow with
// the inventory. total < 0 prints the number of keys written.
func writeKeysJSON(w io.Writer, r io.Reader, total int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("{\n  \"keys\": [")
	var ind []byte
	sep := "\n    "
	n, err := exportLines(r, func(line []byte) error {
		var ok bool
		if ind, ok = appendIndented(ind[:0], line, "    ", "  "); !ok {
			// Not compact JSON: json.Indent lays it out or says why not.
			var b bytes.Buffer
			if err := json.Indent(&b, line, "    ", "  "); err != nil {
				return err
			}
			ind = append(ind[:0], b.Bytes()...)
		}
		if len(ind) == 0 || ind[0] != '{' {
			return errors.New("not a JSON object")
		}
		bw.WriteString(sep)
		sep = ",\n    "
		_, err := bw.Write(ind)
		return err
	})
	if err != nil {
		bw.Flush()
		return err
	}
	if n > 0 {
		bw.WriteString("\n  ")
	}
	if total < 0 {
		total = n
	}
	fmt.Fprintf(bw, "],\n  \"total\": %d\n}\n", total)
	return bw.Flush()
}

// writeKeysTable prints an export as an aligned table no wider than width
// (0: as wide as it needs), in keyward keys list's columns (render.KeyList)
// laid out as the reports are. The table is aligned once every row is in,
// so it holds the rows' text (not the keys); --format csv or ndjson print in
// constant memory.
func writeKeysTable(w io.Writer, r io.Reader, width int, now time.Time) (int, error) {
	tbl := render.KeyList()
	n, err := exportLines(r, func(line []byte) error {
		var k engine.Key
		if err := json.Unmarshal(line, &k); err != nil {
			return err
		}
		row := render.KeyListRow(k, now)
		row.Raw = nil // the text is all the table needs of it
		tbl.Rows = append(tbl.Rows, row)
		return nil
	})
	if err != nil {
		return n, err
	}
	_, err = io.WriteString(w, tbl.Text(width))
	return n, err
}

func newKeysShowCmd(a *App) *cobra.Command {
	cmd := newAnswerCmd(a, "show ID", "Show one key and its recent activity", cobra.ExactArgs(1), "print JSON: {\"key\": {...}, \"activity\": [...]}",
		func(cmd *cobra.Command, args []string) (*api.KeyDetail, error) {
			return a.Client().Key(cmd.Context(), args[0])
		}, func(d *api.KeyDetail) error {
			k := d.Key
			tw := table(a.Out)
			// Every value is what a KMS or cloud said: drawn with its
			// control characters made visible, never sent to the terminal.
			row := func(label, v string) {
				if v != "" && v != "-" && v != render.Dash {
					fmt.Fprintf(tw, "%s\t%s\n", clean(label), clean(v))
				}
			}
			row("id", k.ID)
			row("source", k.Source)
			row("name", k.DisplayName()) // an AWS key: its alias (the id holds its key ID)
			row("version", k.Version)
			row("application", k.Application)
			row("algorithm", fmt.Sprintf("%s %d", k.Algorithm, k.Length))
			row("state", string(k.State))
			if k.Aging != nil {
				row("aging", fmt.Sprintf("%s (%s)", k.Aging.Bucket, k.Aging.Reason))
			}
			row("fingerprint", k.Fingerprint)
			row("created", render.Date(k.Created))
			row("activated", render.Date(k.Activated))
			row("expires", render.Date(k.Expires))
			row("deactivated", render.Date(k.Deactivated))
			row("destroyed", render.Date(k.Destroyed))
			row("deleted", render.Date(k.Deleted))
			row("purge at", render.Date(k.PurgeAt))
			row("linked to", k.LinkedTo)
			for t, v := range k.Tags {
				row("tag "+t, v)
			}
			tw.Flush()
			fmt.Fprintln(a.Out, "\nACTIVITY")
			tw = table(a.Out)
			fmt.Fprintln(tw, "TIME\tOPERATION\tACTOR\tORIGIN\tDETAILS")
			for _, e := range d.Activity {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02 15:04Z"), clean(e.Operation), clean(e.Actor), e.Origin, clean(orDash(e.Details)))
			}
			return tw.Flush()
		})
	cmd.ValidArgsFunction = a.completion(keyIDs)
	return cmd
}
