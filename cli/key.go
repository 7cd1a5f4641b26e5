package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/render"
)

// newKeyCmd is `keyward key …`: the cloud key life cycle (admin only).
func newKeyCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Run cloud key life-cycle operations: create, upload, rotate, update, delete, recover, purge, backup, restore, delete-backup, policy, delete-material, make-primary; rotate-app for KMIP",
		Long: "Cloud key life cycle through the daemon. Keys are named SOURCE NAME (or SOURCE/NAME), SOURCE being an\n" +
			"[[azure]], [[aws]] or [[gcp]] source of keyward.toml (rotate-app: a [[kmip]] source and an application). Every\n" +
			"operation except listing needs the admin role and is recorded in the activity log with your user name.",
	}
	cmd.AddCommand(newKeyCreateCmd(a, false), newKeyCreateCmd(a, true), newKeyOpCmd(a, "rotate", "Create a new version of a key", false),
		newKeyOpCmd(a, "recover", "Bring back a soft-deleted key", false), newKeyUpdateCmd(a),
		newKeyOpCmd(a, "delete", "Soft-delete a key (recoverable until purged)", true),
		newKeyOpCmd(a, "purge", "Destroy a soft-deleted key for good", true),
		newKeyOpCmd(a, "delete-material", "Delete a key's imported material (AWS): the key stays, unusable until the same material is imported again (keyward key restore)", true),
		newKeyOpCmd(a, "make-primary", "Make one version of a key its primary, the one that encrypts (Google Cloud KMS symmetric keys; --version is required)", false),
		newKeyBackupCmd(a), newKeyBackupsCmd(a), newKeyRestoreCmd(a), newKeyDeleteBackupCmd(a), newKeyPolicyCmd(a), newKeyRotateAppCmd(a))
	return cmd
}

// newKeyRotateAppCmd is `keyward key rotate-app SOURCE APP`: a KMIP
// application's next generation, as a rotate schedule makes it.
func newKeyRotateAppCmd(a *App) *cobra.Command {
	cmd := newAnswerCmd(a, "rotate-app SOURCE APP",
		"Rotate a KMIP application now: create and activate the next generation of its ring on the KMS (admin)",
		cobra.RangeArgs(1, 2), `print {"source", "application", "previous", "generation", "uid", "note"} as JSON`,
		func(cmd *cobra.Command, args []string) (*api.AppRotation, error) {
			source, app, err := keyArgs(args)
			if err != nil {
				return nil, Usagef("name the application as SOURCE APP or SOURCE/APP (e.g. acme-kms crm)")
			}
			return a.Client().RotateApp(cmd.Context(), source, app)
		}, func(rot *api.AppRotation) error {
			fmt.Fprintf(a.Out, "rotated %s/%s: %s (after %s)\n", clean(rot.Source), clean(rot.Application), clean(rot.Generation), clean(rot.Previous))
			if rot.Note != "" {
				fmt.Fprintln(a.Out, clean(rot.Note))
			}
			return nil
		})
	cmd.Long = "Creates on the KMS the generation that follows the application's newest (its scheme's next name,\n" +
		"….key.N+1) and activates it; the proxy encrypts with it from its next poll. The KMS is polled first,\n" +
		"so a generation someone else made is followed, not repeated. Recorded as a rotated event with your user name."
	return cmd
}

// keyArgs reads "SOURCE NAME" or "SOURCE/NAME".
func keyArgs(args []string) (source, name string, err error) {
	switch len(args) {
	case 1:
		s, n, ok := strings.Cut(args[0], "/")
		if ok && s != "" && n != "" && !strings.Contains(n, "/") {
			return s, n, nil
		}
	case 2:
		if args[0] != "" && args[1] != "" {
			return args[0], args[1], nil
		}
	}
	return "", "", Usagef("name the key as SOURCE NAME or SOURCE/NAME (e.g. vault acme-payments-card-kek)")
}

// parseWhen reads a date as an administrator types it: RFC 3339, a day
// (2027-01-31, midnight UTC) or a duration from now (90d, 2w, 1y, 36h).
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	if d, err := engine.ParseDuration(s); err == nil && d > 0 {
		return now.Add(time.Duration(d)).UTC().Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2027-01-31, 2027-01-31T12:00:00Z) or a duration from now (90d, 1y)", s)
}

