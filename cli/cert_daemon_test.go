package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/pki/pkitest"
	"github.com/keyward/keyward/engine"
)

// startKMIPDaemon runs a real daemon from a config file with two [[kmip]]
// sources whose KMS is not there (they are degraded; the certificate routes
// only need them configured): "kms" uses the identity installed in the data
// dir, "hsm" names its own cert_file/key_file. It returns the socket and the
// daemon's data dir.
func startKMIPDaemon(t *testing.T) (sock, dataDir string) {
	t.Helper()
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	sock = filepath.Join(dir, "k.sock")
	path := filepath.Join(dir, "keyward.toml")
	toml := "data_dir = \"" + dataDir + "\"\nsocket = \"" + sock + "\"\n" +
		"[[kmip]]\nname = \"kms\"\naddresses = [\"127.0.0.1:1\"]\ntimeout = \"2s\"\n[[kmip.application]]\nname = \"crm\"\npattern = \"acme.crm.key.*\"\n" +
		"[[kmip]]\nname = \"hsm\"\naddresses = [\"127.0.0.1:1\"]\ntimeout = \"2s\"\ncert_file = \"" + filepath.Join(dir, "own.pem") + "\"\nkey_file = \"" + filepath.Join(dir, "own.key") + "\"\n" +
		"[[kmip.application]]\nname = \"hr\"\npattern = \"acme.hr.key.*\"\n"
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, cfg, daemon.Options{})
	return sock, dataDir
}

// identityEvents returns the client-identity events the daemon recorded
// for a source, oldest first.
func identityEvents(t *testing.T, sock, source string) []engine.Event {
	t.Helper()
	var page api.EventsPage
	if err := api.NewClient(sock).Do(context.Background(), http.MethodGet, "/activity", url.Values{"source": {source}}, nil, &page); err != nil {
		t.Fatal(err)
	}
	var out []engine.Event
	for i := len(page.Events) - 1; i >= 0; i-- {
		if strings.HasPrefix(page.Events[i].Operation, "client-") {
			out = append(out, page.Events[i])
		}
	}
	return out
}

