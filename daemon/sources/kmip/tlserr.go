package kmip

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/daemon/pki"
)

// explain turns a connection, TLS or KMIP error into words a key
// administrator can act on. leaf is keyward's own client certificate, used
// to say why the KMS rejected it.
func explain(err error, leaf *x509.Certificate, serverName, addr string) string {
	if err == nil {
		return ""
	}
	now := time.Now()
	var (
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostErr   x509.HostnameError
		kerr      *kmipError
	)
	switch {
	case errors.As(err, &hostErr):
		names := hostErr.Certificate.DNSNames
		for _, ip := range hostErr.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
		return fmt.Sprintf("hostname mismatch: the KMS certificate is for %s, not %q; set server_name to one of those names or fix the address",
			strings.Join(names, ", "), hostErr.Host)
	case errors.As(err, &unknownCA):
		issuer := ""
		if unknownCA.Cert != nil {
			issuer = unknownCA.Cert.Issuer.String()
		}
		return fmt.Sprintf("unknown CA: the KMS certificate is signed by %q, which ca_file does not hold; put the KMS's root CA in ca_file", issuer)
	case errors.As(err, &invalid):
		c := invalid.Cert
		switch invalid.Reason {
		case x509.Expired:
			if c != nil && now.Before(c.NotBefore) {
				return fmt.Sprintf("the KMS certificate is not valid yet (valid from %s); check the clocks of the KMS and of this host", c.NotBefore.UTC().Format(time.RFC3339))
			}
			if c != nil {
				return fmt.Sprintf("the KMS certificate expired on %s; the KMS administrator must renew it", c.NotAfter.UTC().Format(time.RFC3339))
			}
			return "the KMS certificate has expired or is not valid yet"
		case x509.IncompatibleUsage:
			return "the KMS certificate is not for TLS servers (it lacks the serverAuth extended key usage)"
		}
		return "the KMS certificate is invalid: " + invalid.Error()
	case errors.As(err, &kerr):
		if kerr.reason == kmip.ResultReasonAuthenticationNotSuccessful {
			return clientRejected(leaf, now, "the KMS refused the client certificate at the KMIP level (Authentication Not Successful)")
		}
		return kerr.Error()
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "AuthenticationNotSuccessful"):
		return clientRejected(leaf, now, "the KMS refused the client certificate at the KMIP level (Authentication Not Successful)")
	case strings.Contains(msg, "remote error: tls: handshake failure"):
		// The generic alert: no cipher in common, or (from some servers)
		// a client certificate refused. Say which when this side can see
		// something wrong with its own certificate.
		if certProblem(leaf, now) != "" {
			return clientRejected(leaf, now, "the KMS ended the TLS handshake (handshake failure)")
		}
		return "the KMS ended the TLS handshake (handshake failure): most often " + noCommonCipher +
			"; some servers also answer so when they do not accept the client certificate"
	case strings.Contains(msg, "no cipher suite supported"), strings.Contains(msg, "remote error: tls: insufficient security"):
		return noCommonCipher
	case strings.Contains(msg, "remote error: tls: protocol version not supported"):
		return "no TLS version in common: keyward speaks TLS 1.2 and 1.3; the KMS must allow one of them"
	case strings.Contains(msg, "remote error: tls: expired certificate"):
		return clientRejected(leaf, now, "the KMS rejected the client certificate as expired")
	case strings.Contains(msg, "remote error: tls: unknown certificate authority"),
		strings.Contains(msg, "remote error: tls: bad certificate"),
		strings.Contains(msg, "remote error: tls: unsupported certificate"),
		strings.Contains(msg, "remote error: tls: certificate required"),
		strings.Contains(msg, "remote error: tls: certificate unknown"),
		strings.Contains(msg, "remote error: tls: access denied"):
		return clientRejected(leaf, now, "client certificate rejected by the KMS ("+strings.TrimPrefix(msg[strings.Index(msg, "remote error: "):], "remote error: ")+")")
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "the server at " + addr + " does not speak TLS; is this the KMIP port (usually 5696)?"
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var slow *slowError
	switch {
	case errors.As(err, &slow):
		return fmt.Sprintf("the KMS did not answer %s within %s (timeout): it is overloaded or stuck, or a firewall drops the traffic; if it is only slow, raise timeout",
			slow.op, slow.after)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the host name %q does not resolve: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens at " + addr + "; is the KMS running, and is the port right?"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer in time (timeout): the KMS is down, overloaded, or a firewall drops the traffic"
	case errors.Is(err, syscall.ECONNRESET), strings.Contains(msg, "EOF"), strings.Contains(msg, "broken pipe"):
		return "the KMS closed the connection (" + msg + "); it may have rejected the client certificate or be restarting"
	case errors.As(err, &opErr):
		return "network error: " + opErr.Error()
	}
	return msg
}