func parseTags(tags []string) (map[string]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, t := range tags {
		k, v, ok := strings.Cut(t, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("tag %q is not key=value", t)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// dates are the --expires and --not-before flags of a command; material
// is set for an upload, whose --expires is the material's expiry where
// the source's imported material expires (engine.CapMaterialExpiry).
type dates struct {
	expires, notBefore string
	material           bool
}

func (d *dates) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&d.expires, "expires", "", "expiry: a date (2027-01-31) or a duration from now (365d)")
	cmd.Flags().StringVar(&d.notBefore, "not-before", "", "activation: a date or a duration from now")
}

func (d *dates) parse() (exp, nbf *time.Time, err error) {
	now := time.Now()
	if d.expires != "" {
		t, err := parseWhen(d.expires, now)
		if err != nil {
			return nil, nil, Usagef("--expires: %v", err)
		}
		exp = &t
	}
	if d.notBefore != "" {
		t, err := parseWhen(d.notBefore, now)
		if err != nil {
			return nil, nil, Usagef("--not-before: %v", err)
		}
		nbf = &t
	}
	return exp, nbf, nil
}

// refuse fails, before any change is asked for, when --expires or
// --not-before is given for a source whose keys have no dates (no
// engine.CapDates), in the daemon's words.
func (d *dates) refuse(ctx context.Context, a *App, source string) error {
	if d.expires == "" && d.notBefore == "" {
		return nil
	}
	srcs, err := a.Client().CloudSources(ctx)
	if err != nil {
		return err
	}
	for _, s := range srcs {
		if s.Name != source || slices.Contains(s.Capabilities, engine.CapDates) {
			continue
		}
		if d.material && d.notBefore == "" && slices.Contains(s.Capabilities, engine.CapMaterialExpiry) {
			continue
		}
		return Usagef("--expires/--not-before: %s", engine.NoDates(source))
	}
	return nil
}

// parseWithTags reads --expires and --not-before, then the --tag values,
// and refuses dates for a source whose keys have none (refuse).
func (d *dates) parseWithTags(ctx context.Context, a *App, source string, tags []string) (exp, nbf *time.Time, t map[string]string, err error) {
	if exp, nbf, err = d.parse(); err != nil {
		return nil, nil, nil, err
	}
	if t, err = parseTags(tags); err != nil {
		return nil, nil, nil, Usagef("--tag: %v", err)
	}
	if err := d.refuse(ctx, a, source); err != nil {
		return nil, nil, nil, err
	}
	return exp, nbf, t, nil
}

// printVersions prints what a key operation did and the key's versions
// after it, oldest first.
func (a *App) printVersions(res *api.CloudKeyResult) error {
	if res.Event != nil {
		fmt.Fprintf(a.Out, "%s: %s\n", res.Event.KeyID, res.Event.Details)
	}
	rows := append([]engine.Key(nil), res.Keys...)
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Created != nil && rows[j].Created != nil && !rows[i].Created.Equal(*rows[j].Created) {
			return rows[i].Created.Before(*rows[j].Created)
		}
		return rows[i].Version < rows[j].Version
	})
	if len(rows) == 0 {
		return nil
	}
	_, err := io.WriteString(a.Out, render.KeyVersions(rows, a.now()).Text(0))
	return err
}

// newKeyResultCmd is a command whose answer is a key's versions after an
// operation: run does the operation, the versions are printed as a table
// (or as JSON with --json).
func newKeyResultCmd(a *App, use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, args []string) (*api.CloudKeyResult, error)) *cobra.Command {
	return newAnswerCmd(a, use, short, args, "print the result as JSON", run, a.printVersions)
}

// newKeyNameCmd is newKeyResultCmd for an operation on the key named SOURCE
// NAME (or SOURCE/NAME).
func newKeyNameCmd(a *App, use, short string, run func(cmd *cobra.Command, source, name string) (*api.CloudKeyResult, error)) *cobra.Command {
	return newKeyAnswerCmd(a, use, short, "print the result as JSON", run, a.printVersions)
}

// readKeyFile reads a key file for upload, refusing one that others can
// read: it holds key material.
func readKeyFile(path string) ([]byte, error) {
	return readFile("--from-file", path, 64*1024, func(fi os.FileInfo) error {
		if fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("--from-file %s has mode %04o: it holds key material, chmod 600 it", path, fi.Mode().Perm())
		}
		return nil
	})
}

