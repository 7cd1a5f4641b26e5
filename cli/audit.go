package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/auditlog"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/audit"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/store"
)

// The audit commands read the database file and the archives themselves
// (read-only), not the daemon's socket: an auditor checks the files, not
// what a possibly altered daemon says about them. They need read access to
// the data dir (root or the daemon's user).
func newAuditCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify the tamper-evident activity log, or export a verifiable part of it"}
	cmd.AddCommand(newAuditVerifyCmd(a), newAuditExportCmd(a))
	return cmd
}

type auditFiles struct {
	db, archive, key string
}

func (f *auditFiles) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.db, "db", "", "the database file (default: keyward.db in the config's data_dir)")
	cmd.Flags().StringVar(&f.archive, "archive-dir", "", "the archive segments (default: audit.archive_dir, else audit/archive beside the database)")
	cmd.Flags().StringVar(&f.key, "key", "", "the verifier key file, ideally a copy kept off this machine (default: the signing key's .pub; with --db, audit/signing.key.pub beside it unless the config names the key)")
}

func (f *auditFiles) resolve(a *App) error {
	c, err := a.Config()
	if err != nil {
		return err
	}
	if f.db == "" {
		f.db = c.DatabasePath()
	} else if filepath.Dir(f.db) != filepath.Clean(c.DataDir) {
		// A database given by path (a copy, another daemon's): the
		// archive and the key default to its data dir's, not the
		// config's, unless the config names them.
		cc := *c
		cc.DataDir = filepath.Dir(f.db)
		c = &cc
	}
	if f.archive == "" {
		f.archive = c.ArchiveDirPath()
	}
	if f.key == "" {
		f.key = c.SigningKeyPath() + ".pub"
	}
	return nil
}

func newAuditVerifyCmd(a *App) *cobra.Command {
	var files auditFiles
	var fromCheckpoint, bundle string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the activity log's hash chain from the archives and the database, check every signature, and name the first event that does not match",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := files.resolve(a); err != nil {
				return err
			}
			v, err := auditlog.ReadVerifier(files.key)
			if err != nil {
				return err
			}
			if bundle != "" {
				f, err := os.Open(bundle)
				if err != nil {
					return err
				}
				defer f.Close()
				rep, err := auditlog.VerifyBundle(f, v)
				if err != nil {
					return tampered(fmt.Errorf("%s: %w", bundle, err))
				}
				fmt.Fprintf(a.Out, "OK: bundle %s holds events %d to %d, chained and signed", bundle, rep.First, rep.Last)
				if rep.Checkpoint != nil {
					fmt.Fprintf(a.Out, "; they end on the checkpoint signed %s", rep.Checkpoint.Time.Format(time.RFC3339))
				}
				fmt.Fprintln(a.Out)
				return nil
			}
			var given [][]byte
			if fromCheckpoint != "" {
				b, err := readSmallFile("--from-checkpoint", fromCheckpoint, 16<<20)
				if err != nil {
					return err
				}
				if given, err = auditlog.SplitNotes(b); err != nil {
					return fmt.Errorf("%s: %w", fromCheckpoint, err)
				}
				if len(given) == 0 {
					return fmt.Errorf("%s holds no checkpoint", fromCheckpoint)
				}
			}
			st, err := openSnapshot(cmd.Context(), files.db)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := auditlog.Verify(cmd.Context(), st, auditlog.VerifyOptions{ArchiveDir: files.archive, Verifier: v, Checkpoints: given})
			if err != nil && strings.Contains(err.Error(), "no such table") {
				// A table dropped, or a database of something else.
				return fmt.Errorf("verification failed: %s lacks a table of keyward's activity log (%v): it is not a keyward database or it was damaged; verify a backup", files.db, err)
			}
			if err != nil {
				return tampered(err)
			}
			fmt.Fprintf(a.Out, "OK: %s verified (%d from %s in %s, %d in %s)\n", engine.Plural(int(r.Events-r.Unanchored), "event"),
				r.FromArchives, engine.Plural(r.Segments, "archive segment"), files.archive, r.Live, files.db)
			fmt.Fprintf(a.Out, "head: seq %d, %s\n", r.Events, r.Head)
			if r.Last != nil {
				fmt.Fprintf(a.Out, "checkpoints: the chain reaches every signed checkpoint (%d); the newest covers %s, signed %s\n",
					r.Checkpoints, engine.Plural(int(r.Last.Size), "event"), r.Last.Time.Format(time.RFC3339))
			} else {
				fmt.Fprintln(a.Out, "checkpoints: none yet (the daemon signs one every audit.checkpoint_interval)")
			}
			for _, cp := range r.Given {
				fmt.Fprintf(a.Out, "given checkpoint: %s, signed %s: reached\n", engine.Plural(int(cp.Size), "event"), cp.Time.Format(time.RFC3339))
			}
			if r.ChainedUpto > 0 {
				fmt.Fprintf(a.Out, "note: events 1 to %d were in the log before the chain existed; it vouches for them only from %s\n",
					r.ChainedUpto, r.ChainedAt.Format(time.RFC3339))
			}
			if r.Unanchored > 0 {
				fmt.Fprintf(a.Out, "note: events 1 to %d are archived but no segment was found in %s; the check starts after them, from the hash the database records\n",
					r.Unanchored, files.archive)
			}
			return nil
		},
	}
	files.flags(cmd)
	cmd.Flags().StringVar(&fromCheckpoint, "from-checkpoint", "", "a file of signed checkpoints kept elsewhere (audit.checkpoint_file's copy): the log must reach each")
	cmd.Flags().StringVar(&bundle, "bundle", "", "check an export made by keyward audit export instead of the database")
	return cmd
}

