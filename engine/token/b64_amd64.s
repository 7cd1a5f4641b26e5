//go:build amd64 && !purego

#include "textflag.h"

// Base64 with AVX-512 VBMI byte permutes, 48 bytes to 64 characters per
// step (the method of W. Muła and D. Lemire, "Base64 encoding and decoding
// at almost the speed of a memory copy", 2019).

// Encoding: each 32-bit lane i takes input bytes 3i+1, 3i, 3i+2, 3i+1 so
// that its four 6-bit groups sit at bit offsets 10, 4, 22 and 16.
DATA encShuf<>+0x00(SB)/8, $0x0405030401020001
DATA encShuf<>+0x08(SB)/8, $0x0a0b090a07080607
DATA encShuf<>+0x10(SB)/8, $0x10110f100d0e0c0d
DATA encShuf<>+0x18(SB)/8, $0x1617151613141213
DATA encShuf<>+0x20(SB)/8, $0x1c1d1b1c191a1819
DATA encShuf<>+0x28(SB)/8, $0x222321221f201e1f
DATA encShuf<>+0x30(SB)/8, $0x2829272825262425
DATA encShuf<>+0x38(SB)/8, $0x2e2f2d2e2b2c2a2b
GLOBL encShuf<>(SB), RODATA|NOPTR, $64

// Bit offsets of the 6-bit groups in each 64-bit lane (two 32-bit lanes).
DATA encShift<>+0x00(SB)/8, $0x3036242a1016040a
GLOBL encShift<>(SB), RODATA|NOPTR, $8

// Decoding: after translation each 32-bit lane holds four 6-bit values;
// pmaddubsw with (64, 1) and pmaddwd with (4096, 1) join them into 24
// bits, big-endian in bytes 2, 1, 0 of the lane, which decPack gathers.
DATA decMul1<>+0x00(SB)/4, $0x01400140
GLOBL decMul1<>(SB), RODATA|NOPTR, $4
DATA decMul2<>+0x00(SB)/4, $0x00011000
GLOBL decMul2<>(SB), RODATA|NOPTR, $4

DATA decPack<>+0x00(SB)/8, $0x090a040506000102
DATA decPack<>+0x08(SB)/8, $0x161011120c0d0e08
DATA decPack<>+0x10(SB)/8, $0x1c1d1e18191a1415
DATA decPack<>+0x18(SB)/8, $0x292a242526202122
DATA decPack<>+0x20(SB)/8, $0x363031322c2d2e28
DATA decPack<>+0x28(SB)/8, $0x3c3d3e38393a3435
DATA decPack<>+0x30(SB)/8, $0x0000000000000000
DATA decPack<>+0x38(SB)/8, $0x0000000000000000
GLOBL decPack<>(SB), RODATA|NOPTR, $64

// ENC_CONSTS loads the encoder's constants: the alphabet (at AX) in Z3,
// the lane shuffle in Z1 and the bit offsets in Z2.
#define ENC_CONSTS \
	VMOVDQU64    (AX), Z3; \
	VMOVDQU64    encShuf<>(SB), Z1; \
	VPBROADCASTQ encShift<>(SB), Z2

// ENC2 encodes the 48 bytes in each of Z0 and Z4 (in the low lanes) into
// 64 characters in place.
#define ENC2 \
	VPERMB         Z0, Z1, Z0; \
	VPERMB         Z4, Z1, Z4; \
	VPMULTISHIFTQB Z0, Z2, Z0; \
	VPMULTISHIFTQB Z4, Z2, Z4; \
	VPERMB         Z3, Z0, Z0; \
	VPERMB         Z3, Z4, Z4

// DEC_CONSTS loads the decoder's constants: the lookup table (at AX) in Z4
// and Z5, the multipliers in Z6 and Z7, the byte gather in Z8; and clears
// Z9, where DEC2 gathers the characters outside the alphabet.
#define DEC_CONSTS \
	VMOVDQU64    (AX), Z4; \
	VMOVDQU64    64(AX), Z5; \
	VPBROADCASTD decMul1<>(SB), Z6; \
	VPBROADCASTD decMul2<>(SB), Z7; \
	VMOVDQU64    decPack<>(SB), Z8; \
	VPXORQ       Z9, Z9, Z9

