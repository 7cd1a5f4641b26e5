package keyring

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

func mat(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, KeySize) }

func cand(i int, st engine.State) Candidate {
	return Candidate{UID: fmt.Sprint("uid-", i), Name: fmt.Sprint("acme.crm.key.", i), State: st}
}

// apply simulates a poller: ask what is wanted, hand exactly that material.
func apply(t *testing.T, r *Rings, app string, cands []Candidate) Diff {
	t.Helper()
	want := map[string]bool{}
	for _, u := range r.Wanted(app, cands) {
		want[u] = true
	}
	for i := range cands {
		if want[cands[i].UID] {
			var n int
			fmt.Sscanf(cands[i].UID, "uid-%d", &n)
			cands[i].Material = mat(n)
		}
	}
	d, err := r.Apply(app, cands)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNewestActiveEncryptsAnyRetainedDecrypts(t *testing.T) {
	r := NewRings()
	r.Configure("crm", "acme.crm.key.*", 16)
	var cands []Candidate
	for i := 0; i < 3; i++ {
		cands = append(cands, cand(i, engine.StateActive))
	}
	cands[0].State = engine.StateDeactivated
	d := apply(t, r, "crm", cands)
	if len(d.Added) != 3 {
		t.Fatalf("added %d, want 3", len(d.Added))
	}
	id, key, err := r.EncryptionKey("crm")
	if err != nil || !bytes.Equal(key, mat(2)) {
		t.Fatalf("encrypt key = %x, %v; want generation 2", key, err)
	}
	if id != ShortID(Fingerprint(mat(2))) || len(id) != 8 {
		t.Fatalf("short id %q", id)
	}
	// The deactivated generation still decrypts.
	old := ShortID(Fingerprint(mat(0)))
	if k, err := r.DecryptionKey("crm", old); err != nil || !bytes.Equal(k, mat(0)) {
		t.Fatalf("deactivated generation must decrypt: %v", err)
	}
	if _, err := r.DecryptionKey("crm", "AAAAAAAA"); !errors.Is(err, ErrUnknownGeneration) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, _, err := r.EncryptionKey("hr"); !errors.Is(err, ErrUnknownApplication) {
		t.Fatalf("unknown app: %v", err)
	}
	// Returned material is a copy: scribbling on it changes nothing.
	key[0] ^= 0xff
	if _, k2, _ := r.EncryptionKey("crm"); !bytes.Equal(k2, mat(2)) {
		t.Fatal("EncryptionKey must return a copy")
	}
	// A quiet poll changes nothing and needs no material.
	v := r.Version("crm")
	if w := r.Wanted("crm", cands); len(w) != 0 {
		t.Fatalf("quiet poll wants %v", w)
	}
	if d := apply(t, r, "crm", cands); d.Changed() || r.Version("crm") != v {
		t.Fatalf("quiet poll changed the ring: %+v", d)
	}
}

func TestSeventeenthGenerationPushesOutFirstAndZeroesIt(t *testing.T) {
	r := NewRings()
	r.Configure("crm", "acme.crm.key.*", 16)
	var cands []Candidate
	for i := 1; i <= 16; i++ {
		cands = append(cands, cand(i, engine.StateDeactivated))
	}
	apply(t, r, "crm", cands)
	first := r.rings["crm"].gens[15]
	if first.Name != "acme.crm.key.1" {
		t.Fatalf("oldest is %s", first.Name)
	}
	held := first.material
	cands = append(cands, cand(17, engine.StateActive))
	d := apply(t, r, "crm", cands)
	if len(d.Added) != 1 || d.Added[0].Name != "acme.crm.key.17" {
		t.Fatalf("added %+v", d.Added)
	}
	if len(d.Dropped) != 1 || d.Dropped[0].Name != "acme.crm.key.1" || d.Dropped[0].Reason != "pushed-out" {
		t.Fatalf("dropped %+v", d.Dropped)
	}
	if !bytes.Equal(held, make([]byte, KeySize)) {
		t.Fatal("dropped generation's material was not zeroed")
	}
	ring, _ := r.Ring("crm")
	if len(ring.Gens) != 16 || ring.Gens[0].Name != "acme.crm.key.17" || !ring.Gens[0].Encrypts {
		t.Fatalf("ring %+v", ring.Gens[0])
	}
}

func TestCompromisedAndDestroyedLeaveAtOnce(t *testing.T) {
	r := NewRings()
	r.Configure("crm", "", 0)
	cands := []Candidate{cand(1, engine.StateActive), cand(2, engine.StateActive), cand(3, engine.StateActive)}
	apply(t, r, "crm", cands)
	cands[2].State = engine.StateCompromised // the newest, which encrypted
	cands = cands[:2]
	cands = append(cands, Candidate{UID: "uid-3", Name: "acme.crm.key.3", State: engine.StateCompromised})
	cands[0].State = engine.StateDestroyed
	d := apply(t, r, "crm", cands)
	reasons := map[string]string{}
	for _, x := range d.Dropped {
		reasons[x.Name] = x.Reason
	}
	if reasons["acme.crm.key.3"] != "compromised" || reasons["acme.crm.key.1"] != "destroyed" {
		t.Fatalf("dropped %v", reasons)
	}
	if !d.EncryptorChanged {
		t.Fatal("encryptor must move off the compromised key")
	}
	if _, k, _ := r.EncryptionKey("crm"); !bytes.Equal(k, mat(2)) {
		t.Fatal("generation 2 must now encrypt")
	}
	if _, err := r.DecryptionKey("crm", ShortID(Fingerprint(mat(3)))); !errors.Is(err, ErrUnknownGeneration) {
		t.Fatal("a compromised key must not decrypt")
	}
	// Gone from the KMS entirely.
	d = apply(t, r, "crm", nil)
	if len(d.Dropped) != 1 || d.Dropped[0].Reason != "gone" {
		t.Fatalf("dropped %+v", d.Dropped)
	}
	if _, _, err := r.EncryptionKey("crm"); !errors.Is(err, ErrNoActiveKey) {
		t.Fatalf("empty ring: %v", err)
	}
}

func TestOrderingRule(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) *time.Time { x := t0.Add(time.Duration(h) * time.Hour); return &x }
	cases := []struct {
		name  string
		cands []Candidate
		rule  string
		want  string
	}{
		{"version beats dates", []Candidate{
			{UID: "a", Name: "k.9", Activated: at(5)}, {UID: "b", Name: "k.10", Activated: at(1)}, {UID: "c", Name: "k.2", Activated: at(9)},
		}, "version", "k.10,k.9,k.2"},
		{"activation when names carry no version", []Candidate{
			{UID: "a", Name: "alpha", Activated: at(5), Created: at(9)}, {UID: "b", Name: "beta", Activated: at(7), Created: at(1)},
		}, "activation-date", "beta,alpha"},
		{"initial date otherwise, undated last", []Candidate{
			{UID: "a", Name: "alpha", Created: at(1)}, {UID: "b", Name: "beta"}, {UID: "c", Name: "k.3", Created: at(3), Activated: at(4)},
		}, "initial-date", "k.3,alpha,beta"},
		{"mixed prefixes are not versions", []Candidate{
			{UID: "a", Name: "x.5", Created: at(1)}, {UID: "b", Name: "y.1", Created: at(2)},
		}, "initial-date", "y.1,x.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rule := Order(c.cands)
			var names []string
			for _, x := range c.cands {
				names = append(names, x.Name)
			}
			if rule != c.rule || strings.Join(names, ",") != c.want {
				t.Fatalf("rule %s order %v; want %s %s", rule, names, c.rule, c.want)
			}
		})
	}
}

