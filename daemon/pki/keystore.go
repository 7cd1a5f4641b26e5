package pki

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/keyward/keyward/engine"
)

// KeystoreInfo is what an imported keystore held, for the administrator.
type KeystoreInfo struct {
	engine.Certificate
	// Other lists entries that were not used (trusted certificates, extra keys).
	Other []string `json:"other,omitempty"`
}

func (i KeystoreInfo) String() string {
	s := fmt.Sprintf("%s keystore: private key (%s) for %q issued by %q, valid %s to %s, chain of %s",
		i.Format, i.KeyType, i.Subject, i.Issuer, i.NotBefore.UTC().Format("2006-01-02"), i.NotAfter.UTC().Format("2006-01-02"), engine.Plural(i.ChainLen, "certificate"))
	if i.Alias != "" {
		s += fmt.Sprintf(", alias %q", i.Alias)
	}
	if !i.ClientAuth {
		s += "; WARNING: the certificate lacks the clientAuth extended key usage"
	}
	if len(i.Other) > 0 {
		s += fmt.Sprintf("; also held: %v", i.Other)
	}
	return s
}

var jksMagic = []byte{0xFE, 0xED, 0xFE, 0xED}

// ParseKeystore opens a JKS or PKCS#12 keystore (told apart by content) and
// returns what it holds and the TLS identity made of its private key and
// certificate chain. It fails, saying why, when there is no private key, no
// certificate for it, or the certificate is not for that key.
func ParseKeystore(data, password []byte) (*KeystoreInfo, tls.Certificate, error) {
	return OpenKeystore(data, password, KeystoreOptions{})
}

// KeystoreOptions choose the entry of a keystore that holds several.
type KeystoreOptions struct {
	// Alias names the private-key entry to use (a JKS alias, a PKCS#12
	// friendly name); needed when the keystore holds more than one key.
	Alias string
	// KeyPassword opens a JKS private-key entry whose password is not the
	// store's (default: the store's password).
	KeyPassword []byte
}

// OpenKeystore is ParseKeystore choosing the entry with o.
func OpenKeystore(data, password []byte, o KeystoreOptions) (*KeystoreInfo, tls.Certificate, error) {
	if len(data) == 0 {
		return nil, tls.Certificate{}, errors.New("the keystore file is empty")
	}
	if bytes.HasPrefix(data, jksMagic) {
		return parseJKS(data, password, o)
	}
	if data[0] == 0x30 {
		return parseP12(data, password, o)
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, tls.Certificate{}, errors.New("a PEM file, not a JKS or PKCS#12 keystore: install a signed certificate with keyward cert install, or name PEM files in cert_file and key_file")
	}
	return nil, tls.Certificate{}, errors.New("not a JKS or PKCS#12 keystore (a JKS starts with FE ED FE ED, a PKCS#12 file is DER)")
}

func parseJKS(data, password []byte, o KeystoreOptions) (*KeystoreInfo, tls.Certificate, error) {
	if err := checkJKS(data); err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("damaged JKS keystore: %w", err)
	}
	ks := keystore.New(keystore.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(data), password); err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("cannot open the JKS keystore (wrong password or damaged file): %w", err)
	}
	info := &KeystoreInfo{Certificate: engine.Certificate{Format: "JKS"}}
	var keys []string
	for _, a := range ks.Aliases() {
		if ks.IsPrivateKeyEntry(a) {
			keys = append(keys, a)
		}
	}
	chosen := o.Alias
	switch {
	case len(keys) == 0:
		for _, a := range ks.Aliases() {
			info.Other = append(info.Other, a+" (trusted certificate)")
		}
		return nil, tls.Certificate{}, fmt.Errorf("the JKS keystore holds no private key entry, only %v; it needs the client's private key with its certificate chain", info.Other)
	case chosen == "" && len(keys) > 1:
		return nil, tls.Certificate{}, fmt.Errorf("the JKS keystore holds %d private keys (%s): choose one with --alias (keystore_alias in keyward.toml)", len(keys), quoteList(keys))
	case chosen == "":
		chosen = keys[0]
	case !ks.IsPrivateKeyEntry(chosen):
		what := "no entry"
		if ks.IsTrustedCertificateEntry(chosen) {
			what = "a trusted certificate, not a private key"
		}
		return nil, tls.Certificate{}, fmt.Errorf("alias %q is %s in the JKS keystore; its private keys: %s", chosen, what, quoteList(keys))
	}
	for _, a := range ks.Aliases() {
		if a == chosen {
			continue
		}
		kind := "trusted certificate"
		if ks.IsPrivateKeyEntry(a) {
			kind = "another private key"
		}
		info.Other = append(info.Other, fmt.Sprintf("%s (%s)", a, kind))
	}
	keyPW := password
	if len(o.KeyPassword) > 0 {
		keyPW = o.KeyPassword
	}
	entry, err := ks.GetPrivateKeyEntry(chosen, keyPW)
	if err != nil {
		if len(o.KeyPassword) == 0 {
			return nil, tls.Certificate{}, fmt.Errorf("cannot open private key %q with the store's password: the entry has a password of its own; give it with --key-password-file (key_password_file in keyward.toml)", chosen)
		}
		return nil, tls.Certificate{}, fmt.Errorf("cannot open private key %q: wrong key password", chosen)
	}
	defer clear(entry.PrivateKey)
	k, err := x509.ParsePKCS8PrivateKey(entry.PrivateKey)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("private key %q: %w", chosen, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, tls.Certificate{}, fmt.Errorf("private key %q: unsupported type %T", chosen, k)
	}
	var chain []*x509.Certificate
	for i, c := range entry.CertificateChain {
		if c.Type != "X.509" && c.Type != "X509" {
			return nil, tls.Certificate{}, fmt.Errorf("private key %q: certificate %d has type %q, want X.509", chosen, i, c.Type)
		}
		x, err := x509.ParseCertificate(c.Content)
		if err != nil {
			return nil, tls.Certificate{}, fmt.Errorf("private key %q: certificate %d: %w", chosen, i, err)
		}
		chain = append(chain, x)
	}
	info.Alias = chosen
	cert, err := identity(info, key, chain)
	return info, cert, err
}

