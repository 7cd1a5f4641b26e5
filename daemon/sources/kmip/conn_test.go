package kmip

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// TestIdleConnectionsLeavePyKMIPLogClean: PyKMIP times a connection out
// after 10 idle seconds and logs a traceback for it, again every 10 s. With
// the defaults keyward closes its connection after a poll, so the KMS's log
// stays clean; with keep_alive the traceback appears (which shows the log
// is read right).
func TestIdleConnectionsLeavePyKMIPLogClean(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "defaults", true: "keep_alive"}[keep], func(t *testing.T) {
			t.Parallel()
			b := pykmipBackend(t)
			b.create(t, "acme.crm.key.1")
			b.closeAdmin() // the admin connection would idle too
			e := newEnv(t, b, "", nil, crmApp)
			e.cfg.KeepAlive = keep
			e.rebuild()
			e.mustPoll()
			const timeout = "Failure handling message loop"
			var log []byte
			read := func() bool {
				var err error
				if log, err = os.ReadFile(filepath.Join(b.dir, "server.log")); err != nil {
					t.Fatal(err)
				}
				return strings.Contains(string(log), timeout)
			}
			if keep {
				// PyKMIP's 10 s timer, then its traceback: later than 12 s
				// on a loaded machine, so wait for it rather than a fixed time.
				testkit.Eventually(t, 60*time.Second, "PyKMIP's idle-timeout traceback", read, func() string { return tail(log) })
			} else {
				time.Sleep(12 * time.Second) // past PyKMIP's 10 s idle timeout
			}
			if got := read(); got != keep {
				t.Fatalf("keep_alive=%v: PyKMIP's log has %q: %v, want %v; the log:\n%s", keep, timeout, got, keep, tail(log))
			}
			if keep {
				return
			}
			// The next poll reconnects by itself.
			if st := e.mustPoll(); st.Matched != 1 {
				t.Fatalf("poll after the idle close: %+v", st)
			}
		})
	}
}

// forwarder is a TCP address in front of a KMS that can be switched off:
// while down it closes every connection at once, as a dead KMS behind a
// load balancer does.
type forwarder struct {
	addr string
	up   atomic.Bool

	mu   sync.Mutex
	live []net.Conn
}

// cut closes the client side of every connection open through f now: the
// client sees its connection drop mid-request. The KMS side is closed a
// moment later, once the KMS wrote its answer into the void: kmip-go
// v0.8.1's server races (send on the channel its reader closes) when its
// peer is gone before a handler answers, which -race reports and which
// can panic the embedded KMS.

func (f *forwarder) cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.live {
		c.Close()
	}
	f.live = nil
}

func newForwarder(t *testing.T, to string) *forwarder {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{addr: l.Addr().String()}
	testkit.Accept(t, l, func(c net.Conn) {
		if !f.up.Load() {
			c.Close()
			return
		}
		f.mu.Lock()
		f.live = append(f.live, c)
		f.mu.Unlock()
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", to)
			if err != nil {
				return
			}
			defer u.Close()
			go func() {
				_, _ = io.Copy(u, c)
				time.Sleep(300 * time.Millisecond) // see cut
				u.Close()
			}()
			_, _ = io.Copy(c, u)
		}()
	})
	return f
}

// crm3 is the embedded KMS's crm application at its third generation.
var crm3 = []kms.App{{Name: "crm", Prefix: "acme.crm.key.", Generations: 3}}

// forwarded is an environment whose source reaches b only through a
// forwarder the test can cut (up to begin with).
func forwarded(t *testing.T, b *backend) (*forwarder, *env) {
	f := newForwarder(t, b.addr)
	f.up.Store(true)
	e := newEnv(t, b, "", nil, crmApp)
	e.cfg.Addresses = []string{f.addr}
	e.rebuild()
	return f, e
}

// TestFailoverIsReported: the first address fails and the second answers:
// the poll works, and its statistics, the health reason and the summary say
// which address failed and why, and which answered. When the first answers
// again (after the idle close, the next poll tries it first) the source is
// healthy again.
func TestFailoverIsReported(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		first := newForwarder(t, b.addr)
		e := newEnv(t, b, "", nil, crmApp)
		e.cfg.Addresses = []string{first.addr, b.addr}
		e.cfg.IdleClose = engine.Duration(50 * time.Millisecond)
		e.rebuild()
		health := func() engine.Source {
			srcs, _ := e.st.Sources(context.Background())
			return srcs[0]
		}
		st := e.mustPoll()
		if st.Address != b.addr || len(st.FailedAddresses) != 1 || !strings.HasPrefix(st.FailedAddresses[0], first.addr+": ") || st.Matched != 1 {
			t.Fatalf("poll through the second address: %+v", st)
		}
		h := health()
		if h.Health != engine.HealthDegraded || !strings.Contains(h.Reason, first.addr) || !strings.Contains(h.Reason, b.addr+" answered") {
			t.Fatalf("health with the first address dead: %+v", h)
		}
		if wire := api.KMIPPoll(st); !strings.Contains(wire.Summary(), "failed first: "+first.addr) {
			t.Errorf("summary hides the failover: %s", wire.Summary())
		}
		first.up.Store(true)
		// After the idle close the next poll dials the first address again.
		// On a loaded machine the close (50 ms) may not have run yet, so
		// poll until the first address answers, within a bound.
		deadline := time.Now().Add(10 * time.Second)
		for {
			time.Sleep(200 * time.Millisecond) // the idle close
			st = e.mustPoll()
			if st.Address == first.addr && len(st.FailedAddresses) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("poll with the first address back: %+v", st)
			}
		}
		if h := health(); h.Health != engine.HealthOK {
			t.Fatalf("health with the first address back: %+v", h)
		}
	})
}

// TestSlowCertificateRejectionIsTheDialsError: under TLS 1.3 a KMS rejects
// the client certificate after the handshake, as late as it takes to check
// it (a revocation lookup, say). The dial waits for the KMS's answer to a
// first request instead of a fixed time, so a rejection after 300 ms is
// still the dial's error, with the alert, and never left to kmip-go's reader.
func TestSlowCertificateRejectionIsTheDialsError(t *testing.T) {
	t.Parallel()
	ca, err := pki.NewCA("slow kms root")
	if err != nil {
		t.Fatal(err)
	}
	srvPEM, srvKey, err := ca.Issue(pki.IssueOptions{CommonName: "localhost", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	cliPEM, cliKey, err := ca.Issue(pki.IssueOptions{CommonName: "keyward", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := tls.X509KeyPair(srvPEM, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	cliCert, err := tls.X509KeyPair(cliPEM, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{srvCert},
		ClientAuth: tls.RequireAnyClientCert,
		VerifyPeerCertificate: func([][]byte, [][]*x509.Certificate) error {
			time.Sleep(300 * time.Millisecond)
			return errors.New("revoked")
		}})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Accept(t, l, func(c net.Conn) {
		go func() {
			defer c.Close()
			_ = c.(*tls.Conn).Handshake()
			_, _ = io.Copy(io.Discard, c)
		}()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dial := tlsDialer(l.Addr().String(), &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cliCert}})
	conn, err := dial(ctx)
	if err == nil {
		conn.Close()
		t.Fatal("the dial succeeded although the KMS rejected the client certificate")
	}
	if !strings.Contains(err.Error(), "bad certificate") {
		t.Fatalf("the dial's error does not carry the KMS's alert: %v", err)
	}
}
