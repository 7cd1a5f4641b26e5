package token

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// TestVBMIKernels checks the AVX-512 VBMI kernels block by block against
// the standard library, including every byte value at every position of a
// block, and that they never write past the blocks they report.
func TestVBMIKernels(t *testing.T) {
	if !haveVBMI {
		t.Skip("no AVX-512 VBMI on this CPU: the kernels are not used")
	}
	for n := 0; n <= 400; n++ {
		src := make([]byte, n)
		rand.Read(src)
		want := stdB64.EncodeToString(src)
		out := bytes.Repeat([]byte{'#'}, len(want)+64)
		k := encodeVBMI(out[:len(want)], src, &encLUT)
		if k != n/48*48 {
			t.Fatalf("encode %d bytes: consumed %d", n, k)
		}
		if string(out[:k/3*4]) != want[:k/3*4] {
			t.Fatalf("encode %d bytes: %q, want %q", n, out[:k/3*4], want[:k/3*4])
		}
		if bytes.Count(out[k/3*4:], []byte{'#'}) != len(out)-k/3*4 {
			t.Fatalf("encode %d bytes wrote past its blocks", n)
		}
		if got := appendB64(nil, src); string(got) != want {
			t.Fatalf("appendB64 %d bytes: %q, want %q", n, got, want)
		}

		txt := []byte(want)
		dec := bytes.Repeat([]byte{'#'}, len(src)+64)
		m, ok := decodeVBMI(dec[:len(src)], txt, &decLUT)
		if !ok || m != len(txt)/64*64 {
			t.Fatalf("decode %d chars: consumed %d, ok %v", len(txt), m, ok)
		}
		if !bytes.Equal(dec[:m/4*3], src[:m/4*3]) {
			t.Fatalf("decode %d chars: wrong bytes", len(txt))
		}
		if bytes.Count(dec[m/4*3:], []byte{'#'}) != len(dec)-m/4*3 {
			t.Fatalf("decode %d chars wrote past its blocks", len(txt))
		}
	}
	// Every byte value at every position of two blocks: accepted exactly
	// when the alphabet has it.
	src := make([]byte, 96)
	rand.Read(src)
	txt := []byte(stdB64.EncodeToString(src))
	dst := make([]byte, 96)
	for pos := 0; pos < 128; pos++ {
		for c := 0; c < 256; c++ {
			in := bytes.Clone(txt)
			in[pos] = byte(c)
			_, ok := decodeVBMI(dst, in, &decLUT)
			if want := bytes.IndexByte([]byte(b64Alphabet64), byte(c)) >= 0; ok != want {
				t.Fatalf("character %#x at %d: accepted %v, want %v", c, pos, ok, want)
			}
			if ok {
				want, _ := stdB64.DecodeString(string(in))
				if !bytes.Equal(dst, want) {
					t.Fatalf("character %#x at %d: wrong bytes", c, pos)
				}
			}
		}
	}
}
