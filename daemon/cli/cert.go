package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/pki"
)

// newCertCmd is `keyward cert csr|install|import`: the client certificate
// keyward presents to a KMIP source, the two ways of the CASB guide (a CSR
// signed by the enterprise CA, or a JKS / PKCS#12 keystore). The files go to
// <data_dir>/kmip/<source>/, which the KMIP source uses when its config
// names no certificate; the daemon picks them up on its next connection.
func newCertCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Manage the client certificate for a KMIP source (csr, install, import)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCertCSRCmd(a), newCertInstallCmd(a), newCertImportCmd(a))
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

func newCertCSRCmd(a *App) *cobra.Command {
	var source, cn, org, out string
	var useRSA, force bool
	cmd := &cobra.Command{
		Use:   "csr --source NAME --cn COMMON-NAME [--o ORGANIZATION]",
		Short: "Generate a private key and a certificate signing request to take to your CA",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, _, err := a.certFiles(source)
			if err != nil {
				return err
			}
			if cn == "" {
				return Usagef("--cn is required (the name the KMS will know this proxy by)")
			}
			if _, err := os.Stat(f.Key); err == nil && !force {
				return fmt.Errorf("%s already holds a private key; pass --force to replace it (the certificate issued for it will stop matching)", f.Key)
			}
			csr, err := pki.GenerateCSR(f, pki.CSROptions{CommonName: cn, Organization: org, RSA: useRSA})
			if err != nil {
				return err
			}
			if out != "" {
				if err := os.WriteFile(out, csr, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(a.Err, "CSR written to %s\n", out)
			} else {
				a.Out.Write(csr)
			}
			fmt.Fprintf(a.Err, "Private key: %s (mode 0600). Have the CSR signed by your CA (clientAuth usage), then run:\n  keyward cert install --source %s --cert signed.pem --ca root.pem\n", f.Key, source)
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "KMIP source name")
	cmd.Flags().StringVar(&cn, "cn", "", "common name for the certificate")
	cmd.Flags().StringVar(&org, "o", "", "organization")
	cmd.Flags().BoolVar(&useRSA, "rsa", false, "RSA 3072 key instead of ECDSA P-256 (some KMS, e.g. PyKMIP, only offer ECDSA cipher suites)")
	cmd.Flags().StringVar(&out, "out", "", "write the CSR to this file instead of standard output")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing private key")
	return cmd
}

func newCertInstallCmd(a *App) *cobra.Command {
	var source, certFile, caFile string
	cmd := &cobra.Command{
		Use:   "install --source NAME --cert SIGNED.pem --ca ROOT.pem",
		Short: "Install the signed certificate, after checking it matches the CSR's key and chains to the root",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, _, err := a.certFiles(source)
			if err != nil {
				return err
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
			leaf, err := pki.Install(f, certPEM, caPEM, a.now())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Out, "Installed %s: %q issued by %q, valid until %s (%s).\n", f.Cert, leaf.Subject.CommonName,
				leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format("2006-01-02"), pki.KeyType(leaf.PublicKey))
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "KMIP source name")
	cmd.Flags().StringVar(&certFile, "cert", "", "signed certificate (PEM; may include intermediates)")
	cmd.Flags().StringVar(&caFile, "ca", "", "root CA certificate (PEM)")
	return cmd
}

func newCertImportCmd(a *App) *cobra.Command {
	var source, pwFile string
	cmd := &cobra.Command{
		Use:   "import --source NAME KEYSTORE.jks|KEYSTORE.p12 [--password-file FILE]",
		Short: "Import a JKS or PKCS#12 keystore holding the client key and its certificate chain",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, _, err := a.certFiles(source)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
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
			info, err := pki.Import(f, data, pw, a.now(), true)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Out, "Imported %s\nKey: %s, certificate: %s\n", info, f.Key, f.Cert)
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "KMIP source name")
	cmd.Flags().StringVar(&pwFile, "password-file", "", "file holding the keystore password (default: prompt)")
	return cmd
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
