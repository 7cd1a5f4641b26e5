package proxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadLimited: bodies of known and unknown length, read in pieces of
// every size, come back whole up to the limit and are refused past it.
func TestReadLimited(t *testing.T) {
	for _, n := range []int{0, 1, 4095, 4096, 4097, 16 << 10, 16<<10 + 1, 64 << 10, 200 << 10, 1<<20 + 3} {
		body := make([]byte, n)
		rand.Read(body)
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r },
			"half":  iotest.HalfReader,
			"data":  iotest.DataErrReader,
		} {
			for _, cl := range []int64{int64(n), -1} {
				gp, err := readLimited(wrap(bytes.NewReader(body)), 2<<20, cl)
				if got := *gp; err != nil || !bytes.Equal(got, body) {
					t.Fatalf("%d bytes (%s, length %d): %d bytes back, %v", n, name, cl, len(got), err)
				}
				putBuf(gp)
				if n > 0 {
					gp, err = readLimited(wrap(bytes.NewReader(body)), int64(n-1), cl)
					got := *gp
					// What was read comes back, so the rest can follow it.
					if !errors.Is(err, errTooLarge) || len(got) < n || !bytes.Equal(got, body[:len(got)]) {
						t.Fatalf("%d bytes over a limit of %d (%s, length %d): %d bytes, %v", n, n-1, name, cl, len(got), err)
					}
				}
			}
		}
	}
}
