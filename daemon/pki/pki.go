// Package pki manages the client identity keyward presents to a KMS over
// mutual TLS: generating a key and CSR, installing the signed certificate,
// importing JKS or PKCS#12 keystores, loading the identity for the TLS
// client, and a small ECDSA CA for the demo KMS and tests.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Files are where a source's client identity lives in the data dir.
type Files struct {
	Dir  string
	Key  string // private key, PEM (PKCS#8), mode 0600
	CSR  string // certificate signing request, PEM
	Cert string // signed certificate (and chain), PEM
	CA   string // root the certificate was checked against, PEM
}

// Paths returns the identity files of source under dataDir/kmip/<source>.
func Paths(dataDir, source string) Files {
	dir := filepath.Join(dataDir, "kmip", source)
	return Files{Dir: dir, Key: filepath.Join(dir, "client.key"), CSR: filepath.Join(dir, "client.csr"),
		Cert: filepath.Join(dir, "client.crt"), CA: filepath.Join(dir, "client-ca.pem")}
}

// CSROptions describe the subject and key of a new client identity.
type CSROptions struct {
	CommonName   string
	Organization string
	// RSA selects a 3072-bit RSA key instead of ECDSA P-256. Note that some
	// KMS servers (PyKMIP) only offer ECDHE-ECDSA cipher suites.
	RSA bool
}

// GenerateCSR creates a private key (mode 0600) and a CSR in f.Dir and
// returns the CSR in PEM, ready to take to the certificate authority.
func GenerateCSR(f Files, o CSROptions) ([]byte, error) {
	cn := strings.TrimSpace(o.CommonName)
	if cn == "" {
		return nil, errors.New("csr: a common name (--cn) is required, e.g. the proxy host name")
	}
	key, err := newKey(o.RSA)
	if err != nil {
		return nil, err
	}
	subj := pkix.Name{CommonName: cn}
	if o.Organization != "" {
		subj.Organization = []string{o.Organization}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subj}, key)
	if err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	defer clear(keyPEM)
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	if err := writeFile(f.Key, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(f.CSR, csrPEM, 0o644); err != nil {
		return nil, err
	}
	return csrPEM, nil
}

func newKey(useRSA bool) (crypto.Signer, error) {
	if useRSA {
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func marshalKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	defer clear(der)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeFile writes atomically (temp file + rename) with the given mode.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Install checks a signed certificate against the key made by GenerateCSR
// and against the given root, then stores it. It says which check failed:
// the certificate is not for the CSR's key, does not chain to the root, has
// expired or is not yet valid, or lacks the clientAuth extended key usage.
func Install(f Files, certPEM, rootPEM []byte, now time.Time) (*x509.Certificate, error) {
	keyPEM, err := os.ReadFile(f.Key)
	if err != nil {
		return nil, fmt.Errorf("install: no private key from a CSR for this source (%w); run keyward cert csr first", err)
	}
	defer clear(keyPEM)
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("install: %s: %w", f.Key, err)
	}
	chain, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("install: certificate: %w", err)
	}
	roots, err := parseCertsPEM(rootPEM)
	if err != nil {
		return nil, fmt.Errorf("install: root CA: %w", err)
	}
	leaf := chain[0]
	if !samePublicKey(leaf.PublicKey, key.Public()) {
		return nil, fmt.Errorf("install: the certificate (subject %q) was not issued for the key of this source's CSR; sign the CSR from %s", leaf.Subject.CommonName, f.CSR)
	}
	if err := VerifyClientChain(chain, roots, now); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if err := writeFile(f.Cert, certPEM, 0o644); err != nil {
		return nil, err
	}
	if err := writeFile(f.CA, rootPEM, 0o644); err != nil {
		return nil, err
	}
	return leaf, nil
}

// Leaf parses the first certificate of a PEM bundle (the one Install
// checks), for messages.
func Leaf(certPEM []byte) (*x509.Certificate, error) {
	chain, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, err
	}
	return chain[0], nil
}

// IgnoredWarning says, in one line, that the identity installed in the data
// dir for a [[kmip]] source is not the one the daemon presents, because the
// section names its own cert_file/key_file or keystore_file; "" when it
// names neither.
func IgnoredWarning(source, certFile, keystoreFile string) string {
	var own string
	switch {
	case keystoreFile != "":
		own = "keystore_file = " + keystoreFile
	case certFile != "":
		own = "cert_file = " + certFile
	default:
		return ""
	}
	return fmt.Sprintf("[[kmip]] %q sets %s: the daemon presents that identity, not the one installed here (remove it from the section to use this one)", source, own)
}

