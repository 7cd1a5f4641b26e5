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

// func encodeVBMI(dst, src []byte, lut *[64]byte) int
TEXT ·encodeVBMI(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	MOVQ lut+48(FP), AX
	XORQ BX, BX
	CMPQ CX, $48
	JB   encDone
	VMOVDQU64    (AX), Z3
	VMOVDQU64    encShuf<>(SB), Z1
	VPBROADCASTQ encShift<>(SB), Z2
	MOVQ         $0xffffffffffff, DX
	KMOVQ        DX, K1

encLoop2:
	MOVQ CX, DX
	SUBQ BX, DX
	CMPQ DX, $96
	JB   encLoop1
	VMOVDQU8.Z     (SI)(BX*1), K1, Z0
	VMOVDQU8.Z     48(SI)(BX*1), K1, Z4
	VPERMB         Z0, Z1, Z0
	VPERMB         Z4, Z1, Z4
	VPMULTISHIFTQB Z0, Z2, Z0
	VPMULTISHIFTQB Z4, Z2, Z4
	VPERMB         Z3, Z0, Z0
	VPERMB         Z3, Z4, Z4
	VMOVDQU64      Z0, (DI)
	VMOVDQU64      Z4, 64(DI)
	ADDQ           $96, BX
	ADDQ           $128, DI
	JMP            encLoop2

encLoop1:
	MOVQ CX, DX
	SUBQ BX, DX
	CMPQ DX, $48
	JB   encEnd
	VMOVDQU8.Z     (SI)(BX*1), K1, Z0
	VPERMB         Z0, Z1, Z0
	VPMULTISHIFTQB Z0, Z2, Z0
	VPERMB         Z3, Z0, Z0
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
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	MOVQ lut+48(FP), AX
	XORQ BX, BX
	CMPQ CX, $64
	JB   decEmpty
	VMOVDQU64    (AX), Z4
	VMOVDQU64    64(AX), Z5
	VPBROADCASTD decMul1<>(SB), Z6
	VPBROADCASTD decMul2<>(SB), Z7
	VMOVDQU64    decPack<>(SB), Z8
	VPXORQ       Z9, Z9, Z9
	MOVQ         $0xffffffffffff, DX
	KMOVQ        DX, K1

decLoop2:
	MOVQ CX, DX
	SUBQ BX, DX
	CMPQ DX, $128
	JB   decLoop1
	VMOVDQU64   (SI)(BX*1), Z0
	VMOVDQU64   64(SI)(BX*1), Z10
	VMOVDQA64   Z0, Z1
	VMOVDQA64   Z10, Z11
	VPERMI2B    Z5, Z4, Z1
	VPERMI2B    Z5, Z4, Z11
	VPTERNLOGD  $0xfe, Z0, Z1, Z9
	VPTERNLOGD  $0xfe, Z10, Z11, Z9
	VPMADDUBSW  Z6, Z1, Z1
	VPMADDUBSW  Z6, Z11, Z11
	VPMADDWD    Z7, Z1, Z1
	VPMADDWD    Z7, Z11, Z11
	VPERMB      Z1, Z8, Z1
	VPERMB      Z11, Z8, Z11
	VMOVDQU8    Z1, K1, (DI)
	VMOVDQU8    Z11, K1, 48(DI)
	ADDQ        $128, BX
	ADDQ        $96, DI
	JMP         decLoop2

decLoop1:
	MOVQ CX, DX
	SUBQ BX, DX
	CMPQ DX, $64
	JB   decEnd
	VMOVDQU64   (SI)(BX*1), Z0
	VMOVDQA64   Z0, Z1
	VPERMI2B    Z5, Z4, Z1
	VPTERNLOGD  $0xfe, Z0, Z1, Z9
	VPMADDUBSW  Z6, Z1, Z1
	VPMADDWD    Z7, Z1, Z1
	VPERMB      Z1, Z8, Z1
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
