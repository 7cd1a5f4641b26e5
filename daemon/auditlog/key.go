// Package auditlog is the daemon's side of the tamper-evident activity log:
// the checkpoint signing key (a file outside the database), signed
// checkpoints written to the store and off the box, archive segments of
// pruned events, retention, and the verification that `keyward audit
// verify` runs over the database and the archives.
package auditlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// KeyName is the signer name in every keyward checkpoint and archive note.
const KeyName = "keyward-audit"

// Signer signs checkpoints and archive segments with the Ed25519 key kept in
// a file outside the database.
type Signer struct {
	signer note.Signer
	// VerifierKey is the public half in signed-note form
	// ("keyward-audit+<hash>+<base64>"), for `keyward audit verify --key`.
	VerifierKey string
	verifier    note.Verifier
}

// Verifier is the key that checks this signer's notes.
func (s *Signer) Verifier() note.Verifier { return s.verifier }

// LoadSigner reads the signing key at path, creating it (mode 0600, its
// directory 0700) when the file does not exist. created says it was made
// now: the caller tells the administrator to copy the verifier key off the
// box. The public half is written beside it as path+".pub".
func LoadSigner(path string) (s *Signer, created bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := create(path); err != nil {
			return nil, false, err
		}
		created = true
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("audit signing key: %w", err)
	}
	defer clear(raw)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("audit signing key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("audit signing key %s has mode %04o; it must be readable by the daemon only (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	text := strings.TrimSpace(string(raw))
	sg, err := note.NewSigner(text) // checks the form, the name and the key hash
	if err != nil || sg.Name() != KeyName {
		return nil, false, fmt.Errorf("audit signing key %s is not a %s signed-note private key (PRIVATE+KEY+%s+…): move it away and restart to make a new one", path, KeyName, KeyName)
	}
	priv, err := ed25519Key(text)
	if err != nil {
		return nil, false, fmt.Errorf("audit signing key %s: %w", path, err)
	}
	vkey, err := note.NewEd25519VerifierKey(KeyName, priv.Public().(ed25519.PublicKey))
	if err != nil {
		clear(priv)
		return nil, false, fmt.Errorf("audit signing key %s: %w", path, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		clear(priv)
		return nil, false, fmt.Errorf("audit signing key %s: %w", path, err)
	}
	if err := writePublic(path+".pub", vkey); err != nil {
		clear(priv)
		return nil, false, err
	}
	// Signing goes through a key this package holds, so Close can zero it
	// (note's own signer keeps a copy no one can clear).
	return &Signer{signer: &edSigner{name: KeyName, hash: sg.KeyHash(), priv: priv}, VerifierKey: vkey, verifier: v}, created, nil
}

// edSigner is a note.Signer over an Ed25519 key that can be zeroed.
type edSigner struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
}

func (s *edSigner) Name() string    { return s.name }
func (s *edSigner) KeyHash() uint32 { return s.hash }
func (s *edSigner) Sign(msg []byte) ([]byte, error) {
	if s.priv == nil {
		return nil, errors.New("the audit signing key was closed")
	}
	return ed25519.Sign(s.priv, msg), nil
}

// Close zeroes the signing key; the signer signs nothing after it.
func (s *Signer) Close() {
	if e, ok := s.signer.(*edSigner); ok {
		clear(e.priv)
		e.priv = nil
	}
}

// ed25519Key is the private key of a signed-note private key
// "PRIVATE+KEY+name+hash+base64(0x01||seed)"; the caller zeroes it.
func ed25519Key(skey string) (ed25519.PrivateKey, error) {
	parts := strings.SplitN(skey, "+", 5) // the base64 may hold "+" itself
	seed, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	defer clear(seed)
	if err != nil || len(seed) != 1+ed25519.SeedSize || seed[0] != 1 {
		return nil, errors.New("not an Ed25519 signed-note key")
	}
	return ed25519.NewKeyFromSeed(seed[1:]), nil
}

func create(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("audit signing key: %w", err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, KeyName)
	if err != nil {
		return fmt.Errorf("audit signing key: %w", err)
	}
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("audit signing key: %w", err)
	}
	_, err = f.WriteString(skey + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link, not rename: two daemons starting at once never replace
		// each other's key.
		err = os.Link(tmp, path)
		if errors.Is(err, fs.ErrExist) {
			err = nil
		}
	}
	os.Remove(tmp)
	if err != nil {
		return fmt.Errorf("audit signing key %s: %w", path, err)
	}
	return nil
}

// verifierKey derives "name+hash+base64(0x01||pub)" from a signed-note
// private key.
func verifierKey(skey string) (string, error) {
	sg, err := note.NewSigner(skey) // checks the form and the hash
	if err != nil {
		return "", err
	}
	priv, err := ed25519Key(skey)
	if err != nil {
		return "", err
	}
	defer clear(priv)
	return note.NewEd25519VerifierKey(sg.Name(), priv.Public().(ed25519.PublicKey))
}

func writePublic(path, vkey string) error {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == vkey {
		return nil
	}
	if err := os.WriteFile(path, []byte(vkey+"\n"), 0o644); err != nil {
		return fmt.Errorf("audit verifier key: %w", err)
	}
	return nil
}

// ReadVerifier reads a verifier key file (the signing key's .pub, or a
// copy kept elsewhere) or a signing key file (its public half is used).
func ReadVerifier(path string) (note.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit verifier key: %w", err)
	}
	defer clear(b)
	text := strings.TrimSpace(string(b))
	if strings.HasPrefix(text, "PRIVATE+KEY+") {
		if text, err = verifierKey(text); err != nil {
			return nil, fmt.Errorf("audit verifier key %s: %w", path, err)
		}
	}
	v, err := note.NewVerifier(text)
	if err != nil {
		return nil, fmt.Errorf("audit verifier key %s is not a signed-note verifier key (%s+<hash>+<base64>): %w", path, KeyName, err)
	}
	return v, nil
}
