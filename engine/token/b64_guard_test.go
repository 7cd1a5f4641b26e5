//go:build linux && amd64 && !purego

package token

import (
	"bytes"
	"crypto/rand"
	"syscall"
	"testing"
)

// guarded returns a page of memory between two pages that fault on any
// access (unmapped when the test ends).
func guarded(t *testing.T) []byte {
	t.Helper()
	ps := syscall.Getpagesize()
	m, err := syscall.Mmap(-1, 0, 3*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(m) })
	if err := syscall.Mprotect(m[:ps], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	if err := syscall.Mprotect(m[2*ps:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	return m[ps : 2*ps : 2*ps]
}

// TestShortKernelsStayInBounds: the one-pass kernels' masked loads and
// stores touch nothing outside their slices. The input ends where a
// faulting page begins, and the output starts right after one (the
// rotated store's base lies before it) or ends right before one, so a
// lane read or written out of bounds crashes the test; within the page,
// the bytes around the output stay as they were.
func TestShortKernelsStayInBounds(t *testing.T) {
	if !haveVBMI {
		t.Skip("no AVX-512 VBMI on this CPU: the kernels are not used")
	}
	in, out := guarded(t), guarded(t)
	for n := 0; n <= 96; n++ {
		src := make([]byte, n)
		rand.Read(src)
		txt := stdB64.EncodeToString(src)
		// Encoding: src at the end of its page, the text at either end.
		s := in[len(in)-n:]
		copy(s, src)
		for _, at := range []int{0, len(out) - len(txt)} {
			clear(out)
			encodeShortVBMI(out[at:at+len(txt)], s, &encLUT)
			if string(out[at:at+len(txt)]) != txt || bytes.Count(out, []byte{0}) != len(out)-len(txt) {
				t.Fatalf("encode %d bytes at %d: %q, want %q (or wrote outside)", n, at, out[at:at+len(txt)], txt)
			}
		}
		// Decoding: the text at the end of its page, the bytes at either
		// end of theirs, plain and rotated.
		if len(txt) > shortMax {
			continue
		}
		s = in[len(in)-len(txt):]
		copy(s, txt)
		for _, rot := range []int{0, nonceLen} {
			if rot > n {
				continue
			}
			want := append(bytes.Clone(src[rot:]), src[:rot]...)
			for _, at := range []int{0, len(out) - n} {
				clear(out)
				if !decodeShortVBMI(out[at:at+n], s, &decLUT, rot) || !bytes.Equal(out[at:at+n], want) {
					t.Fatalf("decode %d characters at %d (rot %d): %x, want %x", len(txt), at, rot, out[at:at+n], want)
				}
				if bytes.Count(out, []byte{0}) < len(out)-n || bytes.Count(out[:at], []byte{0}) != at || bytes.Count(out[at+n:], []byte{0}) != len(out)-at-n {
					t.Fatalf("decode %d characters at %d (rot %d) wrote outside its output", len(txt), at, rot)
				}
			}
		}
	}
}
