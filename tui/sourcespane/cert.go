package sourcespane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/dialog"
	"github.com/keyward/keyward/tui/table"
)

// Certificate actions.
const (
	certShow    = "show"
	certCSR     = "csr"
	certInstall = "install"
	certImport  = "import"
	certSource  = "source"
)

// localError is a check made before anything is sent (a file that does not
// exist): the form shows it and the daemon is not asked.
type localError struct{ error }

// certDoneMsg is the answer to one request of the certificate dialog.
type certDoneMsg struct {
	flow int
	what string
	err  error
	// lines are shown in a message box on success.
	title string
	lines []string
	// then continues the flow on the event loop (a CSR or an import refused
	// because a key exists asks whether to replace it); drop is called
	// instead when the flow was closed meanwhile (it clears what then kept).
	then func(m *Model) tea.Cmd
	drop func()
}

type certRun func(ctx context.Context) (certDoneMsg, error)

// certFlow is the open certificate dialog.
type certFlow struct {
	id     int
	source string
	what   string
	dialog.Flow[certRun]
	// waiting: opened before the sources were loaded.
	waiting bool
	// discard clears what Run holds (a keystore and its password) when the
	// flow closes without sending it.
	discard func()
}

// close ends the flow, clearing what it held and did not send.
func (f *certFlow) close() {
	if f.discard != nil {
		f.discard()
		f.discard = nil
	}
}

// show replaces the open dialogs, clearing the passwords of a form it closes.
func (f *certFlow) show(menu *dialog.Menu, confirm *dialog.Confirm, form *dialog.Form, msg *dialog.Message) {
	if f.Form != nil && f.Form != form {
		f.Form.Clear()
	}
	f.Show(menu, confirm, form, msg)
}

func (m *Model) kmipSources() []string {
	var out []string
	for _, s := range m.sources {
		if s.Kind == "kmip" {
			out = append(out, s.Name)
		}
	}
	return out
}

// openCerts opens the certificate menu (after a source menu when there are
// several KMIP sources).
func (m *Model) openCerts() tea.Cmd {
	if !m.loaded {
		// Open at once and fill in when the sources arrive, so keys typed
		// ahead land in the menu.
		m.certSeq++
		m.cert = &certFlow{id: m.certSeq, waiting: true}
		m.cert.show(&dialog.Menu{Title: "Certificates", Status: dialog.Status{Busy: "loading the sources…"}}, nil, nil, nil)
		return m.fetch()
	}
	srcs := m.kmipSources()
	switch len(srcs) {
	case 0:
		m.cert = nil
		return common.FlashErr("no KMIP source: client certificates are for [[kmip]] sources")
	case 1:
		m.certSeq++
		m.cert = &certFlow{id: m.certSeq}
		return m.certMenu(srcs[0])
	}
	m.certSeq++
	m.cert = &certFlow{id: m.certSeq}
	items := make([]dialog.Item, len(srcs))
	for n, s := range srcs {
		items[n] = dialog.Item{ID: certSource, Label: s, Value: s}
	}
	m.cert.show(&dialog.Menu{Title: "Certificates — which KMIP source?", Items: items}, nil, nil, nil)
	return nil
}

func (m *Model) certMenu(source string) tea.Cmd {
	f := m.cert
	f.source = source
	km := m.ctx.Keys
	var items []dialog.Item
	add := func(id string, bind key.Binding, admin bool) {
		if admin && (m.ctx.ReadOnly || m.role == api.RoleUser) {
			return // read-only: what changes the identity is not offered
		}
		items = append(items, dialog.Item{ID: id, Key: bind})
	}
	add(certShow, km.CertShow, false)
	add(certCSR, km.CertCSR, true)
	add(certInstall, km.CertInstall, true)
	add(certImport, km.CertImport, true)
	intro := []string{"The client certificate keyward presents to " + source + " over mutual TLS. Either make a key and a CSR for your CA, then install the signed certificate; or import a keystore the CA team gave you."}
	if m.ctx.ReadOnly || m.role == api.RoleUser {
		intro = append(intro, "Read-only: changing the certificate is hidden.")
	}
	f.show(&dialog.Menu{Title: "Certificates — " + table.Clean(source), Intro: intro, Items: items}, nil, nil, nil)
	return nil
}

func (m *Model) updateCert(msg tea.Msg) tea.Cmd {
	f := m.cert
	step, run, cmd := f.Next(msg, m.ctx.Keys)
	switch step {
	case dialog.Close:
		f.close()
		m.cert = nil
	case dialog.Send:
		// What Run holds is its own now: it clears it once answered.
		f.discard = nil
		return tea.Batch(cmd, m.sendCert(f, run))
	case dialog.Choose:
		return m.chooseCert(f, f.Menu.Chosen())
	}
	return cmd
}

