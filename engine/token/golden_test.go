package token

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// goldenPlain is the plaintext of n bytes in testdata/golden-v1.txt.
func goldenPlain(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i*7%26)
	}
	return b
}

// TestGoldenTokens: tokens made by an earlier build (testdata/golden-v1.txt:
// application crm, material 32 bytes of 0x01, plaintexts of several sizes
// either side of the fast base64 kernels' block sizes) still open to their
// plaintext, and the deterministic ones are made again byte for byte, with
// every base64 codec this CPU can run.
func TestGoldenTokens(t *testing.T) {
	f, err := os.Open("testdata/golden-v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][3]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Fields(sc.Text())
		if len(p) != 3 {
			t.Fatalf("bad golden line %q", sc.Text())
		}
		lines = append(lines, [3]string{p[0], p[1], p[2]})
	}
	if len(lines) < 10 {
		t.Fatalf("%d golden tokens", len(lines))
	}
	forEachB64Codec(t, func(t *testing.T) {
		ring := newMemRing(16)
		ring.add("crm", bytes.Repeat([]byte{1}, 32))
		c := NewCodec("crm", ring)
		for _, l := range lines {
			want := []byte(`{"a":[1,2]}`)
			if l[0] != "j" {
				n, _ := strconv.Atoi(l[0])
				want = goldenPlain(n)
			}
			mode, kind := Mode(l[1][0]), Kind(l[1][1])
			// Open into a buffer that already holds something.
			out, o, err := c.AppendDecrypt([]byte("prefix"), []byte(l[2]))
			if err != nil {
				t.Fatalf("golden %s %s: %v", l[0], l[1], err)
			}
			if string(out[:6]) != "prefix" || !bytes.Equal(out[6:], want) || !bytes.Equal(o.Plaintext, want) || o.Mode != mode || o.Kind != kind {
				t.Fatalf("golden %s %s opened to %q (%c%c)", l[0], l[1], o.Plaintext, o.Mode, o.Kind)
			}
			if mode == SIV {
				tok, _, err := c.Encrypt(want, SIV, kind)
				if err != nil || tok != l[2] {
					t.Fatalf("golden %s %s sealed again to %q (%v), want %q", l[0], l[1], tok, err, l[2])
				}
			}
		}
	})
}

// forEachB64Codec runs fn with the AVX-512 VBMI kernels (when the CPU has
// them) and without (segmentio/asm and the standard library).
func forEachB64Codec(t *testing.T, fn func(t *testing.T)) {
	saved := haveVBMI
	defer func() { haveVBMI = saved }()
	if saved {
		t.Run("vbmi", fn)
	}
	haveVBMI = false
	t.Run("portable", fn)
}
