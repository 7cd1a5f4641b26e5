package kmip

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
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
	switch {
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

const noCommonCipher = "no cipher suite in common: the KMS and keyward could not agree on a TLS 1.2+ cipher; " +
	"servers such as PyKMIP only offer ECDHE-ECDSA-AES-GCM, which needs an ECDSA (not RSA) server certificate"

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