// maxP12Iterations bounds the key-derivation work a PKCS#12 file may ask for
// (OpenSSL writes 2048; a hostile file could ask for billions and hang us).
const maxP12Iterations = 10_000_000

// p12Outer is the outer PFX structure, read only to check the MAC's
// iteration count before go-pkcs12 runs it.
type p12Outer struct {
	Version  int
	AuthSafe asn1.RawValue
	MacData  struct {
		Mac        asn1.RawValue
		MacSalt    []byte
		Iterations int `asn1:"optional,default:1"`
	} `asn1:"optional"`
}

func parseP12(data, password []byte, o KeystoreOptions) (*KeystoreInfo, tls.Certificate, error) {
	var outer p12Outer
	if _, err := asn1.Unmarshal(data, &outer); err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("damaged PKCS#12 keystore: %w", err)
	}
	if outer.MacData.Iterations > maxP12Iterations || outer.MacData.Iterations < 0 {
		return nil, tls.Certificate{}, fmt.Errorf("the PKCS#12 keystore asks for %d key-derivation iterations (more than %d): refused", outer.MacData.Iterations, maxP12Iterations)
	}
	if o.Alias != "" {
		return p12ByName(data, password, o.Alias)
	}
	k, leaf, cas, err := pkcs12.DecodeChain(data, string(password))
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, tls.Certificate{}, errors.New("cannot open the PKCS#12 keystore: wrong password")
		}
		if strings.Contains(err.Error(), "exactly one key") {
			return p12ByName(data, password, "")
		}
		return nil, tls.Certificate{}, fmt.Errorf("cannot open the PKCS#12 keystore (it must hold one private key and its certificate): %w", err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, tls.Certificate{}, fmt.Errorf("PKCS#12 private key: unsupported type %T", k)
	}
	info := &KeystoreInfo{Certificate: engine.Certificate{Format: "PKCS#12"}}
	cert, err := identity(info, key, append([]*x509.Certificate{leaf}, cas...))
	return info, cert, err
}