// VerifyClientChain checks that chain[0] is valid at now, chains to one of
// roots through the rest of chain, and may be used for TLS client
// authentication, with a message naming the failed check.
func VerifyClientChain(chain, roots []*x509.Certificate, now time.Time) error {
	leaf := chain[0]
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("the certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("the certificate expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		rp.AddCert(r)
	}
	for _, c := range chain[1:] {
		ip.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: rp, Intermediates: ip, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("the certificate (issuer %q) does not chain to the given root CA: %w", leaf.Issuer.CommonName, err)
	}
	if !HasClientAuth(leaf) {
		return errors.New("the certificate lacks the clientAuth extended key usage; ask the CA to issue it for TLS client authentication")
	}
	return nil
}

// HasClientAuth reports whether a certificate may authenticate a TLS client.
func HasClientAuth(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true // no EKU extension: any use (RFC 5280)
	}
	return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(eq)
	return ok && ea.Equal(b)
}

func parseCertsPEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bad certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return out, nil
}

func parseKeyPEM(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM private key found")
		}
		var k any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted; keyward needs it unencrypted (mode 0600) or in a keystore with a password file")
		default:
			continue
		}
		clear(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bad private key: %w", err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
		return s, nil
	}
}

// KeyType names a public key's algorithm and size for reports.
func KeyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// LoadIdentity loads the client certificate keyward presents to a KMS: a PEM
// certificate and key, or a JKS / PKCS#12 keystore opened with the password
// in passwordFile.
func LoadIdentity(certFile, keyFile, keystoreFile, passwordFile string) (tls.Certificate, error) {
	if keystoreFile != "" {
		data, err := os.ReadFile(keystoreFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("client keystore: %w", err)
		}
		pw, err := ReadPassword(passwordFile)
		if err != nil {
			return tls.Certificate{}, err
		}
		defer clear(pw)
		_, cert, err := ParseKeystore(data, pw)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("client keystore %s: %w", keystoreFile, err)
		}
		return cert, nil
	}
	if certFile == "" || keyFile == "" {
		return tls.Certificate{}, errors.New("no client identity: set cert_file and key_file, or keystore_file and password_file, or run keyward cert csr / import")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client key: %w", err)
	}
	defer clear(keyPEM)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// ReadPassword reads a keystore password from a file (trailing newline
// removed).
func ReadPassword(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("the keystore needs a password: set password_file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystore password: %w", err)
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

// CA is a small certificate authority issuing ECDSA certificates, used by the
// demo KMS and by tests that need a real mutual-TLS setup.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	PEM  []byte
}

// NewCA creates a self-signed ECDSA P-256 root valid for ten years.
func NewCA(cn string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	c, _ := x509.ParseCertificate(der)
	return &CA{Cert: c, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// IssueOptions describe a certificate the CA issues.
type IssueOptions struct {
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	// Server and Client set the serverAuth / clientAuth extended key usages.
	Server, Client bool
	// NotBefore/NotAfter default to an hour ago / a year from now.
	NotBefore, NotAfter time.Time
	RSA                 bool
	// PublicKey signs a key made elsewhere (a CSR); no private key returned.
	PublicKey crypto.PublicKey
}

// Issue signs a new certificate and returns it and its private key in PEM.
func (ca *CA) Issue(o IssueOptions) (certPEM, keyPEM []byte, err error) {
	var pub crypto.PublicKey
	if o.PublicKey != nil {
		pub = o.PublicKey
	} else {
		key, err := newKey(o.RSA)
		if err != nil {
			return nil, nil, err
		}
		pub = key.Public()
		if keyPEM, err = marshalKey(key); err != nil {
			return nil, nil, err
		}
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().AddDate(1, 0, 0)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: o.CommonName},
		NotBefore: o.NotBefore, NotAfter: o.NotAfter, DNSNames: o.DNSNames, IPAddresses: o.IPs,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, BasicConstraintsValid: true,
	}
	if o.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if o.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	if !o.Server && !o.Client {
		// an EKU that is neither, so the absence of clientAuth is testable
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// SignCSR issues a client certificate for a PEM CSR (what an enterprise CA
// does with the output of GenerateCSR); used by the demo and tests.
func (ca *CA) SignCSR(csrPEM []byte, client bool) ([]byte, error) {
	blk, _ := pem.Decode(csrPEM)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("csr signature: %w", err)
	}
	cert, _, err := ca.Issue(IssueOptions{CommonName: csr.Subject.CommonName, Client: client, PublicKey: csr.PublicKey})
	return cert, err
}

func mkdir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}
