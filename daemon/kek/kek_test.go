package kek

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrapRoundTripAndErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kek")
	if err := Generate(p); err != nil {
		t.Fatal(err)
	}
	if err := Generate(p); err == nil {
		t.Fatal("Generate overwrote an existing KEK")
	}
	k, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	blob, err := k.Wrap(secret, []byte("ring/crm"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, secret) {
		t.Fatal("wrapped blob contains the plaintext")
	}
	got, err := k.Unwrap(blob, []byte("ring/crm"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("unwrap = %q, %v", got, err)
	}
	if _, err := k.Unwrap(blob, []byte("ring/hr")); !errors.Is(err, ErrTampered) {
		t.Fatalf("blob moved to another record: err = %v, want ErrTampered", err)
	}
	other, _ := New(bytes.Repeat([]byte{7}, Size))
	if _, err := other.Unwrap(blob, []byte("ring/crm")); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("wrong KEK: err = %v, want ErrWrongKEK", err)
	}
	blob[len(blob)-1] ^= 1
	if _, err := k.Unwrap(blob, []byte("ring/crm")); !errors.Is(err, ErrTampered) {
		t.Fatalf("flipped bit: err = %v", err)
	}
	if _, err := k.Unwrap([]byte("nope"), nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage: err = %v", err)
	}
}

func TestLoadRefusesLooseModeAndBadContent(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose")
	os.WriteFile(loose, bytes.Repeat([]byte("ab"), 32), 0o644)
	if _, err := Load(loose); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("mode 0644 accepted or unclear: %v", err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abcd"), 0o600)
	if _, err := Load(short); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Fatalf("short KEK accepted or unclear: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing KEK accepted")
	}
}

func FuzzUnwrap(f *testing.F) {
	k, _ := New(bytes.Repeat([]byte{1}, Size))
	good, _ := k.Wrap([]byte("material"), []byte("aad"))
	f.Add(good)
	f.Add([]byte("KWK1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, blob []byte) {
		pt, err := k.Unwrap(blob, []byte("aad"))
		if err == nil && !bytes.Equal(pt, []byte("material")) {
			t.Fatalf("forged blob accepted: %q", pt)
		}
	})
}
