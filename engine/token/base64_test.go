package token

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// Every decoder on its own, into a buffer of exactly the decoded
	// length: the same acceptance and the same bytes.
	checkDecoders(t, in, want, werr == nil)
	// Encoding: same text, whether out is apart from src or src is the
	// tail of out (as a token is sealed).
	enc := appendB64(nil, in)
	if string(enc) != stdB64.EncodeToString(in) {
		t.Fatalf("encode %x (vbmi %v): %q vs %q", in, haveVBMI, enc, stdB64.EncodeToString(in))
	}
	text := make([]byte, len(enc), len(enc)+64)
	if sealedInPlace(len(in)) {
		encodeSealed(text, text[len(text)-copy(text[len(text)-len(in):], in):])
	} else {
		encodeSealed(text, in)
	}
	if string(text) != string(enc) {
		t.Fatalf("encode %x as sealed (vbmi %v): %q vs %q", in, haveVBMI, text, enc)
	}
}

// checkDecoders runs each decoder of this CPU on in, which the strict
// standard codec decodes to want when valid.
func checkDecoders(t *testing.T, in, want []byte, valid bool) {
	t.Helper()
	n := len(in) * 3 / 4
	if len(in)%4 == 1 {
		n = 0 // any length: the decoders must refuse
	}
	type decoder struct {
		name string
		fn   func(out, src []byte) bool
	}
	decs := []decoder{{"scalar", decodeScalar}, {"exact", decodeExact}}
	if haveVBMI && len(in) <= shortMax {
		decs = append(decs, decoder{"short", func(out, src []byte) bool {
			// The kernel's contract leaves the impossible length to
			// its caller, as decodeExact does.
			return len(src)%4 != 1 && decodeShortVBMI(out, src, &decLUT, 0) && lastBitsZero(src)
		}})
	}
	for _, d := range decs {
		out := bytes.Repeat([]byte{'#'}, n+16)
		ok := d.fn(out[:n], in)
		if ok != valid || valid && !bytes.Equal(out[:n], want) {
			t.Fatalf("%s decode %q (vbmi %v): %v %x, want %v %x", d.name, in, haveVBMI, ok, out[:n], valid, want)
		}
		if string(out[n:]) != strings.Repeat("#", 16) {
			t.Fatalf("%s decode %q wrote past its output", d.name, in)
		}
	}
	if len(in)%4 == 1 || len(in) < nonceB64Len {
		return
	}
	// A GCM payload: nonce to its own slice, the rest before it, with the
	// two back to back (the one-pass path) or apart.
	sealed := bytes.Repeat([]byte{'#'}, n+16)
	apart := make([]byte, nonceLen)
	for _, nonce := range [][]byte{sealed[n-nonceLen : n], apart} {
		ok := decodeSealed(sealed[:n-nonceLen], nonce, in)
		if ok != valid || valid && (!bytes.Equal(nonce, want[:nonceLen]) || !bytes.Equal(sealed[:n-nonceLen], want[nonceLen:])) {
			t.Fatalf("decodeSealed %q (vbmi %v): %v %x %x, want %v %x", in, haveVBMI, ok, nonce, sealed[:n-nonceLen], valid, want)
		}
		if string(sealed[n:]) != strings.Repeat("#", 16) {
			t.Fatalf("decodeSealed %q wrote past its output", in)
		}
	}
	if haveVBMI && len(in) <= shortMax {
		// The kernel's rotation on its own: nonce moved to the end.
		out := bytes.Repeat([]byte{'#'}, n+16)
		ok := decodeShortVBMI(out[:n], in, &decLUT, nonceLen) && lastBitsZero(in)
		if ok != valid || valid && !bytes.Equal(out[:n], append(slices.Clone(want[nonceLen:]), want[:nonceLen]...)) {
			t.Fatalf("rotated decode %q: %v %x", in, ok, out[:n])
		}
	}
}

