// Package kek holds the key-encryption key that wraps key material and cloud
// backups before they are written to SQLite, so nothing secret is stored in
// the database in plaintext and the KEK itself never sits beside it.
package kek

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Errors callers branch on.
var (
	ErrWrongKEK  = errors.New("sealed under a different key-encryption key")
	ErrMalformed = errors.New("not a keyward sealed blob")
	ErrTampered  = errors.New("sealed blob fails authentication (corrupted or tampered)")
)

const (
	magic    = "KWK1"
	checkLen = 8
	// Size is the length of a KEK in bytes (AES-256).
	Size = 32
)

// KEK wraps and unwraps secrets with AES-256-GCM. Each blob carries a short
// check value derived from the KEK so that unwrapping under the wrong KEK is
// reported as such, not as corruption.
type KEK struct {
	aead  cipher.AEAD
	check [checkLen]byte
}

// New builds a KEK from 32 bytes of key material. The caller's slice is
// zeroed.
func New(key []byte) (*KEK, error) {
	defer clear(key)
	if len(key) != Size {
		return nil, fmt.Errorf("key-encryption key must be %d bytes, got %d", Size, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &KEK{aead: aead}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("keyward/kek/check/v1"))
	copy(k.check[:], m.Sum(nil))
	return k, nil
}

// Load reads a KEK file: 32 raw bytes, or 64 hex characters, or base64 of 32
// bytes. The file must not be readable or writable by group or others.
func Load(path string) (*KEK, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key-encryption key %s has mode %04o; it must be readable by the daemon only (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	defer clear(raw)
	key, err := decode(raw)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key %s: %w", path, err)
	}
	return New(key)
}

func decode(raw []byte) ([]byte, error) {
	if len(raw) == Size {
		return bytes.Clone(raw), nil
	}
	text := strings.TrimSpace(string(raw))
	if b, err := hex.DecodeString(text); err == nil && len(b) == Size {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil && len(b) == Size {
			return b, nil
		}
	}
	return nil, fmt.Errorf("must hold %d bytes: raw, or as 64 hex characters, or base64", Size)
}

// Generate writes a new random KEK as hex to path with mode 0600, refusing
// to overwrite an existing file.
func Generate(path string) error {
	key := make([]byte, Size)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	defer clear(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create key-encryption key: %w", err)
	}
	text := []byte(hex.EncodeToString(key) + "\n")
	defer clear(text)
	if _, err := f.Write(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ID is a short, non-secret identifier of the KEK, for logs and status.
func (k *KEK) ID() string { return hex.EncodeToString(k.check[:4]) }

// Wrap seals plaintext, binding aad (e.g. "ring/acme.crm") so a blob cannot be
// moved to another record.
func (k *KEK) Wrap(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(magic)+checkLen+len(nonce)+len(plaintext)+k.aead.Overhead())
	out = append(out, magic...)
	out = append(out, k.check[:]...)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, aad), nil
}

// Unwrap opens a blob made by Wrap with the same aad.
func (k *KEK) Unwrap(blob, aad []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(blob) < len(magic)+checkLen+ns+k.aead.Overhead() || string(blob[:len(magic)]) != magic {
		return nil, ErrMalformed
	}
	if !hmac.Equal(blob[len(magic):len(magic)+checkLen], k.check[:]) {
		return nil, ErrWrongKEK
	}
	rest := blob[len(magic)+checkLen:]
	pt, err := k.aead.Open(nil, rest[:ns], rest[ns:], aad)
	if err != nil {
		return nil, ErrTampered
	}
	return pt, nil
}