// keystore packs a new client key and its certificate, issued by ca, into a
// PKCS#12 file under dir and returns its path.
func keystore(t *testing.T, ca *pki.CA, dir, cn, password string) string {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(pki.IssueOptions{CommonName: cn, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	p12 := pkitest.PKCS12(t, certPEM, keyPEM, password, ca.Cert)
	p := filepath.Join(dir, cn+".p12")
	if err := os.WriteFile(p, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCertThroughDaemon: with a daemon on the socket, csr, install and
// import go through its API. The CLI's own config points at another data
// dir, so the files appearing in the daemon's data dir (and nothing in the
// CLI's) shows the daemon wrote them; the activity log names the caller;
// every check still says what failed; import, like csr, refuses to replace
// a key without --force; a source whose config names its own identity is
// warned about.
func TestCertThroughDaemon(t *testing.T) {
	sock, daemonData := startKMIPDaemon(t)
	cliCfg, cliData := certConfig(t)
	cert := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, append([]string{"--socket", sock, "--config", cliCfg, "cert"}, args...)...)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	files := pki.Paths(daemonData, "kms")

	code, csr, stderr := cert("csr", "--source", "kms", "--cn", "proxy.acme.example", "--o", "Acme")
	if code != 0 || !strings.Contains(csr, "BEGIN CERTIFICATE REQUEST") || !strings.Contains(stderr, "Private key: "+files.PendingKey) {
		t.Fatalf("csr: %d %q %q", code, csr, stderr)
	}
	if strings.Contains(stderr, "writing the identity files") || strings.Contains(stderr, "warning") {
		t.Errorf("csr through the daemon said %q", stderr)
	}
	if fi, err := os.Stat(files.PendingKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the daemon's data dir holds no private key (mode 0600): %v", err)
	}
	if _, err := os.Stat(filepath.Join(cliData, "kmip")); !os.IsNotExist(err) {
		t.Fatalf("the CLI wrote into its own data dir: %v", err)
	}
	firstKey, _ := os.ReadFile(files.PendingKey)
	if code, _, stderr := cert("csr", "--source", "kms", "--cn", "x"); code != 1 || !strings.Contains(stderr, "--force") {
		t.Fatalf("second csr without --force: %d %q", code, stderr)
	}
	if b, _ := os.ReadFile(files.PendingKey); !bytes.Equal(b, firstKey) {
		t.Fatal("the refused csr replaced the key")
	}

	ca, _ := pki.NewCA("Acme Root")
	other, _ := pki.NewCA("Other Root")
	dir := t.TempDir()
	write := func(n string, b []byte) string {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	signed, _ := ca.SignCSR([]byte(csr), true)
	serverOnly, _ := ca.SignCSR([]byte(csr), false)
	strangerPEM, _, _ := ca.Issue(pki.IssueOptions{CommonName: "stranger", Client: true})
	certF, rootF, otherF := write("signed.pem", signed), write("root.pem", ca.PEM), write("other.pem", other.PEM)
	for _, c := range []struct{ cert, root, want string }{
		{certF, otherF, "does not chain to the given root CA"},
		{write("server.pem", serverOnly), rootF, "lacks the clientAuth extended key usage"},
		{write("stranger.pem", strangerPEM), rootF, "was not issued for the key of this source's CSR"},
	} {
		code, _, stderr := cert("install", "--source", "kms", "--cert", c.cert, "--ca", c.root)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("install %s: %d %q, want exit 1 and %q", filepath.Base(c.cert), code, stderr, c.want)
		}
	}
	if _, err := os.Stat(files.Cert); !os.IsNotExist(err) {
		t.Fatalf("a refused certificate was installed: %v", err)
	}
	code, out, stderr := cert("install", "--source", "kms", "--cert", certF, "--ca", rootF)
	if code != 0 || !strings.Contains(out, "Installed "+files.Cert+": \"proxy.acme.example\" issued by \"Acme Root\"") {
		t.Fatalf("install: %d %q %q", code, out, stderr)
	}
	if _, err := os.Stat(files.Cert); err != nil {
		t.Fatal(err)
	}

	// Import: another key is not replaced without --force.
	pw := write("pw", []byte("s3cret\n"))
	ks := keystore(t, ca, dir, "imported", "s3cret")
	code, _, stderr = cert("import", "--source", "kms", ks, "--password-file", pw)
	if code != 1 || !strings.Contains(stderr, "--force") || !strings.Contains(stderr, "other than the keystore's") {
		t.Fatalf("import over another key without --force: %d %q", code, stderr)
	}
	if b, _ := os.ReadFile(files.Key); !bytes.Equal(b, firstKey) {
		t.Fatal("the refused import replaced the key")
	}
	code, out, stderr = cert("import", "--source", "kms", ks, "--password-file", pw, "--force")
	if code != 0 || !strings.Contains(out, "PKCS#12 keystore") || !strings.Contains(out, "Key: "+files.Key+", certificate: "+files.Cert) {
		t.Fatalf("import --force: %d %q %q", code, out, stderr)
	}
	if b, _ := os.ReadFile(files.Key); bytes.Equal(b, firstKey) {
		t.Fatal("the forced import kept the old key")
	}

	// The daemon recorded each change, and who made it; refusals are not changes.
	var got []string
	for _, e := range identityEvents(t, sock, "kms") {
		if e.Actor != me.Username || e.Origin != engine.OriginKeyward {
			t.Errorf("event %s by %q (%s), want by %q", e.Operation, e.Actor, e.Origin, me.Username)
		}
		got = append(got, e.Operation)
	}
	if want := "client-key-created client-certificate-installed client-keystore-imported"; strings.Join(got, " ") != want {
		t.Errorf("activity of kms: %q, want %q", got, want)
	}
	// The events name the certificates put in place, never their keys.
	evs := identityEvents(t, sock, "kms")
	installed, _ := pki.Leaf(signed)
	if d := evs[1].Details; !strings.Contains(d, "serial "+pki.Serial(installed)) || !strings.Contains(d, `subject "CN=proxy.acme.example"`) ||
		!strings.Contains(d, `issuer "CN=Acme Root"`) || !strings.Contains(d, "not after "+installed.NotAfter.UTC().Format("2006-01-02")) {
		t.Errorf("install event: %q", d)
	}
	if d := evs[2].Details; !strings.Contains(d, `subject "CN=imported"`) || !strings.Contains(d, "serial ") {
		t.Errorf("import event: %q", d)
	}

	// A source whose section names its own identity: done, with a warning.
	code, _, stderr = cert("csr", "--source", "hsm", "--cn", "hsm-client")
	if code != 0 || strings.Count(stderr, "keyward: warning: ") != 1 || !strings.Contains(stderr, `[[kmip]] "hsm" sets cert_file = `) {
		t.Fatalf("csr for a source with its own cert_file: %d %q", code, stderr)
	}
	// Its view says the configured files are what it presents (here they
	// do not exist: the error says so), and a key waits.
	code, out, stderr = cert("show", "--source", "hsm")
	if code != 0 || !strings.Contains(out, "in use:    none from cert_file = ") || !strings.Contains(out, "pending:   ") || !strings.Contains(out, "warning:   ") {
		t.Fatalf("show hsm: %d %q %q", code, out, stderr)
	}
	// The daemon knows its sources, whatever the CLI's config says.
	if code, _, stderr := cert("csr", "--source", "nope", "--cn", "x"); code != 2 || !strings.Contains(stderr, `no [[kmip]] source named "nope" in the daemon`) || !strings.Contains(stderr, "have: hsm, kms") {
		t.Fatalf("unknown source: %d %q", code, stderr)
	}
}

// TestCertLocalAsRootForDaemonUser: with no daemon, root writing into a
// data dir that belongs to another user (the daemon's) hands the files and
// directories it made to that user, so the daemon can read them.
func TestCertLocalAsRootForDaemonUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create files for another user")
	}
	cfg, data := certConfig(t)
	const uid, gid = 4242, 4343
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, uid, gid); err != nil {
		t.Fatal(err)
	}
	code, csr, stderr := run(t, "--config", cfg, "cert", "csr", "--source", "kms", "--cn", "proxy")
	if code != 0 || !strings.Contains(stderr, "giving them to uid 4242 (the data dir's owner)") {
		t.Fatalf("csr: %d %q", code, stderr)
	}
	ca, _ := pki.NewCA("Acme Root")
	signed, _ := ca.SignCSR([]byte(csr), true)
	dir := t.TempDir()
	certF, rootF := filepath.Join(dir, "c.pem"), filepath.Join(dir, "r.pem")
	os.WriteFile(certF, signed, 0o600)
	os.WriteFile(rootF, ca.PEM, 0o600)
	if code, _, stderr := run(t, "--config", cfg, "cert", "install", "--source", "kms", "--cert", certF, "--ca", rootF); code != 0 {
		t.Fatalf("install: %d %q", code, stderr)
	}
	f := pki.Paths(data, "kms")
	for _, p := range []string{filepath.Join(data, "kmip"), f.Dir, f.Key, f.CSR, f.Cert, f.CA} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid {
			t.Errorf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
	}
	if fi, _ := os.Stat(f.Key); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", fi.Mode().Perm())
	}
}