func TestRejectsShortKeysAndDuplicateMaterial(t *testing.T) {
	r := NewRings()
	r.Configure("crm", "", 4)
	short := []byte("0123456789abcdef")
	d, err := r.Apply("crm", []Candidate{
		{UID: "u1", Name: "k.1", State: engine.StateActive, Material: mat(1)},
		{UID: "u2", Name: "k.2", State: engine.StateActive, Material: short},
		{UID: "u3", Name: "k.3", State: engine.StateActive, Material: mat(1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Added) != 1 || len(d.Rejected) != 2 {
		t.Fatalf("added %d rejected %+v", len(d.Added), d.Rejected)
	}
	if !bytes.Equal(short, make([]byte, 16)) {
		t.Fatal("rejected material must be zeroed")
	}
	if !strings.Contains(d.Rejected[0].Reason+d.Rejected[1].Reason, "128 bits") {
		t.Fatalf("reasons %+v", d.Rejected)
	}
}

func TestSealRestoreRoundTrip(t *testing.T) {
	r := NewRings()
	r.Configure("crm", "", 16)
	cands := []Candidate{cand(1, engine.StateDeactivated), cand(2, engine.StateActive)}
	apply(t, r, "crm", cands)
	blob, err := r.Seal("crm")
	if err != nil {
		t.Fatal(err)
	}
	r2 := NewRings()
	r2.Configure("crm", "", 16)
	n, err := r2.Restore("crm", blob)
	if err != nil || n != 2 {
		t.Fatalf("restore %d %v", n, err)
	}
	id1, k1, _ := r.EncryptionKey("crm")
	id2, k2, _ := r2.EncryptionKey("crm")
	if id1 != id2 || !bytes.Equal(k1, k2) {
		t.Fatal("restored ring encrypts with a different key")
	}
	ring, _ := r2.Ring("crm")
	if !ring.Gens[0].Restored {
		t.Fatal("restored generations must say so")
	}
	// A non-empty ring is never overwritten by the older copy.
	if n, err := r2.Restore("crm", blob); err != nil || n != 0 {
		t.Fatalf("second restore %d %v", n, err)
	}
	blob[len(blob)-1] ^= 1 // still decodes (material bits), but truncation must fail
	if _, err := decodeSeal(blob[:len(blob)-3]); !errors.Is(err, ErrBadSeal) {
		t.Fatalf("truncated: %v", err)
	}
}

func FuzzDecodeSeal(f *testing.F) {
	r := NewRings()
	r.Configure("crm", "", 16)
	d, _ := r.Apply("crm", []Candidate{{UID: "u", Name: "k.1", State: engine.StateActive, Material: mat(1)}})
	_ = d
	good, _ := r.Seal("crm")
	f.Add(good)
	f.Add([]byte("KWR1\x00\x00"))
	f.Add([]byte("KWR1\xff\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		gens, err := decodeSeal(b)
		if err != nil {
			if gens != nil {
				t.Fatal("partial result on error")
			}
			return
		}
		for _, g := range gens {
			if len(g.material) != KeySize || !eligible(g.State) {
				t.Fatalf("accepted bad generation %+v", g.Generation)
			}
		}
	})
}

func FuzzOrder(f *testing.F) {
	f.Add("acme.crm.key.1", "acme.crm.key.10", "acme.crm.key.x")
	f.Add("a-1", "a_2", "a.3")
	f.Add("", "9", ".")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		cands := []Candidate{{UID: "1", Name: a}, {UID: "2", Name: b}, {UID: "3", Name: c}}
		rule := Order(cands)
		again := []Candidate{cands[2], cands[0], cands[1]}
		if Order(again) != rule {
			t.Fatal("rule depends on input order")
		}
		for i := range cands {
			if cands[i].UID != again[i].UID {
				t.Fatalf("order not total: %v vs %v", cands, again)
			}
		}
	})
}

// TestFingerprintIsDomainSeparated pins the fingerprint construction: the
// inventory, the wrapped rings and the token key ids all depend on it, so a
// change would make every stored fingerprint a stranger. It is SHA-256 over
// a fixed label and the material, not a bare hash of the key.
func TestFingerprintIsDomainSeparated(t *testing.T) {
	m := make([]byte, KeySize)
	for i := range m {
		m[i] = byte(i)
	}
	const want = "416c6bd81dc6e7a9800e8f525335983d5cfbec21cf77db7d541ef7d703ead451"
	const bare = "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd" // sha256(m)
	if got := Fingerprint(m); got != want || got == bare {
		t.Fatalf("Fingerprint = %s, want %s (and never the bare SHA-256 %s)", got, want, bare)
	}
}
