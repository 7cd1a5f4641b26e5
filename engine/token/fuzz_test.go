package token

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// FuzzParseToken: Parse, Span, Index and Decrypt never panic on any input;
// whatever Parse accepts is exactly what Span measures; no mutation of a
// genuine token decrypts to anything but an original plaintext; and the
// fast path of a token of the generation used last answers exactly as the
// full parse does.
func FuzzParseToken(f *testing.F) {
	ring := newMemRing(16)
	ring.add("crm", bytes.Repeat([]byte{1}, 32))
	c := NewCodec("crm", ring)
	var genuine []byte
	for _, m := range []Mode{GCM, SIV} {
		for _, k := range []Kind{Text, JSON} {
			tok, _, _ := c.Encrypt([]byte("123-45-6789"), m, k)
			f.Add([]byte(tok))
			f.Add([]byte(tok[:len(tok)-1]))
			f.Add([]byte(`{"ssn":"` + tok + `"}`))
			genuine = []byte(tok)
		}
	}
	longPlain := bytes.Repeat([]byte("123-45-6789"), 20)
	long, _, _ := c.Encrypt(longPlain, GCM, Text)
	f.Add([]byte(long))
	f.Add([]byte("kw1gt.AAAAAAAA.x.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	f.Add([]byte("kw1sj..."))
	f.Add([]byte("kw1"))
	f.Fuzz(func(t *testing.T, in []byte) {
		tk, err := Parse(in)
		if err == nil {
			if Span(in) != len(in) {
				t.Fatalf("Parse accepted %q but Span = %d", in, Span(in))
			}
			if !bytes.HasPrefix(in, tk.Header) || len(tk.Header)+len(tk.Payload) != len(in) {
				t.Fatalf("header/payload do not cover %q", in)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("Parse error %v is not ErrMalformed", err)
		}
		if i, n := Index(in); i >= 0 {
			if _, err := Parse(in[i : i+n]); err != nil {
				t.Fatalf("Index found %q which does not parse: %v", in[i:i+n], err)
			}
		}
		o, err := c.Decrypt(in)
		if err == nil && string(o.Plaintext) != "123-45-6789" && !bytes.Equal(o.Plaintext, longPlain) {
			t.Fatalf("forged token %q opened to %q", in, o.Plaintext)
		}
		// The header fast path (a token of the generation used last) and
		// the full parse give the same answer, byte for byte and error
		// for error.
		if _, err := c.Decrypt(genuine); err != nil {
			t.Fatal(err)
		}
		warm, ow, errW := c.AppendDecrypt([]byte("p"), in)
		c.lastDec.Store(nil)
		cold, oc, errC := c.AppendDecrypt([]byte("p"), in)
		if !bytes.Equal(warm, cold) || fmt.Sprint(errW) != fmt.Sprint(errC) || ow.KeyID != oc.KeyID || ow.Mode != oc.Mode || ow.Kind != oc.Kind {
			t.Fatalf("%q: fast path %q %+v %v, full parse %q %+v %v", in, warm, ow, errW, cold, oc, errC)
		}
	})
}

func TestFormatIsStable(t *testing.T) {
	// A known vector: fixed key, deterministic mode, so the exact token is
	// pinned and a format change cannot go unnoticed.
	ring := newMemRing(16)
	id := ring.add("crm", bytes.Repeat([]byte{1}, 32))
	c := NewCodec("crm", ring)
	tok, _, err := c.Encrypt([]byte("123-45-6789"), SIV, Text)
	if err != nil {
		t.Fatal(err)
	}
	want := "kw1st." + AppTag("crm") + "." + id + "."
	if tok[:len(want)] != want || len(tok) != len(want)+b64.EncodedLen(16+11) {
		t.Fatalf("token %q does not have the documented layout %q + base64url(16+11 bytes)", tok, want)
	}
	if AppTag("crm") != "KtOqtqWJ" {
		t.Fatalf("AppTag(crm) = %q, the documented derivation changed", AppTag("crm"))
	}
}
