package aws

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestSpecOf: every KMS key spec shows as keyward's type, curve and size;
// an unknown spec shows as itself.
func TestSpecOf(t *testing.T) {
	want := map[types.KeySpec]shape{
		"SYMMETRIC_DEFAULT": {"oct", "", 256}, "RSA_2048": {"RSA", "", 2048}, "RSA_3072": {"RSA", "", 3072}, "RSA_4096": {"RSA", "", 4096},
		"ECC_NIST_P256": {"EC", "P-256", 256}, "ECC_NIST_P384": {"EC", "P-384", 384}, "ECC_NIST_P521": {"EC", "P-521", 521},
		"ECC_SECG_P256K1": {"EC", "P-256K", 256}, "ECC_NIST_EDWARDS25519": {"EC", "Ed25519", 256}, "SM2": {"EC", "SM2", 256},
		"HMAC_224": {"HMAC", "", 224}, "HMAC_256": {"HMAC", "", 256}, "HMAC_384": {"HMAC", "", 384}, "HMAC_512": {"HMAC", "", 512},
		"ML_DSA_44": {"ML-DSA", "", 44}, "ML_DSA_65": {"ML-DSA", "", 65}, "ML_DSA_87": {"ML-DSA", "", 87},
		"ML_KEM_512": {"ML-KEM", "", 512}, "ML_KEM_768": {"ML-KEM", "", 768}, "ML_KEM_1024": {"ML-KEM", "", 1024},
		"QUANTUM_9000": {"QUANTUM_9000", "", 0},
	}
	for _, spec := range types.KeySpec("").Values() {
		if _, ok := want[spec]; !ok {
			t.Errorf("spec %s of the SDK has no expected shape here", spec)
		}
	}
	for spec, w := range want {
		if typ, curve, size := specOf(spec); (shape{typ, curve, size}) != w {
			t.Errorf("%s: %s %s %d, want %+v", spec, typ, curve, size, w)
		}
	}
}
