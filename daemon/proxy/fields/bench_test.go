package fields

import (
	"testing"

	"github.com/keyward/keyward/daemon/proxy/benchdata"
	"github.com/keyward/keyward/engine/token"
)

// BenchmarkRewrite is the proxy's own JSON work on the load test's bodies,
// without HTTP: EncryptJSON of the request (validation, 3 or 50 seals) and
// DecryptJSON of what comes back (token search, 3 or 50 opens), with a real
// codec, and the same two walks with a no-op token (what the walks cost
// without the crypto).
func BenchmarkRewrite(b *testing.B) {
	c := codec(b, "bench")
	rules, err := NewRules([]string{"ssn", "email", "card.number", "records[*].ssn"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	enc, dec := encFor(c), decFor(c)
	fixed, _, _ := c.Encrypt([]byte("123-45-6789"), token.GCM, token.Text)
	nopEnc := func(dst, pt []byte, det bool, kind token.Kind) ([]byte, error) { return append(dst, fixed...), nil }
	small, large := benchdata.Payloads()
	for _, p := range []struct {
		name string
		body []byte
	}{{"1KiB-3fields", small}, {"64KiB-50fields", large}} {
		sealed, _, err := rules.EncryptJSON(nil, p.body, enc)
		if err != nil {
			b.Fatal(err)
		}
		out := make([]byte, 0, 2*len(p.body))
		b.Run(p.name+"/encrypt", func(b *testing.B) {
			b.SetBytes(int64(len(p.body)))
			for b.Loop() {
				out, _, _ = rules.EncryptJSON(out[:0], p.body, enc)
			}
		})
		b.Run(p.name+"/encrypt-nop-token", func(b *testing.B) {
			b.SetBytes(int64(len(p.body)))
			for b.Loop() {
				out, _, _ = rules.EncryptJSON(out[:0], p.body, nopEnc)
			}
		})
		b.Run(p.name+"/decrypt", func(b *testing.B) {
			b.SetBytes(int64(len(sealed)))
			for b.Loop() {
				out, _ = DecryptJSON(out[:0], sealed, dec)
			}
		})
	}
}
