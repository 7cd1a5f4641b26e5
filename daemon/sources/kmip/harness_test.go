package kmip

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
)

// backend is a real KMIP server under test: the embedded one or PyKMIP.
type backend struct {
	name     string
	addr     string
	dir      string
	ca       *pki.CA
	caFile   string
	certFile string
	keyFile  string
	stop     func()
	resume   func()
	embedded *kms.Server
	// serverWildcards: whether this server matches wildcards in Locate.
	serverWildcards bool
	// adminOpts are extra options of the admin client (the cipher suite a
	// PyKMIP with an RSA certificate needs).
	adminOpts []kmipclient.Option

	mu    sync.Mutex
	admin *kmipclient.Client
}

const pykmipBin = "/usr/bin/pykmip-server"

// forEachBackend runs a scenario against the embedded KMS and against
// PyKMIP (skipped, with a message, where it is not installed).
func forEachBackend(t *testing.T, scenario func(t *testing.T, b *backend)) {
	t.Parallel() // each scenario has its own servers, ports, files
	for _, mk := range []struct {
		name string
		fn   func(testing.TB) *backend
	}{{"embedded", embeddedBackend}, {"pykmip", pykmipBackend}} {
		t.Run(mk.name, func(t *testing.T) { scenario(t, mk.fn(t)) })
	}
}

func embeddedBackend(t testing.TB) *backend { return startEmbedded(t, kms.Options{}) }

