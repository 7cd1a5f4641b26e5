package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward/engine"
)

// Spec says where a KMIP source's client identity is read from: the files
// its [[kmip]] section names (cert_file and key_file, or keystore_file and
// password_file), or else the ones `keyward cert` installs in the data dir.
type Spec struct {
	CertFile, KeyFile          string
	KeystoreFile, PasswordFile string
	// Alias picks the private-key entry of a keystore holding several
	// (keystore_alias); KeyPasswordFile opens an entry whose password is
	// not the store's (key_password_file).
	Alias, KeyPasswordFile string
	// Installed are the data dir's files, used when the section names none.
	Installed Files
}

// Configured reports whether the section names its own identity, which
// then wins over the installed one.
func (s Spec) Configured() bool { return s.CertFile != "" || s.KeystoreFile != "" }

// Origin says in words which files the identity is read from.
func (s Spec) Origin() string {
	switch {
	case s.KeystoreFile != "":
		return "keystore_file = " + s.KeystoreFile + " (keyward.toml)"
	case s.CertFile != "":
		return "cert_file = " + s.CertFile + ", key_file = " + s.KeyFile + " (keyward.toml)"
	}
	return "installed by keyward cert in " + s.Installed.Dir
}

// OriginKind is "config" or "installed".
func (s Spec) OriginKind() string {
	if s.Configured() {
		return "config"
	}
	return "installed"
}

func (s Spec) files() []string {
	switch {
	case s.KeystoreFile != "":
		return []string{s.KeystoreFile, s.PasswordFile, s.KeyPasswordFile}
	case s.CertFile != "":
		return []string{s.CertFile, s.KeyFile}
	}
	return []string{s.Installed.Cert, s.Installed.Key}
}

// Stamp changes whenever one of the identity's files is replaced or
// rewritten (device, inode, size, modification time), so a caller can tell
// a change without reading the files.
func (s Spec) Stamp() string {
	var b strings.Builder
	for _, p := range s.files() {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(&b, "%s:missing;", p)
			continue
		}
		var dev, ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			dev, ino = uint64(st.Dev), st.Ino
		}
		fmt.Fprintf(&b, "%s:%d:%d:%d:%d;", p, dev, ino, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}

// Load reads the identity, with its leaf parsed.
func (s Spec) Load() (tls.Certificate, error) {
	var cert tls.Certificate
	var err error
	switch {
	case s.KeystoreFile != "":
		cert, err = loadKeystore(s.KeystoreFile, s.PasswordFile, s.KeyPasswordFile, s.Alias)
	case s.CertFile != "":
		cert, err = LoadIdentity(s.CertFile, s.KeyFile, "", "")
	default:
		if _, serr := os.Stat(s.Installed.Cert); serr != nil && s.Installed.Dir != "" {
			if _, perr := os.Stat(s.Installed.PendingKey); perr == nil {
				return tls.Certificate{}, fmt.Errorf("no client identity yet: a key waits in %s for its signed certificate (keyward cert install)", s.Installed.PendingKey)
			}
			return tls.Certificate{}, fmt.Errorf("no client identity: none installed in %s (keyward cert csr and install, or import) and no cert_file or keystore_file in the [[kmip]] section", s.Installed.Dir)
		}
		cert, err = LoadIdentity(s.Installed.Cert, s.Installed.Key, "", "")
	}
	if err != nil {
		return tls.Certificate{}, err
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("client certificate: %w", err)
		}
	}
	return cert, nil
}

func loadKeystore(path, passwordFile, keyPasswordFile, alias string) (tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client keystore: %w", err)
	}
	defer clear(data)
	pw, err := ReadPassword(passwordFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	defer clear(pw)
	var keyPW []byte
	if keyPasswordFile != "" {
		if keyPW, err = ReadPassword(keyPasswordFile); err != nil {
			return tls.Certificate{}, fmt.Errorf("key_password_file: %w", err)
		}
		defer clear(keyPW)
	}
	_, cert, err := OpenKeystore(data, pw, KeystoreOptions{Alias: alias, KeyPassword: keyPW})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client keystore %s: %w", path, err)
	}
	return cert, nil
}

// Pending describes the key in f.PendingKey and its CSR, or nil when no
// key waits for a certificate.
func Pending(f Files) *engine.PendingKey {
	fi, err := os.Stat(f.PendingKey)
	if err != nil {
		return nil
	}
	p := &engine.PendingKey{KeyFile: f.PendingKey, CSRFile: f.CSR, Created: fi.ModTime().UTC()}
	if b, err := os.ReadFile(f.CSR); err == nil {
		if blk, _ := pem.Decode(b); blk != nil {
			if req, err := x509.ParseCertificateRequest(blk.Bytes); err == nil {
				p.Subject, p.KeyType = req.Subject.String(), KeyType(req.PublicKey)
			}
		}
	}
	return p
}

// Describe is the identity leaf loaded from s at since, in the API's terms;
// loadErr is why the files cannot be loaded now (leaf, if any, stays in use).
func (s Spec) Describe(leaf *x509.Certificate, since time.Time, loadErr error) *engine.ClientIdentity {
	id := &engine.ClientIdentity{Origin: s.OriginKind(), From: s.Origin()}
	if leaf != nil {
		id.Subject, id.Issuer, id.Serial = leaf.Subject.String(), leaf.Issuer.String(), Serial(leaf)
		id.KeyType, id.NotAfter, id.Since = KeyType(leaf.PublicKey), leaf.NotAfter.UTC(), since.UTC()
	}
	if loadErr != nil {
		id.Error = loadErr.Error()
	}
	return id
}

// Named is a certificate as an audit event names it: subject, issuer,
// serial and not-after, never anything of the key.
func Named(leaf *x509.Certificate) string {
	return fmt.Sprintf("subject %q, issuer %q, serial %s, not after %s", leaf.Subject.String(), leaf.Issuer.String(), Serial(leaf),
		leaf.NotAfter.UTC().Format(time.RFC3339))
}
