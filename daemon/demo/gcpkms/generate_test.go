package gcpkms

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
)

// TestGenerateFitsTheAlgorithm: each algorithm's material is of its kind
// and size, so a test of an EC or a 4096-bit key cannot pass against
// some other key.
func TestGenerateFitsTheAlgorithm(t *testing.T) {
	for _, c := range []struct {
		alg  kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm
		kind string
		size int // RSA modulus or curve bits, or bytes of a raw key
	}{
		{kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION, "raw", 32},
		{kmspb.CryptoKeyVersion_HMAC_SHA256, "raw", 32},
		{kmspb.CryptoKeyVersion_HMAC_SHA512, "raw", 64},
		{kmspb.CryptoKeyVersion_RSA_SIGN_PSS_2048_SHA256, "rsa", 2048},
		{kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_3072_SHA256, "rsa", 3072},
		{kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_4096_SHA512, "rsa", 4096},
		{kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, "ec", 256},
		{kmspb.CryptoKeyVersion_EC_SIGN_P384_SHA384, "ec", 384},
	} {
		mat, err := generate(c.alg)
		if err != nil {
			t.Fatalf("%s: %v", c.alg, err)
		}
		if c.kind == "raw" {
			if len(mat) != c.size {
				t.Errorf("%s: %d bytes, want %d", c.alg, len(mat), c.size)
			}
			continue
		}
		k, err := x509.ParsePKCS8PrivateKey(mat)
		if err != nil {
			t.Fatalf("%s: %v", c.alg, err)
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			if c.kind != "rsa" || k.N.BitLen() != c.size {
				t.Errorf("%s: RSA %d bits, want %s %d", c.alg, k.N.BitLen(), c.kind, c.size)
			}
		case *ecdsa.PrivateKey:
			if c.kind != "ec" || k.Curve.Params().BitSize != c.size {
				t.Errorf("%s: EC %s, want %s %d", c.alg, k.Curve.Params().Name, c.kind, c.size)
			}
		default:
			t.Errorf("%s: %T", c.alg, k)
		}
	}
	if _, err := generate(kmspb.CryptoKeyVersion_EC_SIGN_ED25519); err == nil {
		t.Error("the fake made an Ed25519 version it says it does not make")
	}
}
