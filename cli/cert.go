package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/pki"
)

// newCertCmd is `keyward cert csr|install|import`: the client certificate
// keyward presents to a KMIP source, the two ways of the CASB guide (a CSR
// signed by the enterprise CA, or a JKS / PKCS#12 keystore). The identity
// lives in <data_dir>/kmip/<source>/, which the KMIP source uses when its
// config names no certificate; the daemon picks it up on its next
// connection.
//
// When a daemon answers on the socket, the commands go through its API
// (/v1/kmip/{source}/csr|install|import, admin only): the command reads the
// caller's files and sends their contents, and the daemon writes the
// identity as its own user and records who asked in the activity log. Only
// when no daemon answers (or it serves no KMIP source yet) are the files
// written here, which a line on stderr says.
func newCertCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Manage the client certificate for a KMIP source (csr, install, import)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCertShowCmd(a), newCertCSRCmd(a), newCertInstallCmd(a), newCertImportCmd(a))
	return cmd
}

// certFiles resolves the identity files of a configured KMIP source.
func (a *App) certFiles(source string) (pki.Files, *config.KMIPSource, error) {
	if source == "" {
		return pki.Files{}, nil, Usagef("--source is required (the name of a [[kmip]] section)")
	}
	cfg, err := a.Config()
	if err != nil {
		return pki.Files{}, nil, err
	}
	var names []string
	for i := range cfg.KMIP {
		if cfg.KMIP[i].Name == source {
			return pki.Paths(cfg.DataDir, source), &cfg.KMIP[i], nil
		}
		names = append(names, cfg.KMIP[i].Name)
	}
	if len(names) == 0 {
		// No [[kmip]] yet: allow preparing the identity before configuring.
		return pki.Paths(cfg.DataDir, source), nil, nil
	}
	return pki.Files{}, nil, Usagef("no [[kmip]] source named %q in the config (have: %s)", source, strings.Join(names, ", "))
}

// certTarget is where a cert command does its work: through the daemon
// (client set) or on the files here.
type certTarget struct {
	source string
	client *api.Client

	// Local only: the files, the config's warning that the daemon will not
	// use them, and the owner to give them to (the data dir's, when root
	// writes for a daemon running as another user).
	files   pki.Files
	warning string
	chown   bool
	uid     int
	gid     int
}

// certTarget asks the daemon which KMIP sources it serves: when it serves
// source, the work goes through its API; when no daemon answers, or it
// serves no KMIP source at all yet, the files are written here (saying so in
// one line on stderr).
func (a *App) certTarget(ctx context.Context, source string) (*certTarget, error) {
	if source == "" {
		return nil, Usagef("--source is required (the name of a [[kmip]] section)")
	}
	c := a.Client()
	var why string
	srcs, err := c.Sources(ctx)
	switch {
	case err == nil:
		var names []string
		for _, s := range srcs {
			if s.Kind != "kmip" {
				continue
			}
			if s.Name == source {
				return &certTarget{source: source, client: c}, nil
			}
			names = append(names, s.Name)
		}
		if len(names) > 0 {
			return nil, Usagef("no [[kmip]] source named %q in the daemon at %s (have: %s)", source, c.Socket, strings.Join(names, ", "))
		}
		why = "the daemon at " + c.Socket + " serves no KMIP source yet"
	case errors.Is(err, os.ErrPermission):
		// A daemon is there but this user may not talk to it: writing the
		// files here would go around it (and its audit log).
		return nil, fmt.Errorf("the daemon's socket %s refuses you (permission denied): run keyward cert as an administrator of the daemon (access.admin_group) or as root", c.Socket)
	case errors.Is(err, api.ErrUnreachable):
		why = "no daemon answers at " + c.Socket
	default:
		return nil, err
	}
	f, kc, err := a.certFiles(source)
	if err != nil {
		return nil, err
	}
	t := &certTarget{source: source, files: f}
	if kc != nil {
		t.warning = pki.IgnoredWarning(source, kc.CertFile, kc.KeystoreFile)
	}
	dataDir := filepath.Dir(filepath.Dir(f.Dir)) // f.Dir is <data_dir>/kmip/<source>
	for _, d := range []string{filepath.Dir(f.Dir), f.Dir} {
		// Files written (and, as root, handed over) through a link could
		// land anywhere the link points.
		if fi, err := os.Lstat(d); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link: keyward writes a client identity only into a real directory; remove the link", d)
		}
	}
	owner := ""
	if uid, gid, name, ok := foreignOwner(dataDir); ok {
		t.chown, t.uid, t.gid = true, uid, gid
		owner = ", giving them to " + name + " (the data dir's owner)"
	}
	fmt.Fprintf(a.Err, "keyward: %s: writing the identity files in %s directly%s\n", why, f.Dir, owner)
	return t, nil
}

