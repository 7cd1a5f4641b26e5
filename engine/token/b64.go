package token

import (
	"bytes"
	"fmt"
	"slices"
)

// The text form of a payload is base64url without padding. Three codecs
// produce and accept exactly the same text (TestBase64MatchesStdlib,
// FuzzBase64): on CPUs with AVX-512 VBMI, kernels of this package
// (b64_amd64.s) for all but a short tail; otherwise segmentio/asm's AVX2
// codec for long payloads and the standard library's for short ones.

const b64Alphabet64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

var (
	// encLUT maps a 6-bit value to its character.
	encLUT = func() (t [64]byte) {
		copy(t[:], b64Alphabet64)
		return t
	}()
	// decLUT maps a 7-bit character to its value, 0x80 if it is not one.
	decLUT = func() (t [128]byte) {
		for i := range t {
			t[i] = 0x80
		}
		for i := 0; i < len(b64Alphabet64); i++ {
			t[b64Alphabet64[i]] = byte(i)
		}
		return t
	}()
)

// smallB64 is the size under which the standard library's base64 is
// faster than segmentio/asm's AVX2 one (whose setup dominates short
// inputs); the VBMI kernels have no such setup cost.
const smallB64 = 512

var strictB64 = stdB64.Strict()

var (
	errNotB64          = fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	errNotCanonicalB64 = fmt.Errorf("%w: payload is not canonical base64url", ErrMalformed)
)

// decodePayload appends the bytes of a base64url payload to dst. It accepts
// only the canonical encoding (what encoding/base64's strict RawURLEncoding
// accepts, without the newlines it skips).
func decodePayload(dst, payload []byte) ([]byte, error) {
	n := b64.DecodedLen(len(payload))
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	if haveVBMI && len(payload) >= 64 {
		// The kernel refuses every character outside the alphabet; the
		// strict standard decoder does the tail, where the unused bits of
		// the last character must be zero (measured faster than a padded
		// kernel step for tails and nonces).
		k, ok := decodeVBMI(out, payload, &decLUT)
		if !ok {
			return dst, errNotB64
		}
		got, err := strictB64.Decode(out[k/4*3:], payload[k:])
		if err != nil || hasNewline(payload[k:]) {
			return dst, errNotB64
		}
		return dst[:len(dst)+k/4*3+got], nil
	}
	if len(payload) < smallB64 {
		got, err := strictB64.Decode(out, payload)
		if err != nil || hasNewline(payload) {
			return dst, errNotB64
		}
		return dst[:len(dst)+got], nil
	}
	// segmentio/asm's decoder is lenient (it takes '+' and '/' too, and
	// nonzero unused bits), so its result is encoded again and must give
	// back the payload exactly: one text per token, for far less than a
	// byte-by-byte alphabet scan.
	got, err := b64.Decode(out, payload)
	if err != nil {
		return dst, errNotB64
	}
	check := getBuf(len(payload))
	defer putBuf(check)
	*check = appendB64((*check)[:0], out[:got])
	if !bytes.Equal(*check, payload) {
		return dst, errNotCanonicalB64
	}
	return dst[:len(dst)+got], nil
}

// encodeTailVBMI encodes src, fewer than 48 bytes, into out (exactly
// EncodedLen(len(src)) long) with one kernel step on a zero-padded copy.
func encodeTailVBMI(out, src []byte) {
	var in [48]byte
	copy(in[:], src)
	var enc [64]byte
	encodeVBMI(enc[:], in[:], &encLUT)
	copy(out, enc[:len(out)])
}

// decodeNonce decodes the 16 characters of a GCM nonce into nonce (12
// bytes), canonical base64url only.
func decodeNonce(nonce, src []byte) bool {
	n, err := strictB64.Decode(nonce, src)
	return err == nil && n == nonceLen && !hasNewline(src)
}

func hasNewline(s []byte) bool {
	return bytes.IndexByte(s, '\n') >= 0 || bytes.IndexByte(s, '\r') >= 0
}

// appendB64 appends the base64url text of src to dst.
func appendB64(dst, src []byte) []byte {
	n := b64.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	encodeB64(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n]
}

// encodeB64 writes the base64url text of src to out, which must be
// exactly EncodedLen(len(src)) long and must not overlap src.
func encodeB64(out, src []byte) {
	switch {
	case haveVBMI:
		k := encodeVBMI(out, src, &encLUT)
		if k < len(src) {
			encodeTailVBMI(out[k/3*4:], src[k:])
		}
	case len(src) < smallB64:
		stdB64.Encode(out, src)
	default:
		b64.Encode(out, src)
	}
}
