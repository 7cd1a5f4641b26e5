//go:build amd64 && !purego

package token

import "golang.org/x/sys/cpu"

// haveVBMI says the AVX-512 VBMI base64 kernels below can run: they need
// AVX-512 F and BW (with the OS saving the ZMM state, which x/sys/cpu
// checks) and VBMI's byte permutes.
var haveVBMI = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI

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