// foreignOwner is the owner of dataDir when keyward runs as root and the
// directory belongs to another user (the daemon's, User=keyward in the
// shipped unit): files root writes there are handed to that user, or the
// daemon could not read them.
func foreignOwner(dataDir string) (uid, gid int, name string, ok bool) {
	if os.Geteuid() != 0 {
		return 0, 0, "", false
	}
	fi, err := os.Stat(dataDir)
	if err != nil {
		return 0, 0, "", false
	}
	st, isUnix := fi.Sys().(*syscall.Stat_t)
	if !isUnix || st.Uid == 0 {
		return 0, 0, "", false
	}
	uid, gid = int(st.Uid), int(st.Gid)
	name = fmt.Sprintf("uid %d", uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		name = u.Username
	}
	return uid, gid, name, true
}

// done finishes local work: hands what was written to the data dir's owner.
func (t *certTarget) done() error {
	if t.client == nil && t.chown {
		f := t.files
		for _, p := range []string{filepath.Dir(f.Dir), f.Dir, f.Key, f.PendingKey, f.CSR, f.Cert, f.CA} {
			if err := os.Lchown(p, t.uid, t.gid); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("the identity files are written, but could not be given to uid %d, so the daemon cannot read them: %w", t.uid, err)
			}
		}
	}
	return nil
}

func warn(a *App, w string) {
	if w != "" {
		fmt.Fprintf(a.Err, "keyward: warning: %s\n", w)
	}
}

// certError is a daemon's refusal of a cert command: a certificate or
// keystore that fails a check is an error (exit 1) with the daemon's reason,
// as when the check is made here, not a usage mistake.
func certError(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == api.CodeBadRequest {
		return errors.New(ae.Message)
	}
	return err
}

func isConflict(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Code == api.CodeConflict
}