// p12ByName opens a PKCS#12 keystore holding several private keys, or
// one asked for by name: the key whose friendly name is alias, with the
// certificate of the same local key id (or public key) and the CA
// certificates that are nobody's leaf.
func p12ByName(data, password []byte, alias string) (*KeystoreInfo, tls.Certificate, error) {
	//lint:ignore SA1019 the only reader of go-pkcs12 that gives the bags' friendly names
	blocks, err := pkcs12.ToPEM(data, string(password))
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, tls.Certificate{}, errors.New("cannot open the PKCS#12 keystore: wrong password")
		}
		return nil, tls.Certificate{}, fmt.Errorf("cannot open the PKCS#12 keystore: %w", err)
	}
	type bag struct {
		name, id string
		key      crypto.Signer
	}
	var keys []bag
	var certs []*x509.Certificate
	certID := map[*x509.Certificate]string{}
	for _, b := range blocks {
		switch b.Type {
		case "PRIVATE KEY": // PKCS#1 or SEC 1 despite the label (see ToPEM)
			var k crypto.Signer
			if rk, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
				k = rk
			} else if ek, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
				k = ek
			}
			clear(b.Bytes)
			if k == nil {
				return nil, tls.Certificate{}, fmt.Errorf("PKCS#12 private key %q: unsupported type", b.Headers["friendlyName"])
			}
			keys = append(keys, bag{name: b.Headers["friendlyName"], id: b.Headers["localKeyId"], key: k})
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, tls.Certificate{}, fmt.Errorf("PKCS#12 certificate: %w", err)
			}
			certs = append(certs, c)
			certID[c] = b.Headers["localKeyId"]
		}
	}
	var names []string
	for _, k := range keys {
		names = append(names, k.name)
	}
	var chosen *bag
	for i := range keys {
		if alias == "" && len(keys) == 1 || alias != "" && keys[i].name == alias {
			chosen = &keys[i]
		}
	}
	switch {
	case len(keys) == 0:
		return nil, tls.Certificate{}, errors.New("the PKCS#12 keystore holds no private key; it needs the client's private key with its certificate chain")
	case chosen == nil && alias == "":
		return nil, tls.Certificate{}, fmt.Errorf("the PKCS#12 keystore holds %d private keys (friendly names %s): choose one with --alias (keystore_alias in keyward.toml)", len(keys), quoteList(names))
	case chosen == nil:
		return nil, tls.Certificate{}, fmt.Errorf("the PKCS#12 keystore has no private key with the friendly name %q; its keys: %s", alias, quoteList(names))
	}
	var leaf *x509.Certificate
	for _, c := range certs {
		if (chosen.id != "" && certID[c] == chosen.id) || leaf == nil && samePublicKey(c.PublicKey, chosen.key.Public()) {
			leaf = c
		}
	}
	if leaf == nil {
		return nil, tls.Certificate{}, fmt.Errorf("the PKCS#12 keystore has no certificate for the private key %q", chosen.name)
	}
	chain := []*x509.Certificate{leaf}
	for _, c := range certs {
		mine := c == leaf
		for _, k := range keys {
			mine = mine || samePublicKey(c.PublicKey, k.key.Public())
		}
		if !mine {
			chain = append(chain, c)
		}
	}
	info := &KeystoreInfo{Certificate: engine.Certificate{Format: "PKCS#12", Alias: chosen.name}}
	for _, k := range keys {
		if k.name != chosen.name {
			info.Other = append(info.Other, k.name+" (another private key)")
		}
	}
	cert, err := identity(info, chosen.key, chain)
	return info, cert, err
}