func (m *Model) sendCert(f *certFlow, run certRun) tea.Cmd {
	st := f.Status()
	st.Err = ""
	st.Busy = "asking the daemon…"
	c, id, what := m.ctx, f.id, f.what
	return func() tea.Msg {
		out, err := common.Get(c, run)
		out.flow, out.what, out.err = id, what, err
		return common.Reply(common.PaneSources, out)
	}
}

func (m *Model) onCertDone(msg certDoneMsg) tea.Cmd {
	f := m.cert
	current := f != nil && f.id == msg.flow
	if msg.err != nil {
		why := common.Explain(msg.err)
		var le localError
		if errors.As(msg.err, &le) {
			why = le.Error() + ": nothing was sent"
		}
		if current {
			st := f.Status()
			st.Busy, st.Err = "", why
			return nil
		}
		return common.FlashErr(msg.what + " refused: " + why)
	}
	if !current {
		if msg.drop != nil {
			msg.drop()
		}
		if msg.title != "" {
			return common.Flash(msg.title)
		}
		return nil
	}
	*f.Status() = dialog.Status{}
	if msg.then != nil {
		return msg.then(m)
	}
	f.show(nil, nil, nil, &dialog.Message{Title: msg.title, Lines: msg.lines})
	return common.Flash(msg.title)
}

func (m *Model) chooseCert(f *certFlow, it dialog.Item) tea.Cmd {
	if it.Disabled {
		return common.FlashErr(fmt.Sprintf("%s needs the admin role; the daemon says you are %s: nothing was sent", it.Key.Help().Desc, m.role))
	}
	src := f.source
	b := m.ctx.Backend
	f.what = it.ID + " for " + table.Clean(src)
	switch it.ID {
	case certSource:
		s, _ := it.Value.(string)
		return m.certMenu(s)
	case certShow:
		f.what = "certificate of " + table.Clean(src)
		return m.sendCert(f, func(ctx context.Context) (certDoneMsg, error) {
			ci, err := b.KMIPCert(ctx, src)
			if err != nil {
				return certDoneMsg{}, err
			}
			return certDoneMsg{title: "Client certificate of " + table.Clean(src), lines: describeCert(ci)}, nil
		})
	case certCSR:
		f.show(nil, nil, dialog.NewForm("New client key and CSR for "+table.Clean(src),
			[]string{"The daemon makes the private key and keeps it (mode 0600); take the CSR to your CA, then install the signed certificate with i."},
			dialog.NewField("Common name (CN)", "required", ""),
			dialog.NewField("Organization (O)", "optional", ""),
			dialog.NewField("Key type", "ec for ECDSA P-256, rsa for RSA", "ec"),
			dialog.NewField("Also write the CSR to", "optional file path", ""),
		), nil)
		f.Submit = func(fm *dialog.Form) (certRun, error) {
			req := api.CSRRequest{CommonName: fm.Value(0), Organization: fm.Value(1)}
			if req.CommonName == "" {
				fm.Focus(0)
				return nil, errors.New("the common name (CN) is required: the CA names the client by it")
			}
			switch strings.ToLower(fm.Value(2)) {
			case "ec", "ecdsa", "":
			case "rsa":
				req.RSA = true
			default:
				fm.Focus(2)
				return nil, fmt.Errorf("key type %q: use ec or rsa", fm.Value(2))
			}
			out := fm.Value(3)
			return m.csrRun(src, req, out), nil
		}
		return f.Form.Focus(0)
	case certInstall:
		f.show(nil, nil, dialog.NewForm("Install the signed certificate for "+table.Clean(src),
			[]string{"It is installed only if it matches the CSR's key and chains to the CA root given here."},
			dialog.NewField("Certificate file", "PEM or DER from your CA", ""),
			dialog.NewField("CA root file", "PEM or DER", ""),
		), nil)
		f.Submit = func(fm *dialog.Form) (certRun, error) {
			certPath, rootPath := fm.Value(0), fm.Value(1)
			if certPath == "" {
				fm.Focus(0)
				return nil, errors.New("the certificate file is required")
			}
			if rootPath == "" {
				fm.Focus(1)
				return nil, errors.New("the CA root file is required")
			}
			return func(ctx context.Context) (certDoneMsg, error) {
				cert, err := readLocal("certificate", certPath)
				if err != nil {
					return certDoneMsg{}, err
				}
				root, err := readLocal("CA root", rootPath)
				if err != nil {
					return certDoneMsg{}, err
				}
				ci, err := b.KMIPInstallCert(ctx, src, api.InstallCertRequest{Cert: cert, Root: root})
				if err != nil {
					return certDoneMsg{}, err
				}
				return certDoneMsg{title: "Installed the client certificate of " + table.Clean(src), lines: describeCert(ci)}, nil
			}, nil
		}
		return f.Form.Focus(0)
	case certImport:
		f.show(nil, nil, dialog.NewForm("Import a keystore for "+table.Clean(src),
			[]string{"A JKS or PKCS#12 (.p12, .pfx) file holding the client's private key and its certificate chain. Give the password, or a file holding it."},
			dialog.NewField("Keystore file", ".jks, .p12 or .pfx", ""),
			dialog.SecretField("Password", "hidden"),
			dialog.NewField("or password file", "optional", ""),
			dialog.NewField("Alias", "the key entry, when the keystore holds several", ""),
			dialog.NewField("Key password file", "optional: a JKS entry with a password of its own", ""),
		), nil)
		f.Submit = func(fm *dialog.Form) (certRun, error) {
			path, pwFile := fm.Value(0), fm.Value(2)
			opts := api.ImportKeystoreRequest{Alias: fm.Value(3)}
			keyPWFile := fm.Value(4)
			if path == "" {
				fm.Focus(0)
				return nil, errors.New("the keystore file is required")
			}
			pw := []byte(fm.Raw(1))
			if len(pw) == 0 && pwFile == "" {
				fm.Focus(1)
				return nil, errors.New("the keystore password is required (type it, or give a file holding it)")
			}
			if len(pw) > 0 && pwFile != "" {
				clear(pw)
				fm.Focus(2)
				return nil, errors.New("give the password or a password file, not both")
			}
			return func(ctx context.Context) (certDoneMsg, error) {
				ks, err := readLocal("keystore", path)
				if err == nil && pwFile != "" {
					pw, err = readPassword("password", pwFile)
				}
				if err == nil && keyPWFile != "" {
					var kp []byte
					kp, err = readPassword("key password", keyPWFile)
					opts.KeyPassword = string(kp)
					clear(kp)
				}
				if err != nil {
					clear(pw)
					clear(ks)
					return certDoneMsg{}, err
				}
				return m.importRun(src, ks, pw, opts, false)(ctx)
			}, nil
		}
		return f.Form.Focus(0)
	}
	return nil
}