// readSmallFile reads a regular file of at most limit bytes given by flag.
func readSmallFile(flag, path string, limit int64) ([]byte, error) {
	return readFile(flag, path, limit, nil)
}

// readFile opens path once, checks the opened file (regular, at most
// limit bytes, and check's own rule) and reads no more than limit: a file
// swapped or grown after the checks (a symlink to /dev/zero) cannot make
// the CLI read without end.
func readFile(flag, path string, limit int64, check func(os.FileInfo) error) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, Usagef("%s %s is not a regular file", flag, path)
	}
	if check != nil {
		if err := check(fi); err != nil {
			return nil, err
		}
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s %s has %d bytes: it should be %s at most", flag, path, fi.Size(), engine.Plural(int(limit), "byte"))
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("%s %s grew past %s while it was read", flag, path, engine.Plural(int(limit), "byte"))
	}
	if err != nil {
		clear(b)
		return nil, err
	}
	return b, nil
}

func newKeyCreateCmd(a *App, upload bool) *cobra.Command {
	var r api.UploadKeyRequest
	var fromFile string
	d := dates{material: upload}
	var tags []string
	use, short := "create SOURCE NAME", "Create a key inside the vault: RSA 2048/3072/4096, EC P-256/P-384/P-521, or where the cloud offers them oct and HMAC"
	if upload {
		use, short = "upload SOURCE NAME", "Bring your own key: generate it here (or take a KMIP ring's newest generation, or a key file) and import it"
	}
	cmd := newKeyNameCmd(a, use, short, func(cmd *cobra.Command, source, name string) (*api.CloudKeyResult, error) {
		r.Name = name
		r.Type = strings.ToUpper(r.Type)
		fromRing := upload && (r.FromSource != "" || r.FromApplication != "")
		if fromRing && (r.FromSource == "" || r.FromApplication == "") {
			return nil, Usagef("--from-source and --from-app go together (the KMIP source and the application whose newest key to upload)")
		}
		if fromFile != "" {
			if fromRing {
				return nil, Usagef("--from-file and --from-source/--from-app exclude each other")
			}
			b, err := readKeyFile(fromFile)
			if err != nil {
				return nil, err
			}
			defer clear(b)
			r.Material = b
			r.Type, r.Size, r.Curve = "", 0, "" // the file says what it is
		}
		if !fromRing && fromFile == "" {
			switch r.Type {
			case "RSA":
				if r.Size == 0 {
					r.Size = 3072
				}
				r.Curve = ""
			case "EC":
				if r.Curve == "" {
					r.Curve = "P-256"
				}
				r.Size = 0
			case "OCT", "HMAC":
				// Symmetric and HMAC keys are created in clouds that
				// offer them (AWS KMS); the source judges the size.
				if upload {
					return nil, Usagef("--type must be RSA or EC to upload a generated key (symmetric material comes from a KMIP ring: --from-source, --from-app, or a file: --from-file)")
				}
				if r.Type == "HMAC" && r.Size == 0 {
					r.Size = 256
				}
				r.Curve = ""
			default:
				return nil, Usagef("--type must be RSA, EC, oct (symmetric) or HMAC")
			}
		}
		var err error
		if r.Expires, r.NotBefore, r.Tags, err = d.parseWithTags(cmd.Context(), a, source, tags); err != nil {
			return nil, err
		}
		if upload {
			return a.Client().UploadCloudKey(cmd.Context(), source, r)
		}
		return a.Client().CreateCloudKey(cmd.Context(), source, r.CreateKeyRequest)
	})
	cmd.Flags().StringVar(&r.Type, "type", "EC", "key type: RSA, EC, oct (symmetric) or HMAC (oct and HMAC where the cloud offers them: AWS, Google)")
	cmd.Flags().IntVar(&r.Size, "size", 0, "RSA modulus size: 2048, 3072 (default) or 4096; HMAC size: 224, 256 (default), 384 or 512")
	cmd.Flags().StringVar(&r.Curve, "curve", "", "EC curve: P-256 (default), P-384 or P-521")
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "tag key=value (repeatable)")
	cmd.Flags().BoolVar(&r.Disabled, "disabled", false, "create the key disabled")
	d.flags(cmd)
	if upload {
		cmd.Flags().StringVar(&r.FromSource, "from-source", "", "KMIP source to take the key material from")
		cmd.Flags().StringVar(&r.FromApplication, "from-app", "", "application whose newest active generation to upload")
		cmd.Flags().StringVar(&fromFile, "from-file", "", "key file to upload (mode 0600): a PEM or PKCS#8 DER RSA/EC private key, or 16/32 bytes of symmetric material (raw or hex)")
	}
	return cmd
}

