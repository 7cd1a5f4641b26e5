package token

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// The version-1 GCM token written out with the standard library only
// (encoding/base64, crypto/cipher) from the package documentation: the
// reference the codec's fast paths are checked against.

func refHeader(app, id string, kind Kind) string {
	sum := sha256.Sum256([]byte("keyward/token/v1/app\x00" + app))
	return "kw1g" + string(rune(kind)) + "." + base64.RawURLEncoding.EncodeToString(sum[:6]) + "." + id + "."
}

func refGCM(t testing.TB, material []byte) cipher.AEAD {
	block, err := aes.NewCipher(material)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return gcm
}

func refSeal(t testing.TB, app, id string, material, pt []byte, kind Kind) string {
	hdr := refHeader(app, id, kind)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	return hdr + base64.RawURLEncoding.EncodeToString(refGCM(t, material).Seal(nonce, nonce, pt, []byte(hdr+app)))
}

// refOpen opens a GCM token; malformed says the payload is not canonical
// base64url (or too short), as opposed to failing authentication.
func refOpen(t testing.TB, app string, material []byte, tok string) (pt []byte, malformed bool, err error) {
	i := strings.LastIndexByte(tok, '.') + 1
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok[i:])
	if err != nil || strings.ContainsAny(tok[i:], "\r\n") || len(raw) < 12+16 {
		return nil, true, fmt.Errorf("payload: %v", err)
	}
	pt, err = refGCM(t, material).Open(nil, raw[:12], raw[12:], []byte(tok[:i]+app))
	return pt, false, err
}

// ringOf returns a keyring.Rings (the daemon's key source, read through
// its VersionCounter) holding one Active generation of app with material.
func ringOf(t testing.TB, app string, material []byte) (*keyring.Rings, string) {
	r := keyring.NewRings()
	r.Configure(app, app+".key.*", 16)
	if _, err := r.Apply(app, []keyring.Candidate{{UID: "u1", Name: app + ".key.1", State: engine.StateActive, Material: bytes.Clone(material)}}); err != nil {
		t.Fatal(err)
	}
	id, _, err := r.EncryptionKey(app)
	if err != nil {
		t.Fatal(err)
	}
	return r, id
}

// TestTokensMatchReference: at every plaintext length from 0 to 400 bytes,
// with both base64 codecs and both kinds of key source, a token the codec
// seals opens with the reference, and a token the reference seals opens
// with the codec, into an empty buffer, a buffer with a prefix and a
// buffer with room to spare. One character of the payload replaced opens
// in neither, and the codec fails it the way the reference does
// (ErrMalformed where the text is not canonical base64url, else
// ErrTampered).
func TestTokensMatchReference(t *testing.T) {
	material := bytes.Repeat([]byte{0x5a}, 32)
	mem := newMemRing(16)
	memID := mem.add("crm", material)
	rings, ringsID := ringOf(t, "crm", material)
	sources := map[string]keyring.KeySource{"memRing": mem, "Rings": rings}
	ids := map[string]string{"memRing": memID, "Rings": ringsID}
	forEachB64Codec(t, func(t *testing.T) {
		for name, src := range sources {
			c := NewCodec("crm", src)
			for n := 0; n <= 400; n++ {
				pt := make([]byte, n)
				rand.Read(pt)
				kind := []Kind{Text, JSON}[n%2]
				tok, id, err := c.Encrypt(pt, GCM, kind)
				if err != nil || id != ids[name] {
					t.Fatalf("%s: seal %d bytes: %v (%s)", name, n, err, id)
				}
				if !strings.HasPrefix(tok, refHeader("crm", id, kind)) {
					t.Fatalf("%s: %d bytes: header of %q", name, n, tok)
				}
				if got, _, err := refOpen(t, "crm", material, tok); err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("%s: %d bytes: the reference opens %q to %x, %v", name, n, tok, got, err)
				}
				ref := refSeal(t, "crm", id, material, pt, kind)
				for _, dst := range [][]byte{nil, []byte("prefix"), append(make([]byte, 0, 2*len(ref)), "prefix"...)} {
					out, o, err := c.AppendDecrypt(dst, []byte(ref))
					if err != nil || !bytes.Equal(out[:len(dst)], dst) || !bytes.Equal(out[len(dst):], pt) || !bytes.Equal(o.Plaintext, pt) || o.Kind != kind || o.Mode != GCM || o.KeyID != id {
						t.Fatalf("%s: %d bytes: the codec opens the reference's %q to %q, %v", name, n, ref, out, err)
					}
				}
				// One character replaced, anywhere in the payload.
				body := strings.LastIndexByte(ref, '.') + 1
				at := body + (n*37)%(len(ref)-body)
				if n%3 == 0 {
					at = len(ref) - 1 // the character with the unused bits
				}
				for _, ch := range []byte{'A', 'B', 'Q', 'w', '-', '_', '+', '/', '=', '\n'} {
					if ref[at] == ch {
						continue
					}
					bad := ref[:at] + string(ch) + ref[at+1:]
					_, refMalformed, refErr := refOpen(t, "crm", material, bad)
					_, err := c.Decrypt([]byte(bad))
					if refErr == nil || err == nil {
						t.Fatalf("%s: %d bytes: %q opened (reference %v, codec %v)", name, n, bad, refErr, err)
					}
					if want := map[bool]error{true: ErrMalformed, false: ErrTampered}[refMalformed]; !errors.Is(err, want) {
						t.Fatalf("%s: %d bytes: %q: %v, want %v (reference: %v)", name, n, bad, err, want, refErr)
					}
				}
			}
		}
	})
}

