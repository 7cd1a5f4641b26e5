//go:build amd64 && !purego

package token

import "golang.org/x/sys/cpu"

// haveVBMI says the AVX-512 VBMI base64 kernels below can run: they need
// AVX-512 F and BW (with the OS saving the ZMM state, which x/sys/cpu
// checks), VBMI's byte permutes, and BMI2 (BZHI) for decodeShortVBMI's
// masks.
var haveVBMI = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI && cpu.X86.HasBMI2

// encodeVBMI encodes src in blocks of 48 bytes (64 characters) while at
// least 48 bytes remain, writing to dst, which must have room for
// EncodedLen(len(src)) bytes. It returns how many bytes of src it encoded
// (a multiple of 48); the caller encodes the rest. lut is the 64-character
// alphabet.
//
//go:noescape
func encodeVBMI(dst, src []byte, lut *[64]byte) int

// decodeVBMI decodes src in blocks of 64 characters (48 bytes) while at
// least 64 characters remain, writing to dst, which must have room for
// DecodedLen(len(src)) bytes. It returns how many characters it consumed
// (a multiple of 64) and whether every one of them was in the alphabet
// (lut maps a 7-bit character to its value, or 0x80 when it is not in the
// alphabet; characters of 0x80 and above are refused as well). The caller
// decodes the rest.
//
//go:noescape
func decodeVBMI(dst, src []byte, lut *[128]byte) (n int, ok bool)

// decodeShortVBMI decodes all of src, at most 128 characters with
// len(src)%4 != 1, writing exactly n = len(src)*3/4 bytes to dst, which
// must have room for them, with the first rot (0 <= rot <= 12, rot <= n)
// moved to the end: dst = decoded[rot:] || decoded[:rot], so a GCM
// payload's nonce lands after its ciphertext and tag. It never reads past
// src or writes outside dst[:n]. It reports whether every character was in
// the alphabet; the unused bits of a partial last quantum are the caller's
// to check.
//
//go:noescape
func decodeShortVBMI(dst, src []byte, lut *[128]byte, rot int) bool

// encodeShortVBMI encodes all of src, at most 96 bytes, writing exactly
// EncodedLen(len(src)) characters to dst, which must have room for them.
// It reads src whole before it writes, and never reads past src or writes
// past those characters.
//
//go:noescape
func encodeShortVBMI(dst, src []byte, lut *[64]byte)