// newKeyOpCmd is a life-cycle operation on one key (rotate, recover, delete,
// purge). With confirm, the key's name must be typed again (or given with
// --confirm) before anything is sent.
func newKeyOpCmd(a *App, op, short string, confirm bool) *cobra.Command {
	var given, version string
	cmd := newKeyNameCmd(a, op+" SOURCE NAME", short, func(cmd *cobra.Command, source, name string) (*api.CloudKeyResult, error) {
		if op == "make-primary" && version == "" {
			return nil, Usagef("make-primary needs the version to make primary: --version N")
		}
		if !confirm {
			return a.Client().CloudVersionOp(cmd.Context(), source, name, op, version, "")
		}
		what := op
		if version != "" {
			what = op + " version " + version + " of"
		}
		typed, err := confirmName(a, what, source, name, given)
		if err != nil {
			return nil, err
		}
		return a.Client().CloudVersionOp(cmd.Context(), source, name, op, version, typed)
	})
	if confirm {
		cmd.Flags().StringVar(&given, "confirm", "", "the key's name again, to confirm without a prompt")
	}
	switch op {
	case "delete", "recover":
		cmd.Flags().StringVar(&version, "version", "", "only this version (Google Cloud KMS: schedule its destruction, or restore it)")
	case "make-primary":
		cmd.Flags().StringVar(&version, "version", "", "the version to make primary (required)")
	}
	return cmd
}

// confirmName asks for the key's name to be typed again, unless --confirm
// gave it, and returns it when it is the name; anything else is refused.
func confirmName(a *App, op, source, name, given string) (string, error) {
	typed := given
	if typed == "" {
		fmt.Fprintf(a.Err, "%s key %s in %s. Type the key's name to confirm: ", op, name, source)
		line, err := bufio.NewReader(a.In).ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", Usagef("%s needs the key's name typed again (or --confirm %s)", op, name)
		}
		typed = strings.TrimSpace(line)
	}
	if typed != name {
		return "", Usagef("the name typed (%q) is not %q: nothing was done", typed, name)
	}
	return typed, nil
}

func newKeyUpdateCmd(a *App) *cobra.Command {
	var r api.UpdateKeyRequest
	var d dates
	var tags []string
	var enable, disable, clearTags bool
	cmd := newKeyNameCmd(a, "update SOURCE NAME", "Enable or disable a key version, change its expiry or activation date, or replace its tags",
		func(cmd *cobra.Command, source, name string) (*api.CloudKeyResult, error) {
			if enable && disable {
				return nil, Usagef("--enable and --disable exclude each other")
			}
			if enable || disable {
				v := enable
				r.Enabled = &v
			}
			var err error
			if r.Expires, r.NotBefore, r.Tags, err = d.parseWithTags(cmd.Context(), a, source, tags); err != nil {
				return nil, err
			}
			if clearTags {
				if r.Tags != nil {
					return nil, Usagef("--clear-tags and --tag exclude each other")
				}
				r.Tags = map[string]string{}
			}
			if r.Enabled == nil && r.Expires == nil && r.NotBefore == nil && r.Tags == nil {
				return nil, Usagef("nothing to change: give --enable, --disable, --expires, --not-before, --tag or --clear-tags")
			}
			return a.Client().UpdateCloudKey(cmd.Context(), source, name, r)
		})
	cmd.Flags().StringVar(&r.Version, "version", "", "version to change (default: the current one)")
	cmd.Flags().BoolVar(&enable, "enable", false, "enable the version")
	cmd.Flags().BoolVar(&disable, "disable", false, "disable the version")
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "tag key=value; the tags given replace all tags (repeatable)")
	cmd.Flags().BoolVar(&clearTags, "clear-tags", false, "remove every tag")
	d.flags(cmd)
	return cmd
}

