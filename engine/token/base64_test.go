package token

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
)

// checkB64 compares decodePayload and appendB64 on in with the standard
// library, with every base64 codec this CPU can run.
func checkB64(t *testing.T, in []byte) {
	t.Helper()
	saved := haveVBMI
	defer func() { haveVBMI = saved }()
	for _, v := range []bool{saved, false} {
		haveVBMI = v
		checkB64With(t, in)
	}
}

func checkB64With(t *testing.T, in []byte) {
	t.Helper()
	// Decoding: same bytes, same acceptance as the strict standard codec.
	want, werr := stdB64.Strict().DecodeString(string(in))
	if bytes.ContainsAny(in, "\r\n") && werr == nil {
		werr = errors.New("the standard codec skips newlines; a token never has them")
	}
	got, gerr := decodePayload([]byte("prefix"), in)
	if (werr == nil) != (gerr == nil) || werr == nil && !bytes.Equal(want, got[6:]) || string(got[:6]) != "prefix" {
		t.Fatalf("decode %q (vbmi %v): stdlib %x %v, fast %x %v", in, haveVBMI, want, werr, got, gerr)
	}
	// Encoding: same text.
	enc := appendB64(nil, in)
	if string(enc) != stdB64.EncodeToString(in) {
		t.Fatalf("encode %x (vbmi %v): %q vs %q", in, haveVBMI, enc, stdB64.EncodeToString(in))
	}
}

func TestBase64MatchesStdlib(t *testing.T) {
	for _, s := range []string{"", "A", "AA", "AAA", "AAAA", "AA==", "AAA=", "A+/A", "A_-A", "AB\nC", "ABC.", "QUJD\x00"} {
		checkB64(t, []byte(s))
	}
	for _, n := range []int{1, 31, 32, 33, 63, 64, 95, 96, 97, 1000, 65536 + 28} {
		b := make([]byte, n)
		rand.Read(b)
		checkB64(t, b)
		txt := []byte(stdB64.EncodeToString(b))
		checkB64(t, txt)
		for _, bad := range []byte{'+', '/', '=', '.', ' ', 0x80} {
			c := append([]byte(nil), txt...)
			c[len(c)/2] = bad
			checkB64(t, c)
		}
	}
}

// TestBase64RefusesUnusedBits: at every length of a payload's last block,
// every character in the last position is accepted exactly when the
// strict standard codec accepts it (the unused bits of a partial quantum
// must be zero), and a newline anywhere is refused.
func TestBase64RefusesUnusedBits(t *testing.T) {
	for n := 1; n <= 100; n++ {
		b := make([]byte, n)
		rand.Read(b)
		txt := []byte(stdB64.EncodeToString(b))
		for _, c := range []byte(b64Alphabet64) {
			txt[len(txt)-1] = c
			checkB64(t, txt)
		}
		for _, at := range []int{0, len(txt) / 2, len(txt) - 1} {
			c := append([]byte(nil), txt...)
			c[at] = '\n'
			checkB64(t, c)
		}
	}
}

// FuzzBase64: the fast base64url codec agrees with encoding/base64 (strict
// RawURLEncoding) on every input, valid or not.
func FuzzBase64(f *testing.F) {
	f.Add([]byte("QUJDRA"))
	f.Add([]byte("QUJDRA=="))
	f.Add(bytes.Repeat([]byte("AbC-_9"), 40))
	f.Fuzz(func(t *testing.T, in []byte) { checkB64(t, in) })
}

// BenchmarkBase64 is the text encoding's share of a token's cost: the
// base64url encode and (canonical) decode of a payload of each size.
func BenchmarkBase64(b *testing.B) {
	for _, n := range sizes {
		src := make([]byte, n+28)
		rand.Read(src)
		txt := appendB64(nil, src)
		b.Run(fmt.Sprintf("encode/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			out := make([]byte, 0, len(txt))
			for b.Loop() {
				out = appendB64(out[:0], src)
			}
		})
		b.Run(fmt.Sprintf("decode/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			out := make([]byte, 0, len(src))
			for b.Loop() {
				out, _ = decodePayload(out[:0], txt)
			}
		})
	}
}
