package token

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestRoundTripModesAndKinds(t *testing.T) {
	_, c, id := crmCodec()
	for _, mode := range []Mode{GCM, SIV} {
		for _, kind := range []Kind{Text, JSON} {
			for _, pt := range []string{"", "123-45-6789", strings.Repeat("é", 5000)} {
				tok, kid, err := c.Encrypt([]byte(pt), mode, kind)
				if err != nil {
					t.Fatalf("encrypt %c%c: %v", mode, kind, err)
				}
				if kid != id {
					t.Fatalf("key id %q, want %q", kid, id)
				}
				if strings.Contains(tok, "45-67") && len(pt) > 0 {
					t.Fatalf("token %q shows plaintext", tok)
				}
				if !strings.HasPrefix(tok, "kw1"+string(rune(mode))+string(rune(kind))+"."+AppTag("crm")+"."+id+".") {
					t.Fatalf("token %q has an unexpected header", tok)
				}
				if n := Span([]byte(tok)); n != len(tok) {
					t.Fatalf("Span = %d, want %d", n, len(tok))
				}
				o, err := c.Decrypt([]byte(tok))
				if err != nil {
					t.Fatalf("decrypt %c%c: %v", mode, kind, err)
				}
				if string(o.Plaintext) != pt || o.Kind != kind || o.Mode != mode || o.KeyID != id {
					t.Fatalf("decrypt gave %q %c%c %s", o.Plaintext, o.Mode, o.Kind, o.KeyID)
				}
			}
		}
	}
}

func TestDeterministicOnlyForSIV(t *testing.T) {
	ring, c, _ := crmCodec()
	a, _, _ := c.Encrypt([]byte("alice@example.com"), SIV, Text)
	b, _, _ := c.Encrypt([]byte("alice@example.com"), SIV, Text)
	if a != b {
		t.Fatalf("SIV tokens of equal plaintext differ: %s %s", a, b)
	}
	g1, _, _ := c.Encrypt([]byte("alice@example.com"), GCM, Text)
	g2, _, _ := c.Encrypt([]byte("alice@example.com"), GCM, Text)
	if g1 == g2 {
		t.Fatal("GCM tokens of equal plaintext are equal: nonce not random")
	}
	// Two applications sharing key material still get unrelated tokens.
	key := bytes.Repeat([]byte{7}, 32)
	ring.add("a", key)
	ring.add("b", key)
	ta, _, _ := NewCodec("a", ring).Encrypt([]byte("alice@example.com"), SIV, Text)
	tb, _, _ := NewCodec("b", ring).Encrypt([]byte("alice@example.com"), SIV, Text)
	if ta[strings.LastIndexByte(ta, '.'):] == tb[strings.LastIndexByte(tb, '.'):] {
		t.Fatal("deterministic payloads equal across applications")
	}
}

func TestDistinctErrors(t *testing.T) {
	ring := newMemRing(2)
	first := ring.rotate("crm")
	ring.rotate("hr")
	crm, hr := NewCodec("crm", ring), NewCodec("hr", ring)
	tok, _, err := crm.Encrypt([]byte("4111 1111 1111 1111"), GCM, Text)
	if err != nil {
		t.Fatal(err)
	}
	det, _, _ := crm.Encrypt([]byte("4111"), SIV, Text)

	if _, err := hr.Decrypt([]byte(tok)); !errors.Is(err, ErrWrongApplication) {
		t.Errorf("token of crm opened in hr: %v, want ErrWrongApplication", err)
	}
	for name, bad := range map[string]string{
		"payload bit":  flip(tok, len(tok)-5),
		"nonce":        flip(tok, strings.LastIndexByte(tok, '.')+2),
		"kind in AD":   tok[:4] + "j" + tok[5:],
		"mode swapped": tok[:3] + "s" + tok[4:],
		"siv payload":  flip(det, len(det)-3),
	} {
		if _, err := crm.Decrypt([]byte(bad)); !errors.Is(err, ErrTampered) && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrTampered", name, err)
		} else if name != "mode swapped" && !errors.Is(err, ErrTampered) {
			t.Errorf("%s: %v, want ErrTampered", name, err)
		}
	}
	if _, err := crm.Decrypt([]byte("kw1gt." + AppTag("crm") + ".nope1234." + strings.Repeat("A", 40))); !errors.Is(err, ErrUnknownGeneration) {
		t.Errorf("unknown id: %v, want ErrUnknownGeneration", err)
	}
	for _, bad := range []string{"", "kw1", "hello", "kw1xt.AAAAAAAA.id.AAAA", "kw1gt.AAAAAAAA..AAAA", "kw1gt.AAAAAAAA.id.short", tok + "!"} {
		if _, err := crm.Decrypt([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decrypt(%q) = %v, want ErrMalformed", bad, err)
		}
	}
	// Rotate twice past the ring size of 2: the first generation is gone.
	ring.rotate("crm")
	ring.rotate("crm")
	if _, err := crm.Decrypt([]byte(tok)); !errors.Is(err, ErrUnknownGeneration) {
		t.Errorf("token of dropped generation %s: %v, want ErrUnknownGeneration", first, err)
	}
	ring.setNoActive("crm", true)
	if _, _, err := crm.Encrypt([]byte("x"), GCM, Text); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("encrypt with no active key: %v, want ErrNoActiveKey", err)
	}
	if _, _, err := NewCodec("nobody", ring).Encrypt([]byte("x"), GCM, Text); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("encrypt for unknown app: %v, want ErrNoActiveKey", err)
	}
}

