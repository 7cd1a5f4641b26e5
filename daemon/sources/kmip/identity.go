package kmip

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync"
	"time"

	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/engine"
)

// identity is the client certificate the source presents. Every TLS
// handshake asks it for the certificate (tls.Config.GetClientCertificate),
// so a new identity reaches every new connection at once, kmip-go's own
// reconnects included; the connection made with the old one is closed when
// it changes (IdentityChanged, or a change of the files seen at a poll).
type identity struct {
	spec pki.Spec

	mu    sync.Mutex
	cert  *tls.Certificate // nil until the files first load
	stamp string           // the files' pki.Spec.Stamp at the last load
	since time.Time
	gen   uint64 // bumped whenever cert changes
	err   error  // why the files did not load at the last try
	// presented is the leaf of the latest handshake that sent one.
	presented *x509.Certificate
}

// refresh reloads the identity when its files changed since the last try,
// or always with force. It reports whether the identity in use changed, and
// why the files could not be loaded (the previous identity then stays).
func (id *identity) refresh(force bool, now time.Time) (changed bool, err error) {
	stamp := id.spec.Stamp()
	id.mu.Lock()
	defer id.mu.Unlock()
	if !force && stamp == id.stamp && (id.cert != nil || id.err != nil) {
		return false, nil
	}
	id.stamp = stamp
	cert, err := id.spec.Load()
	if err != nil {
		id.err = err
		return false, err
	}
	id.err = nil
	if id.cert != nil && bytes.Equal(id.cert.Certificate[0], cert.Certificate[0]) {
		return false, nil
	}
	id.cert, id.since = &cert, now
	id.gen++
	return true, nil
}

// generation counts the changes of the identity in use.
func (id *identity) generation() uint64 {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.gen
}

// leaf is the certificate in use, or nil.
func (id *identity) leaf() *x509.Certificate {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.cert == nil {
		return nil
	}
	return id.cert.Leaf
}

// usable is nil when an identity is loaded, else why there is none.
func (id *identity) usable() error {
	id.mu.Lock()
	defer id.mu.Unlock()
	switch {
	case id.cert != nil:
		return nil
	case id.err != nil:
		return id.err
	}
	return errors.New("no client identity loaded")
}

// clientCertificate is the tls.Config.GetClientCertificate of every
// connection the source makes: the identity in use at the handshake.
func (id *identity) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.cert == nil {
		return &tls.Certificate{}, nil // none: the KMS says what it thinks of that
	}
	id.presented = id.cert.Leaf
	return id.cert, nil
}

// lastPresented is the leaf sent in the latest handshake that asked for one.
func (id *identity) lastPresented() *x509.Certificate {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.presented
}

// describe is the identity in use, in words.
func (id *identity) describe() *engine.ClientIdentity {
	id.mu.Lock()
	defer id.mu.Unlock()
	var leaf *x509.Certificate
	if id.cert != nil {
		leaf = id.cert.Leaf
	}
	return id.spec.Describe(leaf, id.since, id.err)
}
