package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

var sizes = []int{64, 1 << 10, 64 << 10}

// benchCiphers returns a token codec for crm (one generation, in the
// daemon's own keyring.Rings) and, as the baseline, a raw AES-256-GCM under
// another random key.
func benchCiphers() (*Codec, cipher.AEAD) {
	ring := keyring.NewRings()
	ring.Configure("crm", "acme.crm.key.*", 16)
	material := make([]byte, 32)
	rand.Read(material)
	if _, err := ring.Apply("crm", []keyring.Candidate{{UID: "uid-1", Name: "acme.crm.key.1", State: engine.StateActive, Material: material}}); err != nil {
		panic(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	return NewCodec("crm", ring), gcm
}

// openInputs is what the open benchmarks decrypt: n random bytes sealed by
// raw GCM under a zero nonce, and as a token.
func openInputs(c *Codec, gcm cipher.AEAD, n int) (pt, nonce, sealed []byte, tok string) {
	pt = make([]byte, n)
	rand.Read(pt)
	nonce = make([]byte, 12)
	sealed = gcm.Seal(nil, nonce, pt, nil)
	tok, _, _ = c.Encrypt(pt, GCM, Text)
	return pt, nonce, sealed, tok
}

// BenchmarkSeal compares a token (random nonce, header, base64url) with raw
// crypto/cipher AES-256-GCM Seal with a random nonce, at the same sizes.
// The "binary" variant is the token's crypto without the base64url text
// encoding, to show where the difference goes.
func BenchmarkSeal(b *testing.B) {
	c, gcm := benchCiphers()
	for _, n := range sizes {
		pt := make([]byte, n)
		rand.Read(pt)
		b.Run(fmt.Sprintf("raw-gcm/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			out := make([]byte, 0, n+28)
			nonce := make([]byte, 12)
			for b.Loop() {
				rand.Read(nonce)
				if out = gcm.Seal(out[:0], nonce, pt, nil); len(out) != n+16 {
					b.Fatalf("sealed %d bytes", len(out))
				}
			}
		})
		for _, tm := range []struct {
			name string
			mode Mode
		}{{"token", GCM}, {"token-siv", SIV}} {
			b.Run(fmt.Sprintf("%s/%d", tm.name, n), func(b *testing.B) {
				b.SetBytes(int64(n))
				out := make([]byte, 0, EncodedLen(n))
				var err error
				for b.Loop() {
					if out, _, err = c.AppendEncrypt(out[:0], pt, tm.mode, Text); err != nil || len(out) < n {
						b.Fatalf("sealed %d bytes: %v", len(out), err)
					}
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	c, gcm := benchCiphers()
	for _, n := range sizes {
		_, nonce, sealed, tok := openInputs(c, gcm, n)
		b.Run(fmt.Sprintf("raw-gcm/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			out := make([]byte, 0, n)
			var err error
			for b.Loop() {
				if out, err = gcm.Open(out[:0], nonce, sealed, nil); err != nil || len(out) != n {
					b.Fatalf("opened %d bytes: %v", len(out), err)
				}
			}
		})
		b.Run(fmt.Sprintf("token/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			out := make([]byte, 0, n)
			tb := []byte(tok)
			var err error
			for b.Loop() {
				if out, _, err = c.AppendDecrypt(out[:0], tb); err != nil || len(out) != n {
					b.Fatalf("opened %d bytes: %v", len(out), err)
				}
			}
		})
	}
}

// BenchmarkRatio measures a token and raw crypto/cipher AES-256-GCM (as in
// BenchmarkSeal and BenchmarkOpen) interleaved: each iteration times a
// batch of raw operations and a batch of token operations back to back, in
// alternating order, so both see the same machine. On a shared machine the
// sequential benchmarks above can land raw and token in different moments
// of load; this one reports the medians of the per-batch times (raw-ns/op,
// token-ns/op) and their quotient, raw/token: the token's throughput as a
// fraction of raw GCM's. On a CPU with AVX-512 VBMI, the "-portable"
// variants time the token without the VBMI kernels, as on a CPU without
// them.
func BenchmarkRatio(b *testing.B) {
	c, gcm := benchCiphers()
	for _, n := range sizes {
		pt, nonce, sealed, tok := openInputs(c, gcm, n)
		tb := []byte(tok)
		raw := make([]byte, 0, n+28)
		out := make([]byte, 0, EncodedLen(n))
		sealNonce := make([]byte, 12)
		// Every call's result is checked, on both sides: a failing call
		// must not pass for a fast one.
		var err error
		ops := map[string][2]func() bool{
			"seal": {
				func() bool {
					rand.Read(sealNonce)
					raw = gcm.Seal(raw[:0], sealNonce, pt, nil)
					return len(raw) == n+16
				},
				func() bool { out, _, err = c.AppendEncrypt(out[:0], pt, GCM, Text); return err == nil && len(out) > n },
			},
			"open": {
				func() bool { raw, err = gcm.Open(raw[:0], nonce, sealed, nil); return err == nil && len(raw) == n },
				func() bool { out, _, err = c.AppendDecrypt(out[:0], tb); return err == nil && len(out) == n },
			},
		}
		if _, err := gcm.Open(nil, nonce, sealed, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decrypt(tb); err != nil {
			b.Fatal(err)
		}
		for _, op := range []string{"seal", "open", "seal-portable", "open-portable"} {
			fns := ops[strings.TrimSuffix(op, "-portable")]
			portable := strings.HasSuffix(op, "-portable")
			if portable && !haveVBMI {
				continue // the same codec as above
			}
			b.Run(fmt.Sprintf("%s/%d", op, n), func(b *testing.B) {
				if portable {
					haveVBMI = false
					defer func() { haveVBMI = true }()
				}
				batch := max(1, (64<<10)/(n+256)) // about 20 µs a batch
				var times [2][]time.Duration
				i := 0
				for b.Loop() {
					for k := range 2 {
						w := (i + k) % 2 // alternate which goes first
						t0 := time.Now()
						for range batch {
							if !fns[w]() {
								b.Fatalf("%s %d bytes (%d): %v", op, n, w, err)
							}
						}
						times[w] = append(times[w], time.Since(t0))
					}
					i++
				}
				rawNs := float64(median(times[0])) / float64(batch)
				tokNs := float64(median(times[1])) / float64(batch)
				b.ReportMetric(rawNs, "raw-ns/op")
				b.ReportMetric(tokNs, "token-ns/op")
				b.ReportMetric(rawNs/tokNs, "raw/token")
			})
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