// TestSealPlaintextInDstSpareRoom: a plaintext that lies in the spare
// capacity of the buffer the token is appended to (where the sealed bytes
// and their text go) is sealed whole, not over-written first.
func TestSealPlaintextInDstSpareRoom(t *testing.T) {
	ring := newMemRing(16)
	material := bytes.Repeat([]byte{3}, 32)
	ring.add("crm", material)
	c := NewCodec("crm", ring)
	forEachB64Codec(t, func(t *testing.T) {
		for _, n := range []int{1, 64, 100, 1000} {
			for _, off := range []int{0, 7, 30, 60, 2 * n} {
				buf := make([]byte, 4*n+200)
				pt := buf[off : off+n]
				for i := range pt {
					pt[i] = byte('a' + i%26)
				}
				want := bytes.Clone(pt)
				out, _, err := c.AppendEncrypt(buf[:0], pt, GCM, Text)
				if err != nil {
					t.Fatal(err)
				}
				if got, _, err := refOpen(t, "crm", material, string(out)); err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%d bytes at %d: opens to %q, %v", n, off, got, err)
				}
			}
		}
	})
}

// TestNoAllocationPerToken: sealing into and opening into a caller's
// buffer that has room allocates nothing, with both codecs, at a field's
// size and at 1 KiB.
func TestNoAllocationPerToken(t *testing.T) {
	rings, _ := ringOf(t, "crm", bytes.Repeat([]byte{9}, 32))
	c := NewCodec("crm", rings)
	forEachB64Codec(t, func(t *testing.T) {
		for _, n := range []int{64, 1024} {
			pt := make([]byte, n)
			tok, _, err := c.Encrypt(pt, GCM, Text)
			if err != nil {
				t.Fatal(err)
			}
			tb := []byte(tok)
			out := make([]byte, 0, EncodedLen(n))
			seal := testing.AllocsPerRun(200, func() {
				if out, _, err = c.AppendEncrypt(out[:0], pt, GCM, Text); err != nil {
					t.Fatal(err)
				}
			})
			open := testing.AllocsPerRun(200, func() {
				if out, _, err = c.AppendDecrypt(out[:0], tb); err != nil || len(out) != n {
					t.Fatal(err)
				}
			})
			if seal != 0 || open != 0 {
				t.Fatalf("%d bytes: %v allocations a seal, %v an open", n, seal, open)
			}
		}
	})
}

// countingRings is the daemon's key source with its Version calls counted.
type countingRings struct {
	*keyring.Rings
	versions atomic.Int64
}

func (r *countingRings) Version(app string) uint64 {
	r.versions.Add(1)
	return r.Rings.Version(app)
}

// TestCodecReadsTheRingsCounter: with the daemon's key source, tokens are
// sealed and opened without calling Version (the codec loads the ring's
// counter), and a change of the ring still reaches the codec at once: a
// rotation seals with the new generation from the next token on, and a
// generation that leaves the ring no longer opens. A codec made before its
// application's ring exists picks the counter up once it does.
func TestCodecReadsTheRingsCounter(t *testing.T) {
	src := &countingRings{Rings: keyring.NewRings()}
	c := NewCodec("crm", src)
	if _, _, err := c.Encrypt([]byte("x"), GCM, Text); !errors.Is(err, ErrNoActiveKey) {
		t.Fatalf("before the ring exists: %v", err)
	}
	src.Configure("crm", "crm.key.*", 2)
	mat := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 32) }
	cands := []keyring.Candidate{{UID: "u1", Name: "crm.key.1", State: engine.StateActive, Material: mat(1)}}
	if _, err := src.Apply("crm", cands); err != nil {
		t.Fatal(err)
	}
	first, id1, err := c.Encrypt([]byte("first"), GCM, Text)
	if err != nil {
		t.Fatal(err)
	}
	src.versions.Store(0)
	for range 100 {
		tok, _, err := c.Encrypt([]byte("123-45-6789"), GCM, Text)
		if err != nil {
			t.Fatal(err)
		}
		if o, err := c.Decrypt([]byte(tok)); err != nil || string(o.Plaintext) != "123-45-6789" {
			t.Fatal(o, err)
		}
	}
	if n := src.versions.Load(); n != 0 {
		t.Fatalf("%d calls of Version for 200 tokens", n)
	}
	// A rotation: the next token is the new generation's; the old opens.
	cands = append(cands, keyring.Candidate{UID: "u2", Name: "crm.key.2", State: engine.StateActive, Material: mat(2)})
	if _, err := src.Apply("crm", cands); err != nil {
		t.Fatal(err)
	}
	second, id2, err := c.Encrypt([]byte("second"), GCM, Text)
	if err != nil || id2 == id1 {
		t.Fatalf("after a rotation: sealed with %q (was %q): %v", id2, id1, err)
	}
	for _, tok := range []string{second, first} {
		if _, err := c.Decrypt([]byte(tok)); err != nil {
			t.Fatal(err)
		}
	}
	// Two more generations in a ring of two push the first out: its
	// tokens stop opening at once, though it is the generation the codec
	// opened last.
	for i := 3; i <= 4; i++ {
		cands = append(cands, keyring.Candidate{UID: fmt.Sprint("u", i), Name: fmt.Sprint("crm.key.", i), State: engine.StateActive, Material: mat(i)})
	}
	if _, err := src.Apply("crm", cands); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt([]byte(first)); !errors.Is(err, ErrUnknownGeneration) {
		t.Fatalf("a generation the ring dropped: %v", err)
	}
}
