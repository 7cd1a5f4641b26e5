package token

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// The text form of a payload is base64url without padding. The codecs
// produce and accept exactly the text encoding/base64's strict
// RawURLEncoding does (TestBase64MatchesStdlib, TestDecodersAllLengths,
// FuzzBase64 and a fuzz target per decoder): on CPUs with AVX-512 VBMI,
// kernels of this package (b64_amd64.s) for everything, a field-sized
// payload in one pass; otherwise segmentio/asm's AVX2 encoder, and for
// decoding a table-driven scalar decoder for short payloads and
// segmentio/asm's (with a canonical check) for long ones.

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

// scalarMax is the length of text under which decodeScalar is faster than
// segmentio/asm's decoder with its canonical check (measured on the build
// machine: 63 against 75 ns at 171 characters, 120 against 75 at 342).
const scalarMax = 224

var errNotB64 = fmt.Errorf("%w: payload is not base64url", ErrMalformed)

// decodePayload appends the bytes of a base64url payload to dst. It accepts
// only the canonical encoding (what encoding/base64's strict RawURLEncoding
// accepts, without the newlines it skips).
func decodePayload(dst, payload []byte) ([]byte, error) {
	if len(payload)%4 == 1 {
		return dst, errNotB64
	}
	n := b64.DecodedLen(len(payload))
	dst = slices.Grow(dst, n)
	if !decodeExact(dst[len(dst):len(dst)+n], payload) {
		return dst, errNotB64
	}
	return dst[:len(dst)+n], nil
}

// decodeExact decodes src, canonical base64url without padding, into out,
// which must be exactly DecodedLen(len(src)) long. It reports false for any
// character outside the alphabet (newlines included), a length that leaves
// one character over, or nonzero unused bits in the last character: what
// encoding/base64's strict RawURLEncoding refuses. On CPUs with AVX-512
// VBMI the kernels decode whole 64-character blocks and a one-pass step the
// rest; elsewhere a table-driven scalar loop, or segmentio/asm's AVX2
// decoder for long payloads.
func decodeExact(out, src []byte) bool {
	if len(src)%4 == 1 || len(out) != len(src)*3/4 {
		return false
	}
	if !haveVBMI {
		if len(src) < scalarMax {
			return decodeScalar(out, src)
		}
		return decodeLenient(out, src)
	}
	k, ok := 0, true
	if len(src) > shortMax {
		k, ok = decodeVBMI(out, src[:len(src)/64*64], &decLUT)
	}
	return decodeShortVBMI(out[k/4*3:], src[k:], &decLUT, 0) && ok && lastBitsZero(src)
}

// decodeSealed decodes a GCM payload, the text of nonce || ciphertext ||
// tag, into ct (the ciphertext and tag) and nonce, canonical base64url
// only. With the VBMI kernels the payload of a short field is decoded in
// one pass that puts the nonce in place (ct and nonce then lie back to
// back, as openGCM lays them out).
func decodeSealed(ct, nonce, payload []byte) bool {
	if len(payload) < nonceB64Len || len(payload)%4 == 1 || len(ct) != len(payload)*3/4-nonceLen || len(nonce) != nonceLen {
		return false
	}
	if haveVBMI && len(payload) <= shortMax && cap(ct) > len(ct) && &ct[:len(ct)+1][len(ct)] == &nonce[0] {
		return decodeShortVBMI(ct[:len(ct)+nonceLen], payload, &decLUT, nonceLen) && lastBitsZero(payload)
	}
	return decodeExact(nonce, payload[:nonceB64Len]) && decodeExact(ct, payload[nonceB64Len:])
}

// decodeLenient decodes src with segmentio/asm's decoder, which is lenient
// (it takes '+' and '/' too, and nonzero unused bits), so its result is
// encoded again and must give back src exactly: one text per token, for
// far less than a byte-by-byte alphabet scan.
func decodeLenient(out, src []byte) bool {
	got, err := b64.Decode(out, src)
	if err != nil || got != len(out) {
		return false
	}
	check := getBuf(len(src))
	defer putBuf(check)
	*check = appendB64((*check)[:0], out)
	return bytes.Equal(*check, src)
}

// shortEncMax is the most bytes encodeShortVBMI takes: two kernel blocks.
const shortEncMax = 96

// shortMax is the most characters decodeShortVBMI takes: two kernel
// blocks, the whole payload of a 64-byte field (123 characters).
const shortMax = 128

// lastBitsZero reports whether the unused bits of src's partial last
// quantum, if it has one, are zero (a character outside the alphabet is
// left to the decoder to refuse).
func lastBitsZero(src []byte) bool {
	if len(src)%4 < 2 {
		return true
	}
	v := decLUT[src[len(src)-1]&0x7f]
	if len(src)%4 == 2 {
		return v&0x0f == 0
	}
	return v&0x03 == 0
}

// badChar marks a character outside the alphabet in decTab; a decoded
// quantum has at most 24 bits, so it never collides with a value.
const badChar = 1 << 31

// decTab[k][c] is the value of character c placed at the k-th 6-bit group
// of a 24-bit quantum (k = 0 the most significant), or badChar.
var decTab = func() (t [4][256]uint32) {
	for k := range t {
		for c := range t[k] {
			t[k][c] = badChar
			if c < 0x80 && decLUT[c] != 0x80 {
				t[k][c] = uint32(decLUT[c]) << (18 - 6*k)
			}
		}
	}
	return t
}()