func identity(info *KeystoreInfo, key crypto.Signer, chain []*x509.Certificate) (tls.Certificate, error) {
	if len(chain) == 0 {
		return tls.Certificate{}, errors.New("the private key has no certificate chain; import the signed certificate with it")
	}
	leaf := chain[0]
	if !samePublicKey(leaf.PublicKey, key.Public()) {
		return tls.Certificate{}, fmt.Errorf("the first certificate (subject %q) is not for the keystore's private key", leaf.Subject.CommonName)
	}
	info.Subject, info.Issuer, info.Serial = leaf.Subject.String(), leaf.Issuer.String(), Serial(leaf)
	info.KeyType = KeyType(key.Public())
	info.NotBefore, info.NotAfter = leaf.NotBefore, leaf.NotAfter
	info.ChainLen = len(chain)
	info.ClientAuth = HasClientAuth(leaf)
	cert := tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

// ErrKeyExists is why an import that does not replace was refused: the
// source already holds a private key other than the keystore's.
var ErrKeyExists = errors.New("the source already holds a different private key")

// Import checks a JKS or PKCS#12 keystore and stores its private key (mode
// 0600) and certificate chain as the source's client identity in f. Unless
// replace is set, it refuses with ErrKeyExists to overwrite a private key
// that is not the keystore's (a key made for a CSR would be lost); the
// keystore is checked first, so a wrong password is reported as such.
func Import(f Files, data, password []byte, now time.Time, replace bool) (*KeystoreInfo, error) {
	return ImportWith(f, data, password, KeystoreOptions{}, now, replace)
}

// ImportWith is Import choosing the keystore's entry with o. A pending key
// (from a CSR) is left waiting unless it is the keystore's own.
func ImportWith(f Files, data, password []byte, o KeystoreOptions, now time.Time, replace bool) (*KeystoreInfo, error) {
	info, cert, err := OpenKeystore(data, password, o)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if now.After(info.NotAfter) {
		return info, fmt.Errorf("import: the certificate expired on %s", info.NotAfter.UTC().Format(time.RFC3339))
	}
	if !replace && holdsOtherKey(f, cert.PrivateKey.(crypto.Signer)) {
		return info, fmt.Errorf("import: %s: %w", f.Key, ErrKeyExists)
	}
	keyPEM, err := marshalKey(cert.PrivateKey.(crypto.Signer))
	if err != nil {
		return nil, err
	}
	defer clear(keyPEM)
	var chainPEM []byte
	for _, der := range cert.Certificate {
		chainPEM = append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := mkdir(f.Dir); err != nil {
		return nil, err
	}
	if err := writeFile(f.Key, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(f.Cert, chainPEM, 0o644); err != nil {
		return nil, err
	}
	if p := readKey(f.PendingKey); p != nil && samePublicKey(p.Public(), cert.PrivateKey.(crypto.Signer).Public()) {
		_ = os.Remove(f.PendingKey)
	}
	return info, nil
}

// Serial is a certificate's serial number in colon-separated hex, as
// openssl and most CA consoles show it.
func Serial(c *x509.Certificate) string {
	if c == nil || c.SerialNumber == nil {
		return ""
	}
	b := c.SerialNumber.Bytes()
	if len(b) == 0 {
		return "00"
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// holdsOtherKey reports whether f.Key holds a private key other than key
// (one that cannot be read counts as other: it is replaced all the same).
func holdsOtherKey(f Files, key crypto.Signer) bool {
	b, err := os.ReadFile(f.Key)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	defer clear(b)
	old, err := parseKeyPEM(b)
	return err != nil || !samePublicKey(old.Public(), key.Public())
}

// Describe reports on a PEM certificate file's leaf, for status displays.
func Describe(certPEM []byte) (*KeystoreInfo, error) {
	chain, err := ParseCerts(certPEM)
	if err != nil {
		return nil, err
	}
	l := chain[0]
	return &KeystoreInfo{Certificate: engine.Certificate{Format: "PEM", Subject: l.Subject.String(), Issuer: l.Issuer.String(), Serial: Serial(l),
		KeyType: KeyType(l.PublicKey), NotBefore: l.NotBefore, NotAfter: l.NotAfter, ChainLen: len(chain), ClientAuth: HasClientAuth(l)}}, nil
}

// checkJKS walks a JKS file's structure and checks every declared length
// against the bytes really there, before keystore-go (which allocates what
// the file declares) reads it: a hostile or truncated file must not make
// keyward allocate gigabytes.
func checkJKS(b []byte) error {
	off := 0
	need := func(n uint64) error {
		if n > uint64(len(b)-off) {
			return fmt.Errorf("declares %d bytes at offset %d but only %d remain", n, off, len(b)-off)
		}
		return nil
	}
	u16 := func() (uint64, error) {
		if err := need(2); err != nil {
			return 0, err
		}
		v := uint64(b[off])<<8 | uint64(b[off+1])
		off += 2
		return v, nil
	}
	u32 := func() (uint64, error) {
		if err := need(4); err != nil {
			return 0, err
		}
		v := uint64(b[off])<<24 | uint64(b[off+1])<<16 | uint64(b[off+2])<<8 | uint64(b[off+3])
		off += 4
		return v, nil
	}
	skip := func(n uint64) error {
		if err := need(n); err != nil {
			return err
		}
		off += int(n)
		return nil
	}
	str := func() error {
		n, err := u16()
		if err != nil {
			return err
		}
		return skip(n)
	}
	if _, err := u32(); err != nil { // magic, checked by the caller
		return err
	}
	version, err := u32()
	if err != nil {
		return err
	}
	if version != 1 && version != 2 {
		return fmt.Errorf("unknown JKS version %d", version)
	}
	cert := func() error {
		if version == 2 {
			if err := str(); err != nil {
				return err
			}
		}
		n, err := u32()
		if err != nil {
			return err
		}
		return skip(n)
	}
	entries, err := u32()
	if err != nil {
		return err
	}
	for i := uint64(0); i < entries; i++ {
		tag, err := u32()
		if err != nil {
			return err
		}
		if err := str(); err != nil { // alias
			return err
		}
		if err := skip(8); err != nil { // creation time
			return err
		}
		switch tag {
		case 1: // private key
			n, err := u32()
			if err != nil {
				return err
			}
			if err := skip(n); err != nil {
				return err
			}
			certs, err := u32()
			if err != nil {
				return err
			}
			if certs > uint64(len(b)-off)/4 {
				return fmt.Errorf("declares %d certificates, more than the file can hold", certs)
			}
			for j := uint64(0); j < certs; j++ {
				if err := cert(); err != nil {
					return err
				}
			}
		case 2: // trusted certificate
			if err := cert(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown entry tag %d", tag)
		}
	}
	return need(20) // SHA-1 integrity digest
}