// DEC2 decodes the 64 characters in each of Z0 and Z10 into 48 bytes in
// the low lanes of Z1 and Z11; a character outside the alphabet (or of
// 0x80 and above) sets the top bit of its lane in Z9.
#define DEC2 \
	VMOVDQA64  Z0, Z1; \
	VMOVDQA64  Z10, Z11; \
	VPERMI2B   Z5, Z4, Z1; \
	VPERMI2B   Z5, Z4, Z11; \
	VPTERNLOGD $0xfe, Z0, Z1, Z9; \
	VPTERNLOGD $0xfe, Z10, Z11, Z9; \
	VPMADDUBSW Z6, Z1, Z1; \
	VPMADDUBSW Z6, Z11, Z11; \
	VPMADDWD   Z7, Z1, Z1; \
	VPMADDWD   Z7, Z11, Z11; \
	VPERMB     Z1, Z8, Z1; \
	VPERMB     Z11, Z8, Z11

// ENC1 is ENC2 for Z0 alone.
#define ENC1 \
	VPERMB         Z0, Z1, Z0; \
	VPMULTISHIFTQB Z0, Z2, Z0; \
	VPERMB         Z3, Z0, Z0

// DEC1 is DEC2 for Z0 alone, into Z1.
#define DEC1 \
	VMOVDQA64  Z0, Z1; \
	VPERMI2B   Z5, Z4, Z1; \
	VPTERNLOGD $0xfe, Z0, Z1, Z9; \
	VPMADDUBSW Z6, Z1, Z1; \
	VPMADDWD   Z7, Z1, Z1; \
	VPERMB     Z1, Z8, Z1

// ARGS loads what every function here begins with: dst in DI, src in SI
// and its length in CX, the table (lut) in AX.
#define ARGS \
	MOVQ dst_base+0(FP), DI; \
	MOVQ src_base+24(FP), SI; \
	MOVQ src_len+32(FP), CX; \
	MOVQ lut+48(FP), AX

// LEFT_BELOW jumps to label when fewer than n bytes of src (of length CX)
// are left after offset BX. Clobbers DX.
#define LEFT_BELOW(n, label) \
	MOVQ CX, DX; \
	SUBQ BX, DX; \
	CMPQ DX, n; \
	JB   label

// MASK_OVER sets mask register k to its low max(r-n, 0) bits, with R8 all
// ones and R11 zero. Clobbers R9 and R10.
#define MASK_OVER(r, n, k) \
	MOVQ    r, R10; \
	SUBQ    n, R10; \
	CMOVQLT R11, R10; \
	BZHIQ   R10, R8, R9; \
	KMOVQ   R9, k

// func encodeVBMI(dst, src []byte, lut *[64]byte) int
TEXT ·encodeVBMI(SB), NOSPLIT, $0-64
	ARGS
	XORQ BX, BX
	CMPQ CX, $48
	JB   encDone
	ENC_CONSTS
	MOVQ         $0xffffffffffff, DX
	KMOVQ        DX, K1

encLoop2:
	LEFT_BELOW($96, encLoop1)
	VMOVDQU8.Z     (SI)(BX*1), K1, Z0
	VMOVDQU8.Z     48(SI)(BX*1), K1, Z4
	ENC2
	VMOVDQU64      Z0, (DI)
	VMOVDQU64      Z4, 64(DI)
	ADDQ           $96, BX
	ADDQ           $128, DI
	JMP            encLoop2

encLoop1:
	LEFT_BELOW($48, encEnd)
	VMOVDQU8.Z     (SI)(BX*1), K1, Z0
	ENC1
	VMOVDQU64      Z0, (DI)
	ADDQ           $48, BX
	ADDQ           $64, DI
	JMP            encLoop1

encEnd:
	VZEROUPPER

encDone:
	MOVQ BX, ret+56(FP)
	RET

// func decodeVBMI(dst, src []byte, lut *[128]byte) (n int, ok bool)
TEXT ·decodeVBMI(SB), NOSPLIT, $0-65
	ARGS
	XORQ BX, BX
	CMPQ CX, $64
	JB   decEmpty
	DEC_CONSTS
	MOVQ         $0xffffffffffff, DX
	KMOVQ        DX, K1

decLoop2:
	LEFT_BELOW($128, decLoop1)
	VMOVDQU64   (SI)(BX*1), Z0
	VMOVDQU64   64(SI)(BX*1), Z10
	DEC2
	VMOVDQU8    Z1, K1, (DI)
	VMOVDQU8    Z11, K1, 48(DI)
	ADDQ        $128, BX
	ADDQ        $96, DI
	JMP         decLoop2

decLoop1:
	LEFT_BELOW($64, decEnd)
	VMOVDQU64   (SI)(BX*1), Z0
	DEC1
	VMOVDQU8    Z1, K1, (DI)
	ADDQ        $64, BX
	ADDQ        $48, DI
	JMP         decLoop1