// startEmbedded starts the embedded KMS with opts, in a directory of its
// own, until the test ends.
func startEmbedded(t testing.TB, opts kms.Options) *backend {
	dir := t.TempDir()
	opts.Dir = dir
	ctx, cancel := context.WithCancel(context.Background())
	s, err := kms.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); s.Stop() })
	b := &backend{name: "embedded", addr: s.Addr(), dir: dir, ca: s.CA, caFile: s.CAFile, certFile: s.CertFile, keyFile: s.KeyFile,
		stop: s.Stop, embedded: s, serverWildcards: true}
	b.resume = func() {
		if err := s.Resume(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(b.closeAdmin)
	return b
}

// pykmipBackend starts Debian's pykmip-server with a fresh ECDSA CA, server
// certificate (serverAuth, SANs 127.0.0.1 and localhost) and client
// certificate (clientAuth), its own SQLite file, on a free 127.0.0.1 port.
func pykmipBackend(t testing.TB) *backend { return pykmipBackendOpts(t, false) }

// pykmipBackendOpts can give PyKMIP an RSA server certificate, with which it
// has no cipher suite to offer.
func pykmipBackendOpts(t testing.TB, rsaServer bool) *backend {
	if _, err := os.Stat(pykmipBin); err != nil {
		if os.Getenv("KEYWARD_REQUIRE_PYKMIP") != "" {
			t.Fatalf("PyKMIP is required here (KEYWARD_REQUIRE_PYKMIP is set) but %s is missing: apt-get install -y python3-pykmip", pykmipBin)
		}
		t.Skipf("PyKMIP is not installed (%s missing): apt-get install -y python3-pykmip to run this scenario against a real KMS", pykmipBin)
	}
	dir := t.TempDir()
	ca, err := pki.NewCA("pykmip test root")
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := ca.Issue(pki.IssueOptions{CommonName: "localhost", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true, RSA: rsaServer})
	if err != nil {
		t.Fatal(err)
	}
	cliCert, cliKey, err := ca.Issue(pki.IssueOptions{CommonName: "keyward", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string { return testkit.WriteFile(t, dir, name, data) }
	b := &backend{name: "pykmip", dir: dir, ca: ca, caFile: write("ca.pem", ca.PEM), certFile: write("client.pem", cliCert),
		keyFile: write("client.key", cliKey)}
	if rsaServer {
		b.adminOpts = append(b.adminOpts, kmipclient.WithTlsCipherSuites(tls.TLS_RSA_WITH_AES_128_CBC_SHA256))
	}
	if err := os.Mkdir(filepath.Join(dir, "policies"), 0o700); err != nil {
		t.Fatal(err)
	}
	srvFile, srvKeyFile := write("server.pem", srvCert), write("server.key", srvKey)
	var confFile string
	configure := func() {
		b.addr = testkit.FreeAddr(t)
		_, port, _ := net.SplitHostPort(b.addr)
		conf := fmt.Sprintf(`[server]
hostname=127.0.0.1
port=%s
certificate_path=%s
key_path=%s
ca_path=%s
auth_suite=TLS1.2
policy_path=%s
enable_tls_client_auth=True
logging_level=INFO
database_path=%s
`, port, srvFile, srvKeyFile, b.caFile, filepath.Join(dir, "policies"), filepath.Join(dir, "pykmip.db"))
		confFile = write("server.conf", []byte(conf))
	}
	// ours says whether the server on b.addr is this PyKMIP: its TLS
	// handshake shows the certificate of this test's CA and takes this
	// test's client certificate (a plain dial would take another test's
	// listener on the port for it).
	probe := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12}
	probe.RootCAs.AppendCertsFromPEM(ca.PEM)
	if pair, err := tls.X509KeyPair(cliCert, cliKey); err == nil {
		probe.Certificates = []tls.Certificate{pair}
	}
	if rsaServer {
		probe.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA256}
	}
	ours := func() bool {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", b.addr, probe)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	var cmd *exec.Cmd
	var exited chan struct{} // closed once cmd has been waited for
	// start runs pykmip-server and waits until it answers as itself. The
	// port was free when FreeAddr picked it, but Python takes seconds to
	// bind it, and meanwhile any other socket of the machine may take it:
	// then PyKMIP exits ("Address already in use") while another listener
	// may answer a dial. So an exit is watched for, and reported (false)
	// so the first start can try a new port.
	start := func() bool {
		cmd = exec.Command(pykmipBin, "-f", confFile, "-l", filepath.Join(dir, "server.log"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its multiprocessing helpers die with it
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatalf("start pykmip-server: %v", err)
		}
		exited = make(chan struct{})
		go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(cmd, exited)
		logFile := filepath.Join(dir, "server.log")
		var logFrom int64 // what earlier starts wrote
		if fi, err := os.Stat(logFile); err == nil {
			logFrom = fi.Size()
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			select {
			case <-exited:
				reapGroup(cmd.Process.Pid)
				cmd = nil
				return false
			default:
			}
			// PyKMIP logs a failed bind and lives on, serving nothing.
			if log, _ := os.ReadFile(logFile); int64(len(log)) > logFrom && bytes.Contains(log[logFrom:], []byte("Address already in use")) {
				b.stop()
				return false
			}
			if ours() {
				return true
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
				b.stop()
				t.Fatalf("pykmip-server did not listen on %s within 60s; its log:\n%s", b.addr, tail(log))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	b.resume = func() {
		if !start() {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("pykmip-server exited instead of listening again on %s; its log:\n%s", b.addr, tail(log))
		}
	}
	b.stop = func() {
		if cmd == nil || cmd.Process == nil {
			return
		}
		pid := cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL) // any helper left in its group
		reapGroup(pid)
		cmd = nil
		// wait until the port is free again
		for i := 0; i < 50; i++ {
			c, err := net.DialTimeout("tcp", b.addr, 100*time.Millisecond)
			if err != nil {
				break
			}
			c.Close()
			time.Sleep(100 * time.Millisecond)
		}
	}
	started := false
	for attempt := 0; attempt < 3 && !started; attempt++ {
		configure()
		started = start()
	}
	if !started {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		t.Fatalf("pykmip-server exited at each of 3 starts (last on %s); its log:\n%s", b.addr, tail(log))
	}
	t.Cleanup(func() { b.closeAdmin(); b.stop() })
	return b
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// adminClient connects as the KMS administrator (same identity as keyward,
// since PyKMIP's default policy lets only an object's owner see it).
func (b *backend) adminClient(t testing.TB) *kmipclient.Client {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.admin != nil {
		return b.admin
	}
	var c *kmipclient.Client
	var err error
	for i := 0; i < 20; i++ {
		c, err = kmipclient.Dial(b.addr, append([]kmipclient.Option{kmipclient.WithRootCAFile(b.caFile), kmipclient.WithClientCertFiles(b.certFile, b.keyFile)}, b.adminOpts...)...)
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("admin connect to %s: %v", b.name, err)
	}
	b.admin = c
	return c
}

func (b *backend) closeAdmin() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.admin != nil {
		_ = b.admin.Close()
		b.admin = nil
	}
}

// create makes an Active AES-256 key with the given name; returns its uid.
func (b *backend) create(t testing.TB, name string) string {
	t.Helper()
	c := b.adminClient(t)
	resp, err := c.Create().AES(256, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).WithName(name).Exec()
	if err != nil {
		t.Fatalf("create %s on %s: %v", name, b.name, err)
	}
	if _, err := c.Activate(resp.UniqueIdentifier).Exec(); err != nil {
		t.Fatalf("activate %s: %v", name, err)
	}
	return resp.UniqueIdentifier
}

// register stores known material under name and activates it.
func (b *backend) register(t testing.TB, name string, material []byte) string {
	t.Helper()
	c := b.adminClient(t)
	resp, err := c.Register().WithKeyFormat(kmipclient.RAW).SymmetricKey(kmip.CryptographicAlgorithmAES,
		kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt, bytes.Clone(material)).WithName(name).Exec()
	if err != nil {
		t.Fatalf("register %s on %s: %v", name, b.name, err)
	}
	if _, err := c.Activate(resp.UniqueIdentifier).Exec(); err != nil {
		t.Fatalf("activate %s: %v", name, err)
	}
	return resp.UniqueIdentifier
}

func (b *backend) revoke(t testing.TB, uid string, compromised bool) {
	t.Helper()
	code := kmip.RevocationReasonCodeCessationOfOperation
	if compromised {
		code = kmip.RevocationReasonCodeKeyCompromise
	}
	ex := b.adminClient(t).Revoke(uid).WithRevocationReasonCode(code)
	if compromised {
		ex = ex.WithCompromiseOccurrenceDate(time.Now())
	}
	if _, err := ex.Exec(); err != nil {
		t.Fatalf("revoke %s: %v", uid, err)
	}
}

func (b *backend) destroy(t testing.TB, uid string) {
	t.Helper()
	if _, err := b.adminClient(t).Destroy(uid).Exec(); err != nil {
		t.Fatalf("destroy %s: %v", uid, err)
	}
}

func randKey(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// storeSink is the daemon's sink in miniature, on a real SQLite file.
type storeSink struct {
	st *store.Store
}

func (s storeSink) Apply(ctx context.Context, b sources.Batch) error {
	_, err := s.st.Apply(ctx, store.Change{Source: b.Source, Upsert: b.Upsert, Remove: b.Remove, Events: b.Events})
	return err
}

func (s storeSink) Synced(ctx context.Context, source string) error {
	return s.st.MarkSynced(ctx, source)
}

func (s storeSink) SetHealth(ctx context.Context, source string, h engine.Health, reason string) error {
	_, _, err := s.st.SetHealth(ctx, source, h, reason, func(prev engine.Health) *engine.Event {
		return engine.HealthEvent(source, prev, h, reason)
	})
	return err
}

func (s storeSink) Recall(ctx context.Context, source string) ([]byte, error) {
	return s.st.SourceMemory(ctx, source)
}

func (s storeSink) Remember(ctx context.Context, source string, blob []byte) error {
	return s.st.SetSourceMemory(ctx, source, blob)
}

func (s storeSink) Known(ctx context.Context, source string) ([]engine.Key, error) {
	return s.st.SourceKeys(ctx, source)
}

// sourceConfig points a [[kmip]] source at b with the given applications.
func sourceConfig(b *backend, apps ...config.Application) config.KMIPSource {
	c := config.KMIPSource{Name: "kms", Addresses: []string{b.addr}, CAFile: b.caFile, CertFile: b.certFile, KeyFile: b.keyFile,
		Timeout: engine.Duration(benchTimeout()), Applications: apps}
	for i := range c.Applications {
		if c.Applications[i].Generations == 0 {
			c.Applications[i].Generations = 16
		}
	}
	return c
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startKMS(ctx context.Context, dir string, loose bool) (*kms.Server, error) {
	return kms.Start(ctx, kms.Options{Dir: dir, LooseLocate: loose})
}

// reapGroup collects the exit status of every process left in group pgid
// (this test binary is their subreaper), so none lingers as a zombie.
func reapGroup(pgid int) {
	for i := 0; i < 100; i++ {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-pgid, &ws, syscall.WNOHANG, nil)
		if err != nil { // ECHILD: nothing left
			return
		}
		if pid == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// benchTimeout is the per-request timeout of test sources: 10 s, or
// KEYWARD_BENCH_KMIP_TIMEOUT for a slow KMS (PyKMIP checks every stored
// object for each Locate: several seconds at 10,000 keys).
func benchTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("KEYWARD_BENCH_KMIP_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Second
}