func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestRotationKeepsOldTokensAndZeroesMaterial(t *testing.T) {
	ring, c, g1 := crmCodec()
	old, _, _ := c.Encrypt([]byte("old"), GCM, Text)
	oldDet, _, _ := c.Encrypt([]byte("old"), SIV, Text)
	g2 := ring.rotate("crm")
	tok, kid, err := c.Encrypt([]byte("new"), GCM, Text)
	if err != nil || kid != g2 || kid == g1 {
		t.Fatalf("after rotation encrypt used %q (%v), want %q", kid, err, g2)
	}
	for _, tk := range []string{old, oldDet, tok} {
		if _, err := c.Decrypt([]byte(tk)); err != nil {
			t.Fatalf("decrypt %s after rotation: %v", tk[:20], err)
		}
	}
	if !ring.allHandedZeroed() {
		t.Fatal("the codec kept a copy of key material unzeroed")
	}
	c.Close()
}

func TestIndexFindsEmbeddedTokens(t *testing.T) {
	_, c, _ := crmCodec()
	tok, _, _ := c.Encrypt([]byte("secret"), GCM, Text)
	text := []byte("note: " + tok + ", rest; xkw1 kw1gt.bad " + tok)
	i, n := Index(text)
	if i != 6 || n != len(tok) {
		t.Fatalf("Index = %d,%d want 6,%d", i, n, len(tok))
	}
	j, m := Index(text[i+n:])
	if m != len(tok) || !bytes.Equal(text[i+n+j:i+n+j+m], []byte(tok)) {
		t.Fatalf("second Index = %d,%d", j, m)
	}
	if i, _ := Index([]byte("a" + tok)); i != -1 {
		t.Fatalf("token glued to a letter was found at %d", i)
	}
}

func TestConcurrentUseAcrossRotations(t *testing.T) {
	ring := newMemRing(4)
	ring.rotate("crm")
	c := NewCodec("crm", ring)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				mode := GCM
				if i%2 == 0 {
					mode = SIV
				}
				tok, _, err := c.Encrypt([]byte("v"), mode, Text)
				if err != nil {
					errs <- err
					return
				}
				o, err := c.Decrypt([]byte(tok))
				if err != nil && !errors.Is(err, ErrUnknownGeneration) {
					errs <- err
					return
				}
				if err == nil && string(o.Plaintext) != "v" {
					errs <- errors.New("wrong plaintext " + string(o.Plaintext))
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		ring.rotate("crm")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestFailedOpenKeepsDst: a token that fails authentication leaves what the
// caller's buffer held before it as it was, and no plaintext behind in the
// buffer's spare capacity, at sizes on every base64 path.
func TestFailedOpenKeepsDst(t *testing.T) {
	_, c, _ := crmCodec()
	forEachB64Codec(t, func(t *testing.T) {
		for _, n := range []int{1, 11, 47, 300, 5000, 70000} {
			pt := bytes.Repeat([]byte("SECRET-"), n/7+1)[:n]
			tok, _, err := c.Encrypt(pt, GCM, Text)
			if err != nil {
				t.Fatal(err)
			}
			for _, at := range []int{len(tok) - 3, len(tok) - 30, strings.LastIndexByte(tok, '.') + 3} {
				bad := flip(tok, at)
				dst := make([]byte, 0, 2*n+100)
				dst = append(dst, "prefix"...)
				out, _, err := c.AppendDecrypt(dst, []byte(bad))
				if !errors.Is(err, ErrTampered) {
					t.Fatalf("%d bytes, flipped at %d: %v, want ErrTampered", n, at, err)
				}
				if string(out) != "prefix" {
					t.Fatalf("%d bytes: dst became %q", n, out)
				}
				if n >= 7 && bytes.Contains(out[:cap(out)], []byte("SECRET-")) {
					t.Fatalf("%d bytes: plaintext left in dst's spare capacity", n)
				}
			}
			// And the genuine token opens after the prefix.
			out, o, err := c.AppendDecrypt([]byte("prefix"), []byte(tok))
			if err != nil || string(out[:6]) != "prefix" || !bytes.Equal(out[6:], pt) || !bytes.Equal(o.Plaintext, pt) {
				t.Fatalf("%d bytes: %v %q", n, err, o.Plaintext)
			}
		}
	})
}