const noCommonCipher = "no cipher suite in common: the KMS and keyward could not agree on a TLS version and cipher suite"

// clientRejected adds what is wrong with keyward's own certificate, if
// anything can be seen from here.
func clientRejected(leaf *x509.Certificate, now time.Time, what string) string {
	if leaf == nil {
		return what
	}
	if p := certProblem(leaf, now); p != "" {
		return what + ": " + p
	}
	return fmt.Sprintf("%s: the KMS does not accept the client certificate %q issued by %q; the KMS must trust that issuer and know this client",
		what, leaf.Subject.CommonName, leaf.Issuer.CommonName)
}

// certProblem is what is visibly wrong with keyward's client certificate
// (expired, not valid yet, not for TLS clients), or "".
func certProblem(leaf *x509.Certificate, now time.Time) string {
	switch {
	case leaf == nil:
		return ""
	case now.After(leaf.NotAfter):
		return fmt.Sprintf("the client certificate expired on %s; install a renewed one (keyward cert csr / install)", leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Sprintf("the client certificate is not valid before %s; check this host's clock", leaf.NotBefore.UTC().Format(time.RFC3339))
	case !pki.HasClientAuth(leaf):
		return "the client certificate lacks the clientAuth extended key usage; ask the CA to issue it for TLS client authentication"
	}
	return ""
}

// negotiationFailed reports whether err is keyward and the KMS failing to
// agree on a TLS version or cipher suite, or the generic handshake-failure
// alert, which some servers also send for a client certificate they refuse.
func negotiationFailed(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, s := range []string{"remote error: tls: handshake failure", "no cipher suite supported", "remote error: tls: insufficient security",
		"remote error: tls: protocol version not supported", "server selected unsupported protocol version", "no supported versions satisfy"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// offer is what keyward proposes in its TLS ClientHello.
type offer struct {
	min    uint16   // tls_min_version
	suites []uint16 // cipher_suites; nil: Go's defaults
}

func (o offer) String() string {
	v := "TLS 1.2 and 1.3"
	if o.min == tls.VersionTLS13 {
		v = "TLS 1.3 only (tls_min_version = 1.3)"
	}
	if o.min == tls.VersionTLS13 {
		return v
	}
	if len(o.suites) == 0 {
		return v + ", with Go's default TLS 1.2 suites (ECDHE key exchange with AES-GCM, ChaCha20-Poly1305 or AES-CBC-SHA)"
	}
	names := make([]string, len(o.suites))
	for i, id := range o.suites {
		names[i] = tls.CipherSuiteName(id)
	}
	return v + ", with the TLS 1.2 suites of cipher_suites: " + strings.Join(names, ", ")
}

// accepts reports whether keyward's offer includes version v and suite c.
func (o offer) accepts(v, c uint16) bool {
	if v < o.min || v < tls.VersionTLS12 {
		return false
	}
	if v == tls.VersionTLS13 {
		return true // the three TLS 1.3 suites are always offered
	}
	if len(o.suites) > 0 {
		return slices.Contains(o.suites, c)
	}
	for _, cs := range tls.CipherSuites() {
		if cs.ID == c {
			return true
		}
	}
	return false
}

// serverTLS is what a probe handshake learned of a KMS: the version and
// suite it chose when offered everything keyward knows, and its
// certificate. err is set when it chose nothing.
type serverTLS struct {
	version, suite uint16
	certKey        string // "RSA 2048"
	subject        string
	err            error
}

var errProbed = errors.New("probe done")

// probeServer offers the KMS at addr every TLS version (1.0 to 1.3) and
// cipher suite Go knows, and stops the handshake as soon as the KMS has
// chosen and shown its certificate: nothing is sent, no key is agreed.
// What it learns explains a failed negotiation.
func probeServer(ctx context.Context, addr, serverName string, timeout time.Duration) serverTLS {
	var got serverTLS
	var all []uint16
	for _, c := range tls.CipherSuites() {
		all = append(all, c.ID)
	}
	for _, c := range tls.InsecureCipherSuites() {
		all = append(all, c.ID)
	}
	if serverName == "" {
		serverName, _, _ = net.SplitHostPort(addr)
	}
	cfg := &tls.Config{
		ServerName: serverName, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS13, CipherSuites: all,
		// The probe only reads what the server chose and stops before
		// anything is sent or agreed: no trust is placed in the answer.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			got.version, got.suite = cs.Version, cs.CipherSuite
			if len(cs.PeerCertificates) > 0 {
				c := cs.PeerCertificates[0]
				got.certKey, got.subject = pki.KeyType(c.PublicKey), c.Subject.String()
			}
			return errProbed
		},
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&tls.Dialer{Config: cfg}).DialContext(pctx, "tcp", addr)
	if conn != nil {
		conn.Close()
	}
	if got.version == 0 {
		if err == nil {
			err = errors.New("no certificate shown")
		}
		got.err = err
	}
	return got
}

// negotiationAdvice explains a failed negotiation (see negotiationFailed)
// with what keyward offered, what the probe learned of the KMS, and what to
// change; leaf is keyward's client certificate, for a handshake failure
// that turns out not to be about versions or suites.
func negotiationAdvice(err error, o offer, srv serverTLS, leaf *x509.Certificate) string {
	alert := err.Error()
	if i := strings.Index(alert, "tls: "); i >= 0 {
		alert = alert[i+len("tls: "):]
	}
	offered := "keyward offered " + o.String()
	if srv.err != nil {
		return fmt.Sprintf("the TLS handshake failed (%s): %s; offered every version (TLS 1.0 to 1.3) and suite keyward knows, the KMS still chose none (%v): "+
			"it needs a TLS configuration keyward can speak (TLS 1.2 or 1.3; ECDHE with AES-GCM best, TLS_RSA_WITH_AES_128_CBC_SHA256 at the least)", alert, offered, srv.err)
	}
	what := fmt.Sprintf("offered everything keyward knows, the KMS (certificate %s, %s) chose %s with %s", srv.certKey, srv.subject,
		tls.VersionName(srv.version), tls.CipherSuiteName(srv.suite))
	switch {
	case srv.version < tls.VersionTLS12:
		return fmt.Sprintf("no TLS version in common (%s): %s; %s, which keyward never offers: the KMS must be upgraded to TLS 1.2 or 1.3", alert, offered, what)
	case srv.version < o.min:
		return fmt.Sprintf("no TLS version in common (%s): %s; %s: set tls_min_version = \"1.2\" for this source", alert, offered, what)
	case !o.accepts(srv.version, srv.suite):
		fix := fmt.Sprintf("add %q to cipher_suites", tls.CipherSuiteName(srv.suite))
		if len(o.suites) == 0 {
			fix = fmt.Sprintf("set cipher_suites = [%q]", tls.CipherSuiteName(srv.suite))
		}
		if weak := insecureSuite(srv.suite); weak {
			fix += " (weaker: status will warn) or, better, have the KMS offer ECDHE with AES-GCM"
		}
		return fmt.Sprintf("no cipher suite in common (%s): %s; %s: %s", alert, offered, what, fix)
	}
	return clientRejected(leaf, time.Now(), fmt.Sprintf("the KMS ended the TLS handshake (%s) although it accepts what keyward offers (it chose %s with %s), so it refused the client certificate",
		alert, tls.VersionName(srv.version), tls.CipherSuiteName(srv.suite)))
}

func insecureSuite(id uint16) bool {
	for _, c := range tls.InsecureCipherSuites() {
		if c.ID == id {
			return true
		}
	}
	return false
}