func newKeyBackupCmd(a *App) *cobra.Command {
	return newKeyAnswerCmd(a, "backup SOURCE NAME",
		"Back up a key with all its versions into the keyward database (wrapped under the key-encryption key)",
		"print the backup's description as JSON", func(cmd *cobra.Command, source, name string) (*api.BackupInfo, error) {
			return a.Client().BackupCloudKey(cmd.Context(), source, name)
		}, func(b *api.BackupInfo) error {
			fmt.Fprintf(a.Out, "backup %s: %s/%s, %d version(s), %d bytes\nrestore with: keyward key restore %s\n", b.ID, b.Source, b.Key, b.Versions, b.Size, b.ID)
			return nil
		})
}

// backupList is the stored backups as keyward key backups --json prints
// them.
type backupList struct {
	Backups []api.BackupInfo `json:"backups"`
}

func newKeyBackupsCmd(a *App) *cobra.Command {
	return newAnswerCmd(a, "backups", "List the stored cloud key backups, newest first", cobra.NoArgs, "print the backups as JSON",
		func(cmd *cobra.Command, _ []string) (backupList, error) {
			bs, err := a.Client().CloudBackups(cmd.Context())
			if bs == nil {
				bs = []api.BackupInfo{}
			}
			return backupList{bs}, err
		}, func(l backupList) error {
			tw := table(a.Out)
			fmt.Fprintln(tw, "ID\tTAKEN\tSOURCE\tKEY\tVERSIONS\tGEOGRAPHY\tBY")
			var pending []api.BackupInfo
			for _, b := range l.Backups {
				if b.Pending != "" {
					pending = append(pending, b)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", b.ID, b.Created.UTC().Format(time.RFC3339), b.Source, b.Key, b.Versions, orDash(b.Geography), orDash(b.Actor))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, b := range pending {
				fmt.Fprintf(a.Out, "%s: %s\n", b.ID, b.Pending)
			}
			return nil
		})
}

func newKeyRestoreCmd(a *App) *cobra.Command {
	var r api.RestoreRequest
	var expires string
	cmd := newKeyResultCmd(a, "restore BACKUP-ID", "Restore a stored backup into the vault it came from, or --to another vault of the same geography",
		cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) (*api.CloudKeyResult, error) {
			if expires != "" {
				if r.NoExpiry {
					return nil, Usagef("--expires and --no-expiry exclude each other")
				}
				t, err := parseWhen(expires, time.Now())
				if err != nil {
					return nil, Usagef("--expires: %v", err)
				}
				r.Expires = &t
			}
			return a.Client().RestoreCloudBackup(cmd.Context(), args[0], r)
		})
	cmd.Flags().StringVar(&r.Source, "to", "", "source to restore into (default: where the backup was taken)")
	cmd.Flags().StringVar(&expires, "expires", "", "AWS: the re-imported material expires then (a date, 2027-01-31, or a duration from now, 90d; at most 365 days ahead) instead of as kept at upload")
	cmd.Flags().BoolVar(&r.NoExpiry, "no-expiry", false, "AWS: the re-imported material never expires (instead of as kept at upload)")
	return cmd
}

