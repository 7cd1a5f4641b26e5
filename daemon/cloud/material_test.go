package cloud

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestParseMaterial(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	p8 := func(k any) []byte { b, _ := x509.MarshalPKCS8PrivateKey(k); return b }
	ecDER, _ := x509.MarshalECPrivateKey(ek)
	sym := bytes.Repeat([]byte{0xa7}, 32)
	for _, c := range []struct {
		name string
		in   []byte
		rsa  bool
		ec   bool
		sym  []byte
		err  string
	}{
		{"pkcs8 pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8(rk)}), true, false, nil, ""},
		{"pkcs1 pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), true, false, nil, ""},
		{"sec1 pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), false, true, nil, ""},
		{"pkcs8 der", p8(ek), false, true, nil, ""},
		{"raw 256", sym, false, false, sym, ""},
		{"hex 256", []byte(hex.EncodeToString(sym) + "\n"), false, false, sym, ""},
		{"raw 128", sym[:16], false, false, sym[:16], ""},
		{"empty", nil, false, false, nil, "the key file is empty"},
		{"ed25519", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8(edk)}), false, false, nil, "ed25519.PrivateKey private key cannot be uploaded"},
		{"encrypted", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), false, false, nil, "is encrypted"},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), false, false, nil, `type "CERTIFICATE" is not a private key`},
		{"garbage pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("secret-ish")}), false, false, nil, "the PRIVATE KEY block does not parse"},
		{"pem with trailing junk", append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8(rk)}), "\nsecret-junk\n"...), false, false, nil, "has 11 bytes that are not PEM after its PRIVATE KEY block"},
		{"two keys", append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8(rk)})...), false, false, nil, `a second PEM block, of type "PRIVATE KEY"`},
		{"trailing blank lines", append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), "\n\n \n"...), false, true, nil, ""},
		{"one byte", []byte{0x30}, false, false, nil, "the key file (1 byte) is neither"},
		{"24 bytes", []byte("0123456789abcdef01234567"), false, false, nil, "neither a private key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			priv, s, err := ParseMaterial(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, isRSA := priv.(*rsa.PrivateKey)
			_, isEC := priv.(*ecdsa.PrivateKey)
			if isRSA != c.rsa || isEC != c.ec || !bytes.Equal(s, c.sym) {
				t.Errorf("got %T / %x", priv, s)
			}
		})
	}
}

// FuzzParseMaterial: no input panics, exactly one result or an error, and
// an error never quotes the input.
func FuzzParseMaterial(f *testing.F) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}))
	f.Add(bytes.Repeat([]byte{1}, 32))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte(strings.Repeat("ab", 32)))
	f.Fuzz(func(t *testing.T, b []byte) {
		priv, sym, err := ParseMaterial(b)
		if err != nil {
			if priv != nil || sym != nil {
				t.Fatal("an error with a result")
			}
			if len(b) >= 8 && strings.Contains(err.Error(), string(b)) {
				t.Fatal("the error quotes the input")
			}
			return
		}
		if (priv == nil) == (sym == nil) {
			t.Fatalf("want exactly one of a private key and symmetric material: %T %d", priv, len(sym))
		}
		if sym != nil && len(sym) != 16 && len(sym) != 32 {
			t.Fatalf("symmetric material of %d bytes", len(sym))
		}
	})
}
