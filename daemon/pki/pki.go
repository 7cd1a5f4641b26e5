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
	"encoding/asn1"
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
	"unicode"
	"unicode/utf8"
)

// Files are where a source's client identity lives in the data dir.
type Files struct {
	Dir string
	Key string // the live private key, PEM (PKCS#8), mode 0600
	// PendingKey is the key of the latest CSR, mode 0600: it waits there,
	// leaving the live key and certificate in use, until the certificate
	// signed for it is installed.
	PendingKey string
	CSR        string // certificate signing request, PEM
	Cert       string // signed certificate (and chain), PEM
	CA         string // root the certificate was checked against, PEM
}

// Paths returns the identity files of source under dataDir/kmip/<source>.
func Paths(dataDir, source string) Files {
	dir := filepath.Join(dataDir, "kmip", source)
	return Files{Dir: dir, Key: filepath.Join(dir, "client.key"), PendingKey: filepath.Join(dir, "client.key.pending"),
		CSR: filepath.Join(dir, "client.csr"), Cert: filepath.Join(dir, "client.crt"), CA: filepath.Join(dir, "client-ca.pem")}
}

// CSROptions describe the subject and key of a new client identity.
type CSROptions struct {
	CommonName   string
	Organization string
	// RSA selects a 3072-bit RSA key instead of ECDSA P-256, for a CA or
	// KMS that accepts only RSA client certificates. (The client key does
	// not choose the cipher suite: the KMS's own certificate does.)
	RSA bool
}

// maxSubjectField is RFC 5280's upper bound of a common name and of an
// organization name (ub-common-name, ub-organization-name), in characters:
// OpenSSL will not write a longer one and CAs refuse it.
const maxSubjectField = 64

// checkSubjectField refuses a subject field a CA would refuse, or one that
// would forge lines wherever the subject is shown (a newline, an escape).
func checkSubjectField(what, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("csr: the %s is not UTF-8 text", what)
	}
	if n := utf8.RuneCountInString(v); n > maxSubjectField {
		return fmt.Errorf("csr: the %s is %d characters; a certificate's is at most %d (RFC 5280), and CAs refuse longer ones", what, n, maxSubjectField)
	}
	for i, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("csr: the %s holds a control character (%U at byte %d); use plain text", what, r, i)
		}
	}
	return nil
}