// importRun sends the keystore and clears it and the password once
// answered; when the source already holds another private key, it keeps
// them to ask whether to replace the key, and sends again with Force if so
// (the confirmation cancelled clears them).
func (m *Model) importRun(src string, ks, pw []byte, opts api.ImportKeystoreRequest, force bool) certRun {
	b := m.ctx.Backend
	sent := false
	return func(ctx context.Context) (certDoneMsg, error) {
		if sent {
			// A forced import that failed: its secrets are cleared.
			return certDoneMsg{}, localError{errors.New("the keystore and its password were cleared after the first try; press esc and import again")}
		}
		sent = true
		req := opts
		req.Keystore, req.Password, req.Force = ks, string(pw), force
		ci, err := b.KMIPImportKeystore(ctx, src, req)
		var ae *api.Error
		if !force && errors.As(err, &ae) && ae.Code == api.CodeConflict {
			why := common.Explain(err)
			return certDoneMsg{then: func(m *Model) tea.Cmd {
				f := m.cert
				f.what = "import for " + table.Clean(src)
				f.Run = m.importRun(src, ks, pw, opts, true)
				f.discard = func() { clear(pw); clear(ks) }
				f.show(nil, dialog.NewConfirm("Replace the private key of "+table.Clean(src)+"?",
					[]string{why, "The keystore's key and certificate replace the ones installed now."}, "", true), nil, nil)
				return nil
			}, drop: func() { clear(pw); clear(ks) }}, nil
		}
		clear(pw)
		clear(ks)
		if err != nil {
			return certDoneMsg{}, err
		}
		return certDoneMsg{title: "Imported the keystore of " + table.Clean(src), lines: describeCert(ci)}, nil
	}
}

