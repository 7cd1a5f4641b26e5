package cloud

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/engine"
)

// ParseMaterial reads key material an administrator brings from a file:
// a private key (PEM "PRIVATE KEY" / "RSA PRIVATE KEY" / "EC PRIVATE
// KEY", or PKCS#8 DER), or symmetric material (16 or 32 raw bytes, or
// their hex). Exactly one of the results is set. Errors never quote the
// input. The caller zeroes b and the symmetric result.
func ParseMaterial(b []byte) (crypto.PrivateKey, []byte, error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: the key file is empty", ErrInvalid)
	}
	if blk, rest := pem.Decode(b); blk != nil {
		defer clear(blk.Bytes)
		if rest = bytes.TrimSpace(rest); len(rest) > 0 {
			// A second key, or the end of a damaged file: which one the
			// administrator meant is not for keyward to guess.
			what := engine.Plural(len(rest), "byte") + " that are not PEM"
			if next, _ := pem.Decode(rest); next != nil {
				what = fmt.Sprintf("a second PEM block, of type %q", next.Type)
				clear(next.Bytes)
			}
			return nil, nil, fmt.Errorf("%w: the key file has %s after its %s block: put one private key alone in the file", ErrInvalid, what, blk.Type)
		}
		if _, enc := blk.Headers["Proc-Type"]; enc || blk.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, nil, fmt.Errorf("%w: the private key is encrypted: decrypt it first (openssl pkcs8 -topk8 -nocrypt) into a file only you can read", ErrInvalid)
		}
		k, ok, err := pki.ParseKeyBlock(blk)
		if !ok {
			return nil, nil, fmt.Errorf("%w: a PEM block of type %q is not a private key (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", ErrInvalid, blk.Type)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: the %s block does not parse", ErrInvalid, blk.Type)
		}
		return checkPrivate(k)
	}
	if k, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		return checkPrivate(k)
	}
	if t := bytes.TrimSpace(b); len(t) == 32 || len(t) == 64 {
		if sym, err := hex.DecodeString(string(t)); err == nil {
			return nil, sym, nil
		}
	}
	if len(b) == 16 || len(b) == 32 {
		return nil, append([]byte(nil), b...), nil
	}
	return nil, nil, fmt.Errorf("%w: the key file (%s) is neither a private key (PEM or PKCS#8 DER) nor 128- or 256-bit symmetric material (16 or 32 raw bytes, or their hex)", ErrInvalid, engine.Plural(len(b), "byte"))
}

func checkPrivate(k any) (crypto.PrivateKey, []byte, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if err := k.Validate(); err != nil {
			return nil, nil, fmt.Errorf("%w: the RSA private key is inconsistent", ErrInvalid)
		}
		return k, nil, nil
	case *ecdsa.PrivateKey:
		return k, nil, nil
	}
	zeroPrivate(k)
	return nil, nil, fmt.Errorf("%w: a %T private key cannot be uploaded (RSA or EC only)", ErrInvalid, k)
}