// decodeScalar is decodeExact without the kernels: eight characters to six
// bytes a step through one 64-bit store, then a quantum at a time, then the
// partial last quantum with its unused bits checked.
func decodeScalar(out, src []byte) bool {
	if len(src)%4 == 1 || len(out) != len(src)*3/4 {
		return false
	}
	var bad, unused uint32
	i, o := 0, 0
	for ; i+8 <= len(src) && o+8 <= len(out); i, o = i+8, o+6 {
		s := src[i : i+8 : i+8]
		a := decTab[0][s[0]] | decTab[1][s[1]] | decTab[2][s[2]] | decTab[3][s[3]]
		b := decTab[0][s[4]] | decTab[1][s[5]] | decTab[2][s[6]] | decTab[3][s[7]]
		bad |= a | b
		binary.BigEndian.PutUint64(out[o:], uint64(a)<<40|uint64(b)<<16)
	}
	for ; i+4 <= len(src); i, o = i+4, o+3 {
		s := src[i : i+4 : i+4]
		a := decTab[0][s[0]] | decTab[1][s[1]] | decTab[2][s[2]] | decTab[3][s[3]]
		bad |= a
		out[o], out[o+1], out[o+2] = byte(a>>16), byte(a>>8), byte(a)
	}
	switch s := src[i:]; len(s) {
	case 2:
		a := decTab[0][s[0]] | decTab[1][s[1]]
		bad, unused = bad|a, a&0xffff // the last character's low 4 bits
		out[o] = byte(a >> 16)
	case 3:
		a := decTab[0][s[0]] | decTab[1][s[1]] | decTab[2][s[2]]
		bad, unused = bad|a, a&0xff // the last character's low 2 bits
		out[o], out[o+1] = byte(a>>16), byte(a>>8)
	}
	return bad>>24 == 0 && unused == 0
}

// appendB64 appends the base64url text of src to dst.
func appendB64(dst, src []byte) []byte {
	n := b64.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	encodeB64(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n]
}

// encodeSealed writes the base64url text of a token's sealed bytes into
// text, which must be exactly EncodedLen(len(sealed)) long. When
// sealedInPlace(len(sealed)), sealed is text's own tail
// (text[len(text)-len(sealed):]); otherwise it must not overlap text.
func encodeSealed(text, sealed []byte) {
	if haveVBMI || len(sealed) > shortMax {
		encodeB64(text, sealed)
		return
	}
	// The scalar encoder writes ahead of what it reads: from a copy,
	// on the stack (segmentio/asm's encoder would let it escape).
	var in [shortMax]byte
	encodeScalar(text, in[:copy(in[:], sealed)])
}

// sealedInPlace reports whether n sealed bytes of a token are encoded in
// place, as the tail of their own text (no scratch buffer): always with
// the VBMI kernels, else up to shortMax bytes, through a stack copy. A
// longer payload is sealed into a scratch buffer for segmentio/asm.
func sealedInPlace(n int) bool { return haveVBMI || n <= shortMax }

// encPair maps 12 bits to their two characters, the first in the low
// byte.
var encPair = func() (t [4096]uint16) {
	for v := range t {
		t[v] = uint16(encLUT[v>>6]) | uint16(encLUT[v&63])<<8
	}
	return t
}()

// encodeScalar writes the base64url text of src to out, which must be
// exactly EncodedLen(len(src)) long and must not overlap src: six bytes to
// eight characters a step (one 64-bit load, two 12-bit lookups per three
// bytes, one 64-bit store), then a quantum at a time, then the partial
// last quantum (its unused bits zero).
func encodeScalar(out, src []byte) {
	i, o := 0, 0
	for ; i+8 <= len(src) && o+8 <= len(out); i, o = i+6, o+8 {
		v := binary.BigEndian.Uint64(src[i:])
		binary.LittleEndian.PutUint64(out[o:], uint64(encPair[v>>52])|uint64(encPair[v>>40&0xfff])<<16|
			uint64(encPair[v>>28&0xfff])<<32|uint64(encPair[v>>16&0xfff])<<48)
	}
	for ; i+3 <= len(src); i, o = i+3, o+4 {
		v := uint(src[i])<<16 | uint(src[i+1])<<8 | uint(src[i+2])
		binary.LittleEndian.PutUint16(out[o:], encPair[v>>12])
		binary.LittleEndian.PutUint16(out[o+2:], encPair[v&0xfff])
	}
	switch len(src) - i {
	case 1:
		out[o], out[o+1] = encLUT[src[i]>>2], encLUT[src[i]<<4&0x3f]
	case 2:
		v := uint(src[i])<<8 | uint(src[i+1])
		out[o], out[o+1], out[o+2] = encLUT[v>>10], encLUT[v>>4&0x3f], encLUT[v<<2&0x3f]
	}
}

// encodeB64 writes the base64url text of src to out, which must be
// exactly EncodedLen(len(src)) long and must not overlap src, except with
// the VBMI kernels, where src may be out's own tail
// (out[len(out)-len(src):]): they encode forward in place. Block k reads
// src[48k:48k+48] at out offset off+48k, where off = len(out)-len(src) =
// ceil(len(src)/3), and writes out[64k:64k+64], which ends at or before
// the next block's first byte because 16(k+1) <= 16·len(src)/48 <= off;
// encodeShortVBMI loads the rest before it stores. Elsewhere
// segmentio/asm's encoder (AVX2 on amd64), measured faster than the
// standard library's from 28 bytes up (12 against 22 ns at 28 bytes, 26
// against 65 at 92) and within 2 ns below.
func encodeB64(out, src []byte) {
	if !haveVBMI {
		b64.Encode(out, src)
		return
	}
	k := 0
	if len(src) > shortEncMax {
		k = encodeVBMI(out, src[:len(src)/48*48], &encLUT)
	}
	if k < len(src) {
		encodeShortVBMI(out[k/3*4:], src[k:], &encLUT)
	}
}
