package token

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestRewrapMovesOldTokensToTheNewestGeneration: tokens under older
// generations come back under the newest, with the same mode and kind;
// deterministic tokens stay deterministic; tokens already under the newest
// and the text around them are untouched.
func TestRewrapMovesOldTokensToTheNewestGeneration(t *testing.T) {
	ring, c, old := crmCodec()
	gcm, _, _ := c.Encrypt([]byte("123-45-6789"), GCM, Text)
	siv, _, _ := c.Encrypt([]byte("ann@example.com"), SIV, Text)
	num, _, _ := c.Encrypt([]byte("42"), GCM, JSON)
	newest := ring.rotate("crm")
	cur, _, _ := c.Encrypt([]byte("already new"), GCM, Text)
	sivNew, _, _ := c.Encrypt([]byte("ann@example.com"), SIV, Text)
	in := `{"ssn":"` + gcm + `","email":"` + siv + `","n":"` + num + `"}` + "\nplain text, then " + cur + "\n"

	out, st, err := c.Rewrap(nil, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rewrapped != 3 || st.Current != 1 || st.From[old] != 3 || st.To != newest {
		t.Fatalf("stats %+v", st)
	}
	if strings.Contains(string(out), "."+old+".") {
		t.Fatalf("a token under the old generation is left: %s", out)
	}
	if !strings.Contains(string(out), `"email":"`+sivNew+`"`) {
		t.Fatal("the deterministic token is not the one the newest generation makes for the same value")
	}
	if !strings.HasSuffix(string(out), "\nplain text, then "+cur+"\n") {
		t.Fatalf("text around tokens or the current token changed: %q", out)
	}
	// Every token opens to what it held, with its kind.
	want := map[string]Kind{"123-45-6789": Text, "ann@example.com": Text, "42": JSON, "already new": Text}
	for rest := out; ; {
		i, n := Index(rest)
		if i < 0 {
			break
		}
		o, err := c.Decrypt(rest[i : i+n])
		if err != nil || o.KeyID != newest || want[string(o.Plaintext)] != o.Kind {
			t.Fatalf("rewrapped token: %v %+v", err, o)
		}
		rest = rest[i+n:]
	}
}

// TestRewrapNamesPositionsNotContent: a token of another application, of
// an unknown generation or altered fails the whole call, naming where it is
// and never what it holds; nothing is written.
func TestRewrapNamesPositionsNotContent(t *testing.T) {
	ring := newMemRing(16)
	ring.rotate("crm")
	ring.rotate("hr")
	c := NewCodec("crm", ring)
	good, _, _ := c.Encrypt([]byte("fine"), GCM, Text)
	other, _, _ := NewCodec("hr", ring).Encrypt([]byte("hr secret"), GCM, Text)
	foreignRing := newMemRing(16)
	foreignRing.rotate("crm")
	unknown, _, _ := NewCodec("crm", foreignRing).Encrypt([]byte("lost secret"), GCM, Text)
	tampered := good[:len(good)-2] + "AA"
	if tampered == good {
		tampered = good[:len(good)-2] + "BB"
	}
	in := good + "\n  " + other + "\n" + unknown + " " + tampered
	dst := []byte("keep:")
	out, _, err := c.Rewrap(dst, []byte(in))
	if err == nil {
		t.Fatal("bad tokens accepted")
	}
	if string(out) != "keep:" {
		t.Fatalf("output on failure: %q", out)
	}
	msg := err.Error()
	for _, want := range []string{"3 of 4 tokens", "token 2 (line 2, column 3)", "another application", "token 3 (line 3, column 1)",
		"unknown key generation", "token 4 (line 3, column " + strconv.Itoa(len(unknown)+2) + ")", "tampered"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q lacks %q", msg, want)
		}
	}
	for _, secret := range []string{"hr secret", "lost secret", other, unknown} {
		if strings.Contains(msg, secret) {
			t.Fatalf("error names content %q", secret)
		}
	}
	var re *RewrapError
	if !errors.As(err, &re) || !errors.Is(err, ErrWrongApplication) {
		t.Fatalf("error types: %v", err)
	}
	ring.setNoActive("crm", true)
	if _, _, err := c.Rewrap(nil, []byte(good)); !errors.Is(err, ErrNoActiveKey) {
		t.Fatalf("no active key: %v", err)
	}
}

// FuzzRewrap: whatever the input, Rewrap never panics; on success every
// token in the output is under the newest generation and the output with
// tokens opened equals the input with tokens opened.
func FuzzRewrap(f *testing.F) {
	ring, c, _ := crmCodec()
	a, _, _ := c.Encrypt([]byte("a"), GCM, Text)
	b, _, _ := c.Encrypt([]byte("b"), SIV, JSON)
	newest := ring.rotate("crm")
	f.Add([]byte(a + " x " + b))
	f.Add([]byte("kw1gt.AAAAAAAA.AAAAAAAA.AAAA"))
	f.Add([]byte("no tokens"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, err := c.Rewrap(nil, in)
		if err != nil {
			return
		}
		opened := func(s []byte, rewrapped bool) []byte {
			var b bytes.Buffer
			for {
				i, n := Index(s)
				if i < 0 {
					b.Write(s)
					return b.Bytes()
				}
				b.Write(s[:i])
				o, err := c.Decrypt(s[i : i+n])
				if err != nil {
					t.Fatalf("token in the output does not open: %v", err)
				}
				if rewrapped && o.KeyID != newest {
					t.Fatalf("token under %s after rewrap", o.KeyID)
				}
				b.WriteString("<" + string(o.Kind) + ":" + string(o.Plaintext) + ">")
				s = s[i+n:]
			}
		}
		if got, want := opened(out, true), opened(in, false); !bytes.Equal(got, want) {
			t.Fatalf("content changed: %q vs %q", got, want)
		}
	})
}

// BenchmarkRewrap: a 1 MiB JSON export of records, each with a GCM and a
// SIV token under the previous generation, rewrapped under the newest, and
// the same export rewrapped again (every token already current: only
// opened). Reported as MB/s of input and ns per token.
func BenchmarkRewrap(b *testing.B) {
	ring, c, _ := crmCodec()
	var in bytes.Buffer
	n := 0
	in.WriteString("[")
	for in.Len() < 1<<20 {
		ssn, _, _ := c.Encrypt([]byte("123-45-6789"), GCM, Text)
		email, _, _ := c.Encrypt([]byte("someone@example.com"), SIV, Text)
		in.WriteString(`{"id":"r` + strconv.Itoa(n) + `","name":"Ann Lee","ssn":"` + ssn + `","email":"` + email + `"},`)
		n += 2
	}
	in.WriteString("{}]")
	ring.rotate("crm")
	old := in.Bytes()
	current, _, err := c.Rewrap(nil, old)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{{"old", old}, {"current", current}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.in)))
			dst := make([]byte, 0, 2*len(tc.in))
			for b.Loop() {
				if _, _, err := c.Rewrap(dst[:0], tc.in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/token")
		})
	}
}