// TestDecodersAllLengths: every decoder, on both codecs, against the strict
// standard codec at every payload length from 0 to 400 bytes: the genuine
// text, the text cut short by one character, a character replaced by each
// kind of stranger ('+', '/', '=', '.', a newline, a byte >= 0x80), and the
// last character replaced at random (nonzero unused bits).
func TestDecodersAllLengths(t *testing.T) {
	for n := 0; n <= 400; n++ {
		b := make([]byte, n)
		rand.Read(b)
		txt := []byte(stdB64.EncodeToString(b))
		checkB64(t, txt)
		if len(txt) == 0 {
			continue
		}
		checkB64(t, txt[:len(txt)-1])
		for _, bad := range []byte{'+', '/', '=', '.', '\n', 0x80 | b64Alphabet64[n%64]} {
			c := bytes.Clone(txt)
			c[int(b[0%max(n, 1)])%len(c)] = bad
			checkB64(t, c)
		}
		c := bytes.Clone(txt)
		c[len(c)-1] = b64Alphabet64[int(b[n/2])%64]
		checkB64(t, c)
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

// FuzzBase64: the fast base64url codec, and each of its decoders on its own
// (scalar, VBMI whole and short, the GCM payload split), agree with
// encoding/base64 (strict RawURLEncoding) on every input, valid or not.
func FuzzBase64(f *testing.F) {
	f.Add([]byte("QUJDRA"))
	f.Add([]byte("QUJDRA=="))
	f.Add(bytes.Repeat([]byte("AbC-_9"), 40))
	f.Fuzz(func(t *testing.T, in []byte) { checkB64(t, in) })
}

// strictDecode is the reference: encoding/base64's strict RawURLEncoding,
// which a token's payload never needs to skip newlines for.
func strictDecode(in []byte) ([]byte, bool) {
	want, err := stdB64.Strict().DecodeString(string(in))
	return want, err == nil && !bytes.ContainsAny(in, "\r\n")
}

// FuzzDecodeScalar: the table-driven scalar decoder (CPUs without AVX-512
// VBMI) against the reference, on any input.
func FuzzDecodeScalar(f *testing.F) {
	f.Add([]byte("QUJDRA"))
	f.Add([]byte("QUJDRB"))
	f.Add([]byte("QUJDREU"))
	f.Add([]byte("QUJDREV"))
	f.Add(bytes.Repeat([]byte("AbC-_9"), 40))
	f.Fuzz(func(t *testing.T, in []byte) {
		want, valid := strictDecode(in)
		out := make([]byte, len(in)*3/4)
		if ok := decodeScalar(out, in); ok != valid || valid && !bytes.Equal(out, want) {
			t.Fatalf("decodeScalar %q: %v %x, want %v %x", in, ok, out, valid, want)
		}
	})
}

// FuzzDecodeShortVBMI: the one-pass kernel, at every rotation it is used
// with, against the reference, writing exactly its output.
func FuzzDecodeShortVBMI(f *testing.F) {
	if !haveVBMI {
		f.Skip("no AVX-512 VBMI on this CPU: the kernel is not used")
	}
	f.Add([]byte("QUJDRA"), uint8(0))
	f.Add(bytes.Repeat([]byte("AbC-_9"), 20), uint8(12))
	f.Add(bytes.Repeat([]byte("A"), 128), uint8(12))
	f.Fuzz(func(t *testing.T, in []byte, rot uint8) {
		r := int(rot % (nonceLen + 1))
		if len(in) > shortMax || len(in)%4 == 1 || r > len(in)*3/4 {
			return // outside the kernel's contract (decodeExact's to refuse)
		}
		want, valid := strictDecode(in)
		n := len(in) * 3 / 4
		out := bytes.Repeat([]byte{'#'}, n+2*16)
		ok := decodeShortVBMI(out[16:16+n], in, &decLUT, r) && lastBitsZero(in)
		if ok != valid || valid && !bytes.Equal(out[16:16+n], append(slices.Clone(want[r:]), want[:r]...)) {
			t.Fatalf("decodeShortVBMI %q rot %d: %v %x, want %v %x", in, r, ok, out[16:16+n], valid, want)
		}
		if string(out[:16])+string(out[16+n:]) != strings.Repeat("#", 32) {
			t.Fatalf("decodeShortVBMI %q rot %d wrote outside its output", in, r)
		}
	})
}

// FuzzDecodeSealed: a GCM payload split into nonce and the rest, with
// both codecs and both layouts, against the reference.
func FuzzDecodeSealed(f *testing.F) {
	f.Add(bytes.Repeat([]byte("AbC-_9"), 20))
	f.Add([]byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"))
	f.Fuzz(func(t *testing.T, in []byte) {
		want, valid := strictDecode(in)
		saved := haveVBMI
		defer func() { haveVBMI = saved }()
		for _, v := range []bool{saved, false} {
			haveVBMI = v
			checkDecoders(t, in, want, valid)
		}
	})
}

// FuzzEncodeSealed: encoding a token's sealed bytes (in place, at the end
// of their own text, wherever the codec does so) gives the reference's
// text, with both codecs.
func FuzzEncodeSealed(f *testing.F) {
	f.Add([]byte("ABC"))
	f.Add(bytes.Repeat([]byte{0xff, 0, 0x80}, 100))
	f.Fuzz(func(t *testing.T, in []byte) {
		saved := haveVBMI
		defer func() { haveVBMI = saved }()
		for _, v := range []bool{saved, false} {
			haveVBMI = v
			want := stdB64.EncodeToString(in)
			text := make([]byte, len(want))
			if sealedInPlace(len(in)) {
				encodeSealed(text, text[len(text)-copy(text[len(text)-len(in):], in):])
			} else {
				encodeSealed(text, in)
			}
			if string(text) != want {
				t.Fatalf("encodeSealed %x (vbmi %v): %q, want %q", in, v, text, want)
			}
		}
	})
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