// csrRun asks for the CSR; when the source already has a key, it asks
// whether to replace it and sends again with Force.
func (m *Model) csrRun(src string, req api.CSRRequest, out string) certRun {
	b := m.ctx.Backend
	return func(ctx context.Context) (certDoneMsg, error) {
		if out != "" {
			if err := checkWritable(out); err != nil {
				return certDoneMsg{}, err
			}
		}
		res, err := b.KMIPCSR(ctx, src, req)
		var ae *api.Error
		if !req.Force && errors.As(err, &ae) && ae.Code == api.CodeConflict {
			why := common.Explain(err)
			return certDoneMsg{then: func(m *Model) tea.Cmd {
				f := m.cert
				req.Force = true
				f.what = "CSR for " + table.Clean(src)
				f.Run = m.csrRun(src, req, out)
				f.show(nil, dialog.NewConfirm("Replace the private key of "+table.Clean(src)+"?",
					[]string{why, "A new key is made and waits as pending: the identity in use keeps working until the certificate signed for the new key is installed."}, "", true), nil, nil)
				return nil
			}}, nil
		}
		if err != nil {
			return certDoneMsg{}, err
		}
		// Paths on lines of their own, so they are not broken across lines.
		lines := []string{"Private key kept by the daemon (mode 0600) in:", "  " + res.KeyFile,
			"It is pending: the identity in use keeps working until its signed certificate is installed (i)."}
		if out != "" {
			if err := os.WriteFile(out, []byte(res.CSR), 0o644); err != nil {
				lines = append(lines, "Could not write the CSR ("+err.Error()+"); copy it from here.")
			} else {
				lines = append(lines, "CSR written to:", "  "+out)
			}
		}
		lines = append(lines, "Take this CSR to your CA:", "")
		lines = append(lines, strings.Split(strings.TrimRight(res.CSR, "\n"), "\n")...)
		return certDoneMsg{title: "CSR for " + table.Clean(src) + " (CN " + table.Clean(req.CommonName) + ")", lines: lines}, nil
	}
}

// readLocal reads a file the user named in a form, with a message that says
// which field was wrong.
func readLocal(what, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, localError{fmt.Errorf("%s file %s does not exist", what, path)}
	case err != nil:
		return nil, localError{fmt.Errorf("read the %s file: %w", what, err)}
	case len(b) == 0:
		return nil, localError{fmt.Errorf("%s file %s is empty", what, path)}
	}
	return b, nil
}

// readPassword reads a password file: its content up to a final line
// ending, in a copy; what was read is cleared.
func readPassword(what, path string) ([]byte, error) {
	b, err := readLocal(what, path)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return bytes.Clone(bytes.TrimRight(b, "\r\n")), nil
}

// checkWritable refuses an output path whose directory is missing or that
// would overwrite a file.
func checkWritable(path string) error {
	if _, err := os.Stat(path); err == nil {
		return localError{fmt.Errorf("%s already exists: choose another file name", path)}
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return localError{fmt.Errorf("directory %s does not exist", dir)}
	}
	return nil
}

// describeCert lists what the daemon found in a certificate or keystore:
// the identity the source presents, why it is not the installed one (the
// config names its own files), and the installed certificate, if any.
func describeCert(ci *api.CertInfo) []string {
	if ci == nil {
		return nil
	}
	lines := []string{}
	if ci.InUse != nil {
		lines = append(lines, "In use: "+ci.InUse.String(), "")
	}
	if ci.Warning != "" {
		lines = append(lines, "⚠ "+ci.Warning, "")
	}
	if ci.Pending != nil {
		lines = append(lines, "Pending: "+ci.Pending.String(), "")
	}
	if ci.Summary != "" {
		lines = append(lines, "Installed: "+ci.Summary, "")
	}
	add := func(label, v string) {
		if v != "" {
			lines = append(lines, fmt.Sprintf("%-12s %s", label, v))
		}
	}
	add("format", ci.Format)
	add("alias", ci.Alias)
	add("subject", ci.Subject)
	add("issuer", ci.Issuer)
	add("serial", ci.Serial)
	add("key", ci.KeyType)
	if !ci.NotAfter.IsZero() {
		add("valid", ci.NotBefore.UTC().Format("2006-01-02")+" → "+ci.NotAfter.UTC().Format("2006-01-02"))
	}
	if ci.ChainLen > 0 {
		add("chain", common.Plural(ci.ChainLen, "certificate"))
	}
	// The usage is the installed certificate's: with none installed (the
	// source presents its configured files) there is nothing to judge.
	switch {
	case ci.Subject == "":
	case ci.ClientAuth:
		add("usage", "clientAuth ✔")
	default:
		add("usage", "✖ lacks the clientAuth extended key usage: the KMS will refuse it")
	}
	add("file", ci.CertFile)
	return lines
}

func (m *Model) certView() string {
	return m.cert.View(m.ctx.Styles, m.ctx.Keys, m.width, m.height)
}