func newKeyDeleteBackupCmd(a *App) *cobra.Command {
	var given string
	cmd := &cobra.Command{
		Use:   "delete-backup BACKUP-ID",
		Short: "Delete a stored key backup for good (the key's name typed again, or --confirm)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bs, err := a.Client().CloudBackups(cmd.Context())
			if err != nil {
				return err
			}
			i := slices.IndexFunc(bs, func(b api.BackupInfo) bool { return b.ID == args[0] })
			if i < 0 {
				return fmt.Errorf("no stored backup with id %q (keyward key backups lists them)", args[0])
			}
			b := bs[i]
			if _, err := confirmName(a, "delete the backup "+b.ID+" of", b.Source, b.Key, given); err != nil {
				return err
			}
			if err := a.Client().DeleteCloudBackup(cmd.Context(), b.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.Out, "deleted backup %s of %s/%s (%d version(s), taken %s)\n", b.ID, b.Source, b.Key, b.Versions, b.Created.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&given, "confirm", "", "the key's name again, to confirm without a prompt")
	return cmd
}

func newKeyPolicyCmd(a *App) *cobra.Command {
	var rotateAfter, rotateBefore, expireAfter, notifyBefore string
	var source, name string
	cmd := newKeyAnswerCmd(a, "policy SOURCE NAME",
		"Show a key's rotation policy, or set it with --rotate-after/--rotate-before-expiry, --expire-after, --notify-before",
		"print the policy as JSON", func(cmd *cobra.Command, s, n string) (*api.RotationPolicy, error) {
			source, name = s, n
			set := false
			var p api.RotationPolicy
			for _, f := range []struct {
				flag string
				val  string
				dst  *engine.Duration
			}{{"rotate-after", rotateAfter, &p.RotateAfter}, {"rotate-before-expiry", rotateBefore, &p.RotateBeforeExpiry},
				{"expire-after", expireAfter, &p.ExpireAfter}, {"notify-before", notifyBefore, &p.NotifyBefore}} {
				if !cmd.Flags().Changed(f.flag) {
					continue
				}
				set = true
				d, err := engine.ParseDuration(f.val)
				if err != nil {
					return nil, Usagef("--%s: %v", f.flag, err)
				}
				*f.dst = d
			}
			if set {
				return a.Client().SetCloudRotationPolicy(cmd.Context(), source, name, p)
			}
			return a.Client().CloudRotationPolicy(cmd.Context(), source, name)
		}, func(got *api.RotationPolicy) error {
			show := func(label string, d engine.Duration) string {
				if d == 0 {
					return label + " -"
				}
				return label + " " + d.String()
			}
			fmt.Fprintf(a.Out, "%s/%s: %s, %s, %s, %s\n", source, name, show("rotate after", got.RotateAfter),
				show("rotate before expiry", got.RotateBeforeExpiry), show("expire after", got.ExpireAfter), show("notify before", got.NotifyBefore))
			return nil
		})
	cmd.Flags().StringVar(&rotateAfter, "rotate-after", "", "rotate this long after creation (e.g. 90d)")
	cmd.Flags().StringVar(&rotateBefore, "rotate-before-expiry", "", "rotate this long before expiry (needs --expire-after)")
	cmd.Flags().StringVar(&expireAfter, "expire-after", "", "expiry given to new versions (e.g. 1y)")
	cmd.Flags().StringVar(&notifyBefore, "notify-before", "", "notify this long before expiry (e.g. 30d)")
	return cmd
}

// syncProgressEvery is how often keyward sync says it is still waiting.
var syncProgressEvery = 5 * time.Second

// newSyncCmd is `keyward sync [--source S]`.
func newSyncCmd(a *App) *cobra.Command {
	var source string
	var timeout time.Duration
	cmd := newAnswerCmd(a, "sync", "Sync every source now (or only --source S) and wait for it", cobra.NoArgs, "print the result as JSON",
		func(cmd *cobra.Command, _ []string) (*api.SyncResult, error) {
			if timeout <= 0 {
				return nil, Usagef("--timeout must be positive, not %s", timeout)
			}
			what := "every source"
			if source != "" {
				what = source
			}
			return syncWithProgress(cmd.Context(), a, source, what, timeout)
		}, func(res *api.SyncResult) error {
			if len(res.Synced) == 0 {
				fmt.Fprintln(a.Out, "no source can sync on demand")
				return nil
			}
			fmt.Fprintf(a.Out, "synced %s\n", strings.Join(res.Synced, ", "))
			return nil
		})
	cmd.Example = `  keyward sync
  keyward sync --source azure-demo --timeout 5m`
	cmd.Flags().StringVar(&source, "source", "", "sync only this source")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the sources to answer")
	return cmd
}

// syncWithProgress asks the daemon to sync and waits for it, up to
// timeout, saying on stderr every syncProgressEvery that it still waits
// (stdout keeps only the result). A sync that takes longer is an error in
// words, not the HTTP client's timeout.
func syncWithProgress(ctx context.Context, a *App, source, what string, timeout time.Duration) (*api.SyncResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type answer struct {
		res *api.SyncResult
		err error
	}
	done := make(chan answer, 1)
	start := time.Now()
	go func() {
		res, err := a.Client().WithTimeout(0).Sync(ctx, source)
		done <- answer{res, err}
	}()
	tick := time.NewTicker(syncProgressEvery)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if r.err != nil && errors.Is(r.err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("sync of %s did not finish in %s; the daemon may still be syncing "+
					"(see keyward status and keyward report activity), or wait longer with --timeout", what, timeout)
			}
			return r.res, r.err
		case <-tick.C:
			fmt.Fprintf(a.Err, "syncing %s… %s\n", what, time.Since(start).Round(time.Second))
		}
	}
}
