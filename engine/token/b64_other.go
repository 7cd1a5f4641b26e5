//go:build !amd64 || purego

package token

var haveVBMI = false

func encodeVBMI(dst, src []byte, lut *[64]byte) int { panic("unreachable") }

func decodeVBMI(dst, src []byte, lut *[128]byte) (int, bool) { panic("unreachable") }

func decodeShortVBMI(dst, src []byte, lut *[128]byte, rot int) bool { panic("unreachable") }

func encodeShortVBMI(dst, src []byte, lut *[64]byte) { panic("unreachable") }