// tampered reports a failed verification as an error naming the first
// event that does not match.
func tampered(err error) error {
	var b *audit.Break
	if errors.As(err, &b) {
		return fmt.Errorf("TAMPERED: %w", err)
	}
	return fmt.Errorf("verification failed: %w", err)
}

func newAuditExportCmd(a *App) *cobra.Command {
	var files auditFiles
	var from, to, out, signingKey string
	cmd := &cobra.Command{
		Use:   "export --from WHEN --to WHEN --out FILE",
		Short: "Write the activity recorded in a range as a signed, verifiable bundle for an auditor",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := a.now()
			f, err := report.ParseWhen(from, now)
			if err != nil {
				return Usagef("--from: %v", err)
			}
			t, err := report.ParseWhen(to, now)
			if err != nil {
				return Usagef("--to: %v", err)
			}
			if !t.After(f) {
				return Usagef("--to must be after --from")
			}
			if out == "" {
				return Usagef("--out FILE is required")
			}
			if err := files.resolve(a); err != nil {
				return err
			}
			if signingKey == "" {
				c, _ := a.Config()
				signingKey = c.SigningKeyPath()
			}
			signer, _, err := auditlog.LoadSigner(signingKey)
			if err != nil {
				return err
			}
			st, err := openSnapshot(cmd.Context(), files.db)
			if err != nil {
				return err
			}
			defer st.Close()
			var first, last int64
			err = writeOut(out, func(w io.Writer) (err error) {
				first, last, err = auditlog.Export(cmd.Context(), st, signer, files.archive, f, t, w)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Out, "wrote %s: events %d to %d; check it with: keyward audit verify --bundle %s --key <verifier key>\n", out, first, last, out)
			return nil
		},
	}
	files.flags(cmd)
	cmd.Flags().StringVar(&from, "from", "", "start of the range (2026-11-01, -30d, RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "now", "end of the range, exclusive")
	cmd.Flags().StringVar(&out, "out", "", "the bundle file to write (a tar)")
	cmd.Flags().StringVar(&signingKey, "signing-key", "", "the checkpoint signing key (default: audit.signing_key)")
	return cmd
}

// openSnapshot opens the database at path read-only, held at one moment
// of it whatever the daemon prunes meanwhile.
func openSnapshot(ctx context.Context, path string) (*store.Store, error) {
	st, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := st.Snapshot(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// writeOut writes a file with write: a path that is not there or is a
// regular file gets a new file, named only once complete (NAME.tmp, then
// renamed); one that is something else (a pipe, /dev/stdout, a device) is
// written into as it is, never replaced.
func writeOut(out string, write func(io.Writer) error) error {
	if fi, err := os.Stat(out); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("--out %s is a directory: name the file to write", out)
		}
		w, err := os.OpenFile(out, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = write(w)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		return err
	}
	tmp := out + ".tmp"
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = write(w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