// TestCertDaemonWithoutKMIP: a daemon that serves no KMIP source yet (the
// [[kmip]] section is being prepared before a restart) cannot take the
// identity, so the files are written here, and stderr says why.
func TestCertDaemonWithoutKMIP(t *testing.T) {
	sock := startFixed(t)
	cfg, data := certConfig(t)
	code, csr, stderr := run(t, "--socket", sock, "--config", cfg, "cert", "csr", "--source", "kms", "--cn", "proxy")
	want := "keyward: the daemon at " + sock + " serves no KMIP source yet: writing the identity files in " + filepath.Join(data, "kmip", "kms") + " directly\n"
	if code != 0 || !strings.Contains(csr, "BEGIN CERTIFICATE REQUEST") || !strings.HasPrefix(stderr, want) {
		t.Fatalf("csr: %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "kmip", "kms", "client.key.pending")); err != nil {
		t.Fatal(err)
	}
}

// TestCertImportTakesEffectInTheDaemon: a real daemon polls the embedded
// KMS (mutual TLS, poll interval one hour) with the identity installed in
// its data dir. keyward cert import of an identity the KMS rejects makes
// the source degraded within seconds; importing the good one back makes it
// ok again; no restart. keyward cert show and status say which identity
// is presented.
func TestCertImportTakesEffectInTheDaemon(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := kms.Start(ctx, kms.Options{Dir: filepath.Join(dir, "kms")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Stop() })
	dataDir, sock := filepath.Join(dir, "data"), filepath.Join(dir, "k.sock")
	path := filepath.Join(dir, "keyward.toml")
	toml := "data_dir = \"" + dataDir + "\"\nsocket = \"" + sock + "\"\n[[kmip]]\nname = \"kms\"\naddresses = [\"" + srv.Addr() + "\"]\n" +
		"ca_file = \"" + srv.CAFile + "\"\npoll_interval = \"1h\"\ntimeout = \"5s\"\n[[kmip.application]]\nname = \"crm\"\npattern = \"acme.crm.key.*\"\n"
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	certPEM, _ := os.ReadFile(srv.CertFile)
	keyPEM, _ := os.ReadFile(srv.KeyFile)
	leaf, _ := pkitest.Pair(t, certPEM, keyPEM)
	good := pkitest.PKCS12(t, certPEM, keyPEM, "s3cret")
	goodF, pw := filepath.Join(dir, "good.p12"), filepath.Join(dir, "pw")
	os.WriteFile(goodF, good, 0o600)
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	if _, err := pki.Import(pki.Paths(dataDir, "kms"), good, []byte("s3cret"), time.Now(), false); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, cfg, daemon.Options{})
	health := func(want engine.Health, within time.Duration) string {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			srcs, err := api.NewClient(sock).Sources(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if srcs[0].Health == want {
				return srcs[0].Reason
			}
			if time.Now().After(deadline) {
				t.Fatalf("health %s (%s), want %s within %s", srcs[0].Health, srcs[0].Reason, want, within)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	health(engine.HealthOK, 15*time.Second)
	cert := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, append([]string{"--socket", sock, "--config", path, "cert"}, args...)...)
	}
	other, _ := pki.NewCA("Untrusted Root")
	stranger := keystore(t, other, dir, "stranger", "s3cret")
	start := time.Now()
	if code, _, stderr := cert("import", "--source", "kms", stranger, "--password-file", pw, "--force"); code != 0 {
		t.Fatalf("import: %d %q", code, stderr)
	}
	if r := health(engine.HealthDegraded, 5*time.Second); !strings.Contains(r, "stranger") {
		t.Fatalf("degraded without naming the rejected identity: %s", r)
	}
	t.Logf("cert import of a rejected identity to degraded health: %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if code, _, stderr := cert("import", "--source", "kms", goodF, "--password-file", pw, "--force"); code != 0 {
		t.Fatalf("import back: %d %q", code, stderr)
	}
	health(engine.HealthOK, 5*time.Second)
	t.Logf("cert import of the good identity to ok health: %s", time.Since(start).Round(time.Millisecond))
	code, out, _ := cert("show", "--source", "kms")
	if code != 0 || !strings.Contains(out, "in use:    CN=keyward (serial "+pki.Serial(leaf)) || !strings.Contains(out, "installed by keyward cert in") {
		t.Fatalf("show: %d %q", code, out)
	}
	code, out, _ = run(t, "--socket", sock, "--config", path, "status")
	if code != 0 || !strings.Contains(out, "kms: client certificate CN=keyward (serial "+pki.Serial(leaf)) {
		t.Fatalf("status: %d %q", code, out)
	}
	// A new key for a CSR (--force): the live identity keeps working, and
	// status shows both it and the key that waits.
	if code, _, stderr := cert("csr", "--source", "kms", "--cn", "keyward-next", "--force"); code != 0 {
		t.Fatalf("csr --force: %d %q", code, stderr)
	}
	if code, _, stderr := run(t, "--socket", sock, "--config", path, "sync", "--source", "kms"); code != 0 {
		t.Fatalf("sync with a key pending: %d %q", code, stderr)
	}
	health(engine.HealthOK, time.Second)
	code, out, _ = run(t, "--socket", sock, "--config", path, "status")
	if code != 0 || !strings.Contains(out, "kms: client certificate CN=keyward (serial "+pki.Serial(leaf)) ||
		!strings.Contains(out, "kms: a new ECDSA P-256 key for CN=keyward-next") || !strings.Contains(out, "the certificate above stays in use") {
		t.Fatalf("status with a key pending: %d %q", code, out)
	}
}