// GenerateCSR creates a private key (mode 0600) and a CSR in f.Dir and
// returns the CSR in PEM, ready to take to the certificate authority. The
// key is pending (f.PendingKey): the live key and certificate stay in use
// until Install is given the certificate signed for it. A previous pending
// key is replaced.
func GenerateCSR(f Files, o CSROptions) ([]byte, error) {
	cn := strings.TrimSpace(o.CommonName)
	if cn == "" {
		return nil, errors.New("csr: a common name (--cn) is required, e.g. the proxy host name")
	}
	if err := checkSubjectField("common name (--cn)", cn); err != nil {
		return nil, err
	}
	if err := checkSubjectField("organization (--o)", o.Organization); err != nil {
		return nil, err
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
	if err := writeFile(f.PendingKey, keyPEM, 0o600); err != nil {
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
// (the pending key, or the live one for a certificate renewed on the same
// key) and against the given root, then stores it; a pending key it was
// signed for becomes the live key. It says which check failed: the
// certificate is not for the CSR's key, the root is not a CA certificate,
// the certificate does not chain to the root, has expired or is not yet
// valid, or lacks the clientAuth extended key usage. Certificates may be
// PEM or DER.
func Install(f Files, certIn, rootIn []byte, now time.Time) (*x509.Certificate, error) {
	chain, err := ParseCerts(certIn)
	if err != nil {
		return nil, fmt.Errorf("install: certificate: %w", err)
	}
	roots, err := ParseCerts(rootIn)
	if err != nil {
		return nil, fmt.Errorf("install: root CA: %w", err)
	}
	leaf := chain[0]
	pending, live := readKey(f.PendingKey), readKey(f.Key)
	if pending == nil && live == nil {
		return nil, fmt.Errorf("install: no private key from a CSR for this source in %s; run keyward cert csr first", f.Dir)
	}
	promote := pending != nil && samePublicKey(leaf.PublicKey, pending.Public())
	if !promote && (live == nil || !samePublicKey(leaf.PublicKey, live.Public())) {
		return nil, fmt.Errorf("install: the certificate (subject %q) was not issued for the key of this source's CSR; sign the CSR from %s", leaf.Subject.CommonName, f.CSR)
	}
	if err := CheckRoots(roots, leaf); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if err := VerifyClientChain(chain, roots, now); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if err := writeFile(f.Cert, EncodeCerts(chain), 0o644); err != nil {
		return nil, err
	}
	if err := writeFile(f.CA, EncodeCerts(roots), 0o644); err != nil {
		return nil, err
	}
	if promote {
		if err := os.Rename(f.PendingKey, f.Key); err != nil {
			return nil, fmt.Errorf("install: make the pending key live: %w", err)
		}
	}
	return leaf, nil
}

// readKey is the private key in path, or nil when it is missing or
// unreadable.
func readKey(path string) crypto.Signer {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	defer clear(b)
	k, err := parseKeyPEM(b)
	if err != nil {
		return nil
	}
	return k
}

// CheckRoots refuses a root that cannot be a certificate authority: the
// leaf itself, or a certificate without the CA basic constraint or, when
// it has a key usage, without certSign.
func CheckRoots(roots []*x509.Certificate, leaf *x509.Certificate) error {
	for _, r := range roots {
		switch {
		case r.Equal(leaf):
			return fmt.Errorf("the root given is the client certificate itself (subject %q): give the certificate of the CA that signed it (issuer %q)",
				leaf.Subject.CommonName, leaf.Issuer.CommonName)
		case !r.BasicConstraintsValid || !r.IsCA:
			return fmt.Errorf("the root given (subject %q) is not a CA certificate (no basic constraints CA:TRUE): give the certificate of the CA that signed the client certificate (issuer %q)",
				r.Subject.CommonName, leaf.Issuer.CommonName)
		case r.KeyUsage != 0 && r.KeyUsage&x509.KeyUsageCertSign == 0:
			return fmt.Errorf("the root given (subject %q) may not sign certificates (its key usage lacks keyCertSign): give the CA certificate that signed the client certificate", r.Subject.CommonName)
		}
	}
	return nil
}

// EncodeCerts is certs in PEM.
func EncodeCerts(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// Leaf parses the first certificate of a PEM bundle (the one Install
// checks), for messages.
func Leaf(certPEM []byte) (*x509.Certificate, error) {
	chain, err := ParseCerts(certPEM)
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

// ParseCerts reads certificates in PEM (one or more CERTIFICATE blocks) or
// DER (one certificate, or several concatenated). Anything else is
// explained: a CSR, a private key, a PKCS#7 bundle or a keystore given
// where a certificate was expected.
func ParseCerts(b []byte) ([]*x509.Certificate, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("the file is empty")
	}
	var out []*x509.Certificate
	var others []string
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			others = append(others, blk.Type)
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bad certificate in PEM block %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) > 0 {
		return out, nil
	}
	if len(others) > 0 {
		return nil, fmt.Errorf("no certificate, only PEM %s: %s", strings.Join(others, ", "), pemHint(others[0]))
	}
	if strings.Contains(string(b), "-----BEGIN") {
		return nil, errors.New("a damaged PEM file (a BEGIN line without a matching END, or bad base64)")
	}
	if b[0] != 0x30 {
		return nil, errors.New("neither PEM (-----BEGIN CERTIFICATE-----) nor DER (binary X.509)")
	}
	certs, err := x509.ParseCertificates(b)
	if err == nil && len(certs) > 0 {
		return certs, nil
	}
	switch {
	case isPKCS7(b):
		return nil, errors.New("a PKCS#7 bundle (.p7b), not a certificate: convert it with openssl pkcs7 -print_certs -in FILE -out FILE.pem")
	case isKeyDER(b):
		return nil, errors.New("a private key in DER, not a certificate")
	case isCSRDER(b):
		return nil, errors.New("a certificate signing request in DER, not the signed certificate: have the CA sign it")
	}
	return nil, fmt.Errorf("DER that is not an X.509 certificate (%v); a keystore goes to keyward cert import", err)
}

func pemHint(typ string) string {
	switch {
	case strings.Contains(typ, "CERTIFICATE REQUEST"):
		return "this is the CSR; install the certificate the CA signed for it"
	case strings.Contains(typ, "PRIVATE KEY"):
		return "this is a private key; give the certificate"
	case typ == "PKCS7":
		return "a PKCS#7 bundle; convert it with openssl pkcs7 -print_certs"
	}
	return "give the certificate (-----BEGIN CERTIFICATE-----)"
}

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

func isPKCS7(b []byte) bool {
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"optional,explicit,tag:0"`
	}
	_, err := asn1.Unmarshal(b, &ci)
	return err == nil && ci.Type.Equal(oidSignedData)
}

func isKeyDER(b []byte) bool {
	if _, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		return true
	}
	return parseKeyDER(b) != nil
}

// parseKeyDER reads a private key in DER (PKCS#8, SEC 1 or PKCS#1) that
// can sign, or returns nil.
func parseKeyDER(b []byte) crypto.Signer {
	for _, p := range keyParsers {
		if k, err := p.parse(b); err == nil {
			s, _ := k.(crypto.Signer)
			return s
		}
	}
	return nil
}

// keyParsers are the private key encodings keyward reads, by the PEM type
// that carries each.
var keyParsers = []struct {
	pemType string
	parse   func([]byte) (any, error)
}{
	{"PRIVATE KEY", x509.ParsePKCS8PrivateKey},
	{"EC PRIVATE KEY", func(b []byte) (any, error) { return x509.ParseECPrivateKey(b) }},
	{"RSA PRIVATE KEY", func(b []byte) (any, error) { return x509.ParsePKCS1PrivateKey(b) }},
}

// ParseKeyBlock parses a PEM block of a private key type: PRIVATE KEY
// (PKCS#8), EC PRIVATE KEY (SEC 1) or RSA PRIVATE KEY (PKCS#1). ok is
// false for a block of any other type.
func ParseKeyBlock(blk *pem.Block) (key any, ok bool, err error) {
	for _, p := range keyParsers {
		if blk.Type == p.pemType {
			if key, err = p.parse(blk.Bytes); err != nil {
				return nil, true, err
			}
			return key, true, nil
		}
	}
	return nil, false, nil
}

func isCSRDER(b []byte) bool {
	_, err := x509.ParseCertificateRequest(b)
	return err == nil
}

func parseKeyPEM(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM private key found")
		}
		if blk.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("the private key is encrypted; keyward needs it unencrypted (mode 0600) or in a keystore with a password file")
		}
		k, ok, err := ParseKeyBlock(blk)
		if !ok {
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
		return loadKeystore(keystoreFile, passwordFile, "", "")
	}
	if certFile == "" || keyFile == "" {
		return tls.Certificate{}, errors.New("no client identity: set cert_file and key_file, or keystore_file and password_file, or run keyward cert csr / import")
	}
	certIn, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client certificate: %w", err)
	}
	keyIn, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client key: %w", err)
	}
	defer clear(keyIn)
	chain, err := ParseCerts(certIn)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client certificate %s: %w", certFile, err)
	}
	key, err := parseKeyPEM(keyIn)
	if err != nil && len(keyIn) > 0 && keyIn[0] == 0x30 { // DER
		if k := parseKeyDER(keyIn); k != nil {
			key, err = k, nil
		}
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client key %s: %w", keyFile, err)
	}
	if !samePublicKey(chain[0].PublicKey, key.Public()) {
		return tls.Certificate{}, fmt.Errorf("client certificate %s (subject %q) is not for the key in %s", certFile, chain[0].Subject.CommonName, keyFile)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
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
