package token

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func checkB64(t *testing.T, in []byte) {
	t.Helper()
	// Decoding: same bytes, same acceptance as the strict standard codec.
	want, werr := stdB64.Strict().DecodeString(string(in))
	if bytes.ContainsAny(in, "\r\n") && werr == nil {
		werr = errors.New("the standard codec skips newlines; a token never has them")
	}
	got, gerr := decodePayload([]byte("prefix"), in)
	if (werr == nil) != (gerr == nil) || werr == nil && !bytes.Equal(want, got[6:]) || string(got[:6]) != "prefix" {
		t.Fatalf("decode %q: stdlib %x %v, fast %x %v", in, want, werr, got, gerr)
	}
	// Encoding: same text.
	enc := appendB64(nil, in)
	if string(enc) != stdB64.EncodeToString(in) {
		t.Fatalf("encode %x: %q vs %q", in, enc, stdB64.EncodeToString(in))
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

// FuzzBase64: the fast base64url codec agrees with encoding/base64 (strict
// RawURLEncoding) on every input, valid or not.
func FuzzBase64(f *testing.F) {
	f.Add([]byte("QUJDRA"))
	f.Add([]byte("QUJDRA=="))
	f.Add(bytes.Repeat([]byte("AbC-_9"), 40))
	f.Fuzz(func(t *testing.T, in []byte) { checkB64(t, in) })
}