decEnd:
	VPMOVB2M  Z9, K2
	KMOVQ     K2, DX
	VZEROUPPER
	MOVQ      BX, n+56(FP)
	TESTQ     DX, DX
	SETEQ     ok+64(FP)
	RET

decEmpty:
	MOVQ BX, n+56(FP)
	MOVB $1, ok+64(FP)
	RET

// func decodeShortVBMI(dst, src []byte, lut *[128]byte, rot int) bool
//
// Decodes all of src, at most 128 characters with len(src)%4 != 1, in one
// pass of two blocks: masked loads bring src in over a filler of 'A' (the
// value 0; lanes past src are never read, so src may end anywhere) and
// masked stores write exactly n = len(src)*3/4 bytes to dst, with the
// first rot of them (0 <= rot <= 12, rot <= n) moved to the end: block 0
// goes to dst-rot without its first rot lanes, block 1 to dst+48-rot, and
// block 0's first rot lanes to dst+n-rot. Masked-out lanes are neither
// read nor written. It reports whether every character of src is in the
// alphabet; the caller checks the unused bits of a partial last quantum.
TEXT ·decodeShortVBMI(SB), NOSPLIT, $0-65
	ARGS
	MOVQ rot+56(FP), DX
	DEC_CONSTS
	MOVL         $0x41, AX
	VPBROADCASTB AX, Z0
	VMOVDQA64    Z0, Z10

	// Load masks: min(len, 64) and max(len-64, 0) bytes (BZHI keeps all
	// 64 bits for an index of 64 or more).
	XORQ    R11, R11
	MOVQ    $-1, R8
	BZHIQ   CX, R8, R9
	KMOVQ   R9, K2
	MASK_OVER(CX, $64, K3)

	// Store masks, n = len*3/4: block 0's lanes rot..min(n, 48), block
	// 1's first max(n-48, 0), and block 0's first rot.
	LEAQ    (CX)(CX*2), R12
	SHRQ    $2, R12
	MOVQ    $48, BX
	MOVQ    R12, R13
	CMPQ    R13, BX
	CMOVQGT BX, R13
	BZHIQ   R13, R8, R9
	BZHIQ   DX, R8, R13
	ANDNQ   R9, R13, R9
	KMOVQ   R9, K4
	KMOVQ   R13, K6
	MASK_OVER(R12, $48, K5)

	VMOVDQU8   (SI), K2, Z0
	VMOVDQU8   64(SI), K3, Z10
	DEC2
	MOVQ       DI, R9
	SUBQ       DX, R9
	VMOVDQU8   Z1, K4, (R9)
	VMOVDQU8   Z11, K5, 48(R9)
	ADDQ       R12, R9
	VMOVDQU8   Z1, K6, (R9)

	VPMOVB2M  Z9, K2
	KMOVQ     K2, DX
	VZEROUPPER
	TESTQ     DX, DX
	SETEQ     ret+64(FP)
	RET

// func encodeShortVBMI(dst, src []byte, lut *[64]byte)
//
// Encodes all of src, at most 96 bytes, in one pass of two blocks: masked
// loads (zero past src, which is never read beyond its end) and masked
// stores of exactly EncodedLen(len(src)) characters. Both blocks are loaded
// before either is stored, so src may be the tail of dst (encodeSealed).
TEXT ·encodeShortVBMI(SB), NOSPLIT, $0-56
	ARGS

	// Load masks: min(len, 48) and max(len-48, 0) bytes.
	XORQ    R11, R11
	MOVQ    $-1, R8
	MOVQ    $48, BX
	MOVQ    CX, R10
	CMPQ    R10, BX
	CMOVQGT BX, R10
	BZHIQ   R10, R8, R9
	KMOVQ   R9, K2
	MASK_OVER(CX, $48, K3)

	// Store masks: n = ceil(len*4/3) characters, min(n, 64) then
	// max(n-64, 0) (BZHI keeps all 64 bits for an index of 64). n =
	// (4·len+2)/3, the division as a multiply by 0xaaab >> 17 (exact for
	// the small values here).
	MOVQ    CX, R12
	SHLQ    $2, R12
	ADDQ    $2, R12
	IMULQ   $0xaaab, R12
	SHRQ    $17, R12
	BZHIQ   R12, R8, R9
	KMOVQ   R9, K4
	MASK_OVER(R12, $64, K5)

	ENC_CONSTS
	VMOVDQU8.Z     (SI), K2, Z0
	VMOVDQU8.Z     48(SI), K3, Z4
	ENC2
	VMOVDQU8       Z0, K4, (DI)
	VMOVDQU8       Z4, K5, 64(DI)
	VZEROUPPER
	RET