func newCertCSRCmd(a *App) *cobra.Command {
	var source, cn, org, out string
	var useRSA, force bool
	cmd := &cobra.Command{
		Use:   "csr --source NAME --cn COMMON-NAME [--o ORGANIZATION]",
		Short: "Generate a private key and a certificate signing request to take to your CA",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if source == "" {
				return Usagef("--source is required (the name of a [[kmip]] section)")
			}
			if cn == "" {
				return Usagef("--cn is required (the name the KMS will know this proxy by)")
			}
			t, err := a.certTarget(cmd.Context(), source)
			if err != nil {
				return err
			}
			var csr []byte
			var keyFile, warning string
			if t.client != nil {
				res, err := t.client.KMIPCSR(cmd.Context(), source, api.CSRRequest{CommonName: cn, Organization: org, RSA: useRSA, Force: force})
				if isConflict(err) {
					return fmt.Errorf("%s already holds a private key (kept by the daemon); pass --force to make a new one (it waits as pending, and the identity in use keeps working, until its signed certificate is installed)", source)
				}
				if err != nil {
					return certError(err)
				}
				csr, keyFile, warning = []byte(res.CSR), res.KeyFile, res.Warning
			} else {
				f := t.files
				for _, k := range []string{f.Key, f.PendingKey} {
					if _, err := os.Stat(k); err == nil && !force {
						return fmt.Errorf("%s already holds a private key; pass --force to make a new one (it waits as pending, and the identity in use keeps working, until its signed certificate is installed)", k)
					}
				}
				if csr, err = pki.GenerateCSR(f, pki.CSROptions{CommonName: cn, Organization: org, RSA: useRSA}); err != nil {
					return err
				}
				if err := t.done(); err != nil {
					return err
				}
				keyFile, warning = f.PendingKey, t.warning
			}
			if out != "" {
				if err := os.WriteFile(out, csr, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(a.Err, "CSR written to %s\n", out)
			} else {
				a.Out.Write(csr)
			}
			fmt.Fprintf(a.Err, "Private key: %s (mode 0600), pending: the identity in use now stays in use until the certificate for this key is installed.\nHave the CSR signed by your CA (clientAuth usage), then run:\n  keyward cert install --source %s --cert signed.pem --ca root.pem\n", keyFile, source)
			warn(a, warning)
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "KMIP source name")
	cmd.Flags().StringVar(&cn, "cn", "", "common name for the certificate")
	cmd.Flags().StringVar(&org, "o", "", "organization")
	cmd.Flags().BoolVar(&useRSA, "rsa", false, "RSA 3072 key instead of ECDSA P-256 (for a CA or KMS that accepts only RSA client certificates)")
	cmd.Flags().StringVar(&out, "out", "", "write the CSR to this file instead of standard output")
	cmd.Flags().BoolVar(&force, "force", false, "make a new key although the source has one (it stays pending until its certificate is installed)")
	return cmd
}

func newCertInstallCmd(a *App) *cobra.Command {
	var source, certFile, caFile string
	cmd := &cobra.Command{
		Use:   "install --source NAME --cert SIGNED.pem|.der --ca ROOT.pem|.der",
		Short: "Install the signed certificate, after checking it matches the CSR's key and chains to the root",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if source == "" {
				return Usagef("--source is required (the name of a [[kmip]] section)")
			}
			if certFile == "" || caFile == "" {
				return Usagef("--cert and --ca are both required")
			}
			certPEM, err := os.ReadFile(certFile)
			if err != nil {
				return err
			}
			caPEM, err := os.ReadFile(caFile)
			if err != nil {
				return err
			}
			t, err := a.certTarget(cmd.Context(), source)
			if err != nil {
				return err
			}
			var leaf *x509.Certificate
			var installed, keyType, warning string
			if t.client != nil {
				ci, err := t.client.KMIPInstallCert(cmd.Context(), source, api.InstallCertRequest{Cert: certPEM, Root: caPEM})
				if err != nil {
					return certError(err)
				}
				// The daemon checked it; the names come from the file sent.
				if leaf, err = pki.Leaf(certPEM); err != nil {
					return err
				}
				installed, keyType, warning = ci.CertFile, ci.KeyType, ci.Warning
			} else {
				if leaf, err = pki.Install(t.files, certPEM, caPEM, a.now()); err != nil {
					return err
				}
				if err := t.done(); err != nil {
					return err
				}
				installed, keyType, warning = t.files.Cert, pki.KeyType(leaf.PublicKey), t.warning
			}
			fmt.Fprintf(a.Out, "Installed %s: %q issued by %q, valid until %s (%s).\n", installed, leaf.Subject.CommonName,
				leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format("2006-01-02"), keyType)
			warn(a, warning)
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "KMIP source name")
	cmd.Flags().StringVar(&certFile, "cert", "", "signed certificate (PEM or DER; may include intermediates)")
	cmd.Flags().StringVar(&caFile, "ca", "", "root CA certificate (PEM or DER)")
	return cmd
}

func newCertImportCmd(a *App) *cobra.Command {
	var source, pwFile, alias, keyPWFile string
	var force bool
	cmd := &cobra.Command{
		Use:   "import --source NAME KEYSTORE.jks|KEYSTORE.p12 [--password-file FILE] [--alias A] [--key-password-file FILE] [--force]",
		Short: "Import a JKS or PKCS#12 keystore holding the client key and its certificate chain",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if source == "" {
				return Usagef("--source is required (the name of a [[kmip]] section)")
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			defer clear(data)
			t, err := a.certTarget(cmd.Context(), source)
			if err != nil {
				return err
			}
			var pw []byte
			if pwFile != "" {
				pw, err = pki.ReadPassword(pwFile)
			} else {
				pw, err = promptPassword(a, "Keystore password: ")
			}
			if err != nil {
				return err
			}
			defer clear(pw)
			var keyPW []byte
			if keyPWFile != "" {
				if keyPW, err = pki.ReadPassword(keyPWFile); err != nil {
					return err
				}
				defer clear(keyPW)
			}
			if t.client != nil {
				ci, err := t.client.KMIPImportKeystore(cmd.Context(), source, api.ImportKeystoreRequest{Keystore: data, Password: string(pw),
					Alias: alias, KeyPassword: string(keyPW), Force: force})
				if isConflict(err) {
					return fmt.Errorf("%s already holds a private key other than the keystore's (kept by the daemon); pass --force to replace it (a CSR made for it can no longer be installed)", source)
				}
				if err != nil {
					return certError(err)
				}
				fmt.Fprintf(a.Out, "Imported %s\nKey: %s, certificate: %s\n", ci.Summary, ci.KeyFile, ci.CertFile)
				warn(a, ci.Warning)
				return nil
			}
			f := t.files
			info, err := pki.ImportWith(f, data, pw, pki.KeystoreOptions{Alias: alias, KeyPassword: keyPW}, a.now(), force)
			if errors.Is(err, pki.ErrKeyExists) {
				return fmt.Errorf("%s already holds a private key other than the keystore's; pass --force to replace it (a CSR made for it can no longer be installed)", f.Key)
			}
			if err != nil {
				return err
			}
			if err := t.done(); err != nil {
				return err
			}
			fmt.Fprintf(a.Out, "Imported %s\nKey: %s, certificate: %s\n", info, f.Key, f.Cert)
			warn(a, t.warning)
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "KMIP source name")
	cmd.Flags().StringVar(&pwFile, "password-file", "", "file holding the keystore password (default: prompt)")
	cmd.Flags().StringVar(&alias, "alias", "", "the private-key entry to import (JKS alias, PKCS#12 friendly name) when the keystore holds several")
	cmd.Flags().StringVar(&keyPWFile, "key-password-file", "", "file holding the password of a JKS key entry whose password is not the store's")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing private key that is not the keystore's")
	return cmd
}

func newCertShowCmd(a *App) *cobra.Command {
	var source string
	cmd := newAnswerCmd(a, "show --source NAME [--json]",
		"Show the client identity a KMIP source presents, the one installed, and a key waiting for its certificate",
		cobra.NoArgs, "the /v1/kmip/{source}/cert object", func(cmd *cobra.Command, _ []string) (*api.CertInfo, error) {
			if source == "" {
				return nil, Usagef("--source is required (the name of a [[kmip]] section)")
			}
			return a.Client().KMIPCert(cmd.Context(), source)
		}, func(ci *api.CertInfo) error {
			for _, l := range CertLines(ci) {
				fmt.Fprintln(a.Out, l)
			}
			return nil
		})
	cmd.Flags().StringVar(&source, "source", "", "KMIP source name")
	return cmd
}

// CertLines is a source's identity in words: what it presents, what is
// installed, what waits.
func CertLines(ci *api.CertInfo) []string {
	out := certLines(ci)
	for i, l := range out {
		out[i] = clean(l) // subjects are a CA's or a CSR's words
	}
	return out
}

func certLines(ci *api.CertInfo) []string {
	var out []string
	if ci.InUse != nil {
		out = append(out, "in use:    "+ci.InUse.String())
	}
	if ci.Subject != "" {
		out = append(out, fmt.Sprintf("installed: %s (serial %s, issuer %s, %s, until %s) in %s", ci.Subject, ci.Serial, ci.Issuer, ci.KeyType,
			ci.NotAfter.UTC().Format("2006-01-02"), ci.CertFile))
	}
	if ci.Pending != nil {
		out = append(out, "pending:   "+ci.Pending.String())
	}
	if ci.Warning != "" {
		out = append(out, "warning:   "+ci.Warning)
	}
	return out
}

// promptPassword reads a line from the input, without echo when it is a
// terminal.
func promptPassword(a *App, prompt string) ([]byte, error) {
	in := a.In
	if in == nil {
		in = os.Stdin
	}
	fmt.Fprint(a.Err, prompt)
	if f, ok := in.(*os.File); ok {
		if old, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			noEcho := *old
			noEcho.Lflag &^= unix.ECHO
			if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &noEcho); err == nil {
				defer func() {
					_ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, old)
					fmt.Fprintln(a.Err)
				}()
			}
		}
	}
	line, err := bufio.NewReader(in).ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return nil, fmt.Errorf("read password: %w", err)
	}
	return bytes.TrimRight(line, "\r\n"), nil
}
