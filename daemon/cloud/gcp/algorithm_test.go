package gcp

import (
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
)

// TestAlgorithmOf: Cloud KMS algorithms show as keyward's type, curve and
// size; one keyward does not know shows as its name.
func TestAlgorithmOf(t *testing.T) {
	type shape struct {
		typ, curve string
		size       int
	}
	for name, w := range map[string]shape{
		"GOOGLE_SYMMETRIC_ENCRYPTION": {"oct", "", 256}, "EXTERNAL_SYMMETRIC_ENCRYPTION": {"oct", "", 256},
		"AES_128_GCM": {"oct", "", 128}, "AES_256_CBC": {"oct", "", 256}, "AES_256_KWP": {"oct", "", 256},
		"RSA_SIGN_PSS_2048_SHA256": {"RSA", "", 2048}, "RSA_DECRYPT_OAEP_3072_SHA1": {"RSA", "", 3072}, "RSA_SIGN_RAW_PKCS1_4096": {"RSA", "", 4096},
		"EC_SIGN_P256_SHA256": {"EC", "P-256", 256}, "EC_SIGN_P384_SHA384": {"EC", "P-384", 384},
		"EC_SIGN_SECP256K1_SHA256": {"EC", "P-256K", 256}, "EC_SIGN_ED25519": {"EC", "Ed25519", 256},
		"HMAC_SHA1": {"HMAC", "", 160}, "HMAC_SHA224": {"HMAC", "", 224}, "HMAC_SHA512": {"HMAC", "", 512},
		"ML_KEM_768": {"ML_KEM_768", "", 0}, "PQ_SIGN_ML_DSA_65": {"PQ_SIGN_ML_DSA_65", "", 0},
	} {
		a, ok := kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm_value[name]
		if !ok {
			t.Fatalf("%s is not an algorithm of this client", name)
		}
		if typ, curve, size := algorithmOf(kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm(a)); (shape{typ, curve, size}) != w {
			t.Errorf("%s: %s %s %d, want %+v", name, typ, curve, size, w)
		}
	}
}
