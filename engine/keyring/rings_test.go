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

// at is an hour after a fixed start, for dates in candidates.
func at(h int) *time.Time {
	x := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
	return &x
}

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
	cases := []struct {
		name  string
		cands []Candidate
		rule  string
		want  string // ranked, newest first
		left  string // left out, name:reason
	}{
		{"version beats dates", []Candidate{
			{UID: "a", Name: "k.9", Activated: at(5)}, {UID: "b", Name: "k.10", Activated: at(1)}, {UID: "c", Name: "k.2", Activated: at(9)},
		}, "version", "k.10,k.9,k.2", ""},
		{"activation when names carry no version", []Candidate{
			{UID: "a", Name: "alpha", Activated: at(5), Created: at(9)}, {UID: "b", Name: "beta", Activated: at(7), Created: at(1)},
		}, "activation-date", "beta,alpha", ""},
		{"initial date otherwise, undated last", []Candidate{
			{UID: "a", Name: "alpha", Created: at(1)}, {UID: "b", Name: "beta"}, {UID: "c", Name: "k.3", Created: at(3), Activated: at(4)},
		}, "initial-date", "k.3,alpha,beta", ""},
		{"mixed prefixes are not versions", []Candidate{
			{UID: "a", Name: "x.5", Created: at(1)}, {UID: "b", Name: "y.1", Created: at(2)},
		}, "initial-date", "y.1,x.5", ""},
		{"ten after nine", []Candidate{{UID: "a", Name: "k.9"}, {UID: "b", Name: "k.10"}, {UID: "c", Name: "k.11"}},
			RuleVersion, "k.11,k.10,k.9", ""},
		{"leading zeros are the same number", []Candidate{
			{UID: "a", Name: "k.007", Activated: at(1)}, {UID: "b", Name: "k.7", Activated: at(5)}, {UID: "c", Name: "k.8"}},
			RuleVersion, "k.8,k.007", "k.7:" + LeftDuplicate},
		{"huge numbers compare by digits", []Candidate{
			{UID: "a", Name: "k.99999999999999999999"}, {UID: "b", Name: "k.100000000000000000000"}, {UID: "c", Name: "k.2"}},
			RuleVersion, "k.100000000000000000000,k.99999999999999999999,k.2", ""},
		{"two objects with one number: the earlier activated keeps it", []Candidate{
			{UID: "b", Name: "k.3", Activated: at(9)}, {UID: "a", Name: "k.3", Activated: at(2)}, {UID: "c", Name: "k.2"}},
			RuleVersion, "k.3,k.2", "k.3:" + LeftDuplicate},
		{"another case is another prefix", []Candidate{
			{UID: "a", Name: "acme.crm.key.1"}, {UID: "b", Name: "acme.crm.key.2"}, {UID: "c", Name: "ACME.crm.key.9"}},
			RuleVersion, "acme.crm.key.2,acme.crm.key.1", "ACME.crm.key.9:" + LeftOtherPrefix},
		{"date ties broken numerically", []Candidate{
			{UID: "u9", Name: "beta", Created: at(1)}, {UID: "u10", Name: "beta", Created: at(1)}, {UID: "x", Name: "alpha"}},
			RuleInitialDate, "beta,beta,alpha", ""},
		{"numbered minority in a dated ring", []Candidate{
			{UID: "a", Name: "alpha", Activated: at(1)}, {UID: "b", Name: "beta", Activated: at(3)}, {UID: "c", Name: "k.5", Activated: at(2)}},
			RuleActivationDate, "beta,k.5,alpha", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := arrange(c.cands, nil, func(Candidate) bool { return true })
			var got, left []string
			for _, x := range a.ranked {
				got = append(got, x.Name)
			}
			for _, l := range a.leftOut {
				left = append(left, l.Name+":"+l.Reason)
			}
			if a.rule != c.rule || strings.Join(got, ",") != c.want || strings.Join(left, ",") != c.left {
				t.Fatalf("rule %s ranked %v left %v; want %s %s %s", a.rule, got, left, c.rule, c.want, c.left)
			}
			// Order agrees: the ranked ones first, then those left out.
			if rule := Order(c.cands); rule != c.rule {
				t.Fatalf("Order rule %s", rule)
			}
		})
	}
	// Date ties: the higher uid, compared as a number, ranks first.
	a := arrange([]Candidate{{UID: "u9", Name: "beta", State: engine.StateActive}, {UID: "u10", Name: "beta", State: engine.StateActive}}, nil, eligibleCand)
	if a.ranked[0].UID != "u10" {
		t.Fatalf("uid tie: %+v", a.ranked)
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

// names lists a ring's generation names, newest first.
func names(r *Rings, app string) string {
	ring, _ := r.Ring(app)
	var out []string
	for _, g := range ring.Gens {
		out = append(out, g.Name)
	}
	return strings.Join(out, ",")
}

func encrypts(r *Rings, app string) string {
	ring, _ := r.Ring(app)
	for _, g := range ring.Gens {
		if g.Encrypts {
			return g.Name
		}
	}
	return ""
}

// TestStrayNameNeverEncryptsNorReorders: a name matching the pattern but
// carrying no generation number, activated last, must not take over
// encryption nor make the ring fall back to date order.
func TestStrayNameNeverEncryptsNorReorders(t *testing.T) {
	r := NewRings()
	r.Configure("crm", "acme.crm.key.*", 3)
	var cands []Candidate
	for i := 1; i <= 3; i++ {
		c := cand(i, engine.StateActive)
		c.Activated = at(i)
		cands = append(cands, c)
	}
	apply(t, r, "crm", cands)
	stray := Candidate{UID: "uid-9", Name: "acme.crm.key.new", State: engine.StateActive, Activated: at(100)}
	d := apply(t, r, "crm", append(cands, stray))
	if got := names(r, "crm"); got != "acme.crm.key.3,acme.crm.key.2,acme.crm.key.1" || encrypts(r, "crm") != "acme.crm.key.3" {
		t.Fatalf("ring %s encrypts with %s", got, encrypts(r, "crm"))
	}
	if d.Changed() || d.Rule != RuleVersion {
		t.Fatalf("a stray name moved the ring: %+v", d)
	}
	if len(d.LeftOut) != 1 || d.LeftOut[0].Name != "acme.crm.key.new" || d.LeftOut[0].Reason != LeftNoNumber {
		t.Fatalf("left out %+v", d.LeftOut)
	}
	if w := r.Wanted("crm", append(cands, stray)); len(w) != 0 {
		t.Fatalf("the stray name's material is fetched: %v", w)
	}
}

// TestDuplicateNumberNeverDisplacesTheHeldGeneration: a second object
// named like a generation the ring holds stays out, whatever its dates.
func TestDuplicateNumberNeverDisplacesTheHeldGeneration(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewRings()
	r.Configure("crm", "", 4)
	late := t0.Add(time.Hour)
	cands := []Candidate{cand(1, engine.StateActive), cand(2, engine.StateActive)}
	cands[1].Activated = &late
	apply(t, r, "crm", cands)
	early := t0.Add(-time.Hour)
	twin := Candidate{UID: "uid-7", Name: "acme.crm.key.2", State: engine.StateActive, Activated: &early}
	d := apply(t, r, "crm", append(cands, twin))
	if d.Changed() || len(d.LeftOut) != 1 || d.LeftOut[0].UID != "uid-7" {
		t.Fatalf("diff %+v", d)
	}
	if _, k, _ := r.EncryptionKey("crm"); !bytes.Equal(k, mat(2)) {
		t.Fatal("the held generation 2 must keep encrypting")
	}
}

func TestEncryptorChangeSaysWhy(t *testing.T) {
	r := NewRings()
	r.Configure("crm", "", 4)
	cands := []Candidate{cand(1, engine.StateActive), cand(2, engine.StateActive)}
	d := apply(t, r, "crm", cands)
	if !d.EncryptorChanged || !d.Encryptor.Routine || d.Encryptor.From != nil || d.Encryptor.To.Name != "acme.crm.key.2" {
		t.Fatalf("first: %+v", d.Encryptor)
	}
	cands = append(cands, cand(3, engine.StateActive))
	d = apply(t, r, "crm", cands)
	if !d.Encryptor.Routine || d.Encryptor.From.Name != "acme.crm.key.2" || d.Encryptor.To.Name != "acme.crm.key.3" {
		t.Fatalf("rotation: %+v", d.Encryptor)
	}
	cands[2].State = engine.StateDeactivated
	d = apply(t, r, "crm", cands)
	if d.Encryptor.Routine || d.Encryptor.To.Name != "acme.crm.key.2" || !strings.Contains(d.Encryptor.Why, "acme.crm.key.3 was deactivated") {
		t.Fatalf("deactivated: %+v", d.Encryptor)
	}
	cands[1].State = engine.StateCompromised
	d = apply(t, r, "crm", cands)
	if d.Encryptor.Routine || d.Encryptor.To.Name != "acme.crm.key.1" || !strings.Contains(d.Encryptor.Why, "compromised") {
		t.Fatalf("compromised: %+v", d.Encryptor)
	}
	cands[0].State = engine.StateDestroyed
	d = apply(t, r, "crm", cands)
	if d.Encryptor.Routine || d.Encryptor.To != nil || !strings.Contains(d.Encryptor.Why, "no Active generation") {
		t.Fatalf("none left: %+v", d.Encryptor)
	}
}

// TestPreparedChangeIsInvisibleUntilCommit: the proxy keeps the previous
// encryptor until the change is committed; a discarded change zeroes the
// material it fetched.
func TestPreparedChangeIsInvisibleUntilCommit(t *testing.T) {
	r := NewRings()
	r.Configure("crm", "", 4)
	apply(t, r, "crm", []Candidate{cand(1, engine.StateActive)})
	cands := []Candidate{cand(1, engine.StateActive), cand(2, engine.StateActive)}
	cands[1].Material = mat(2)
	ch, err := r.Prepare("crm", cands)
	if err != nil {
		t.Fatal(err)
	}
	if _, k, _ := r.EncryptionKey("crm"); !bytes.Equal(k, mat(1)) {
		t.Fatal("a prepared generation encrypts before Commit")
	}
	sealed := ch.Seal()
	gens, err := decodeSeal(sealed)
	if err != nil || len(gens) != 2 || gens[0].Name != "acme.crm.key.2" {
		t.Fatalf("sealed change: %v %d", err, len(gens))
	}
	fresh := ch.fresh[0].material
	ch.Discard()
	if !bytes.Equal(fresh, make([]byte, KeySize)) {
		t.Fatal("discarded material not zeroed")
	}
	if err := r.Commit(ch); err == nil {
		t.Fatal("a discarded change committed")
	}
	cands[1].Material = mat(2)
	ch, _ = r.Prepare("crm", cands)
	apply(t, r, "crm", []Candidate{cand(1, engine.StateDeactivated)}) // the ring moves meanwhile
	if err := r.Commit(ch); !errors.Is(err, ErrRingMoved) {
		t.Fatalf("stale commit: %v", err)
	}
}

// FuzzArrange: whatever the names, every eligible candidate is either
// ranked or left out, exactly once; under the version rule the ranked
// names share one prefix with strictly decreasing numbers, so no stray
// name can sit among (or above) the numbered generations.
func FuzzArrange(f *testing.F) {
	f.Add("acme.crm.key.1", "acme.crm.key.new", "acme.crm.key.007", "acme.crm.key.7")
	f.Add("k.99999999999999999999999", "k.1", "K.2", "k-3")
	f.Add("", "_1", "a._", "a.0")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		states := []engine.State{engine.StateActive, engine.StateDeactivated, engine.StateDestroyed, engine.StateActive}
		var cands []Candidate
		for i, n := range []string{a, b, c, d} {
			cands = append(cands, Candidate{UID: fmt.Sprint("u", i), Name: n, State: states[i]})
		}
		arr := arrange(cands, func(uid string) bool { return uid == "u3" }, eligibleCand)
		seen := map[string]int{}
		for _, x := range arr.ranked {
			seen[x.UID]++
		}
		for _, l := range arr.leftOut {
			seen[l.UID]++
		}
		for _, c := range cands {
			if want := map[bool]int{true: 1, false: 0}[eligible(c.State)]; seen[c.UID] != want {
				t.Fatalf("%s (%q) placed %d times: %+v", c.UID, c.Name, seen[c.UID], arr)
			}
		}
		if arr.rule != RuleVersion {
			return
		}
		for i, x := range arr.ranked {
			g, ok := parseGen(x.Name)
			if !ok {
				t.Fatalf("unnumbered %q ranked under the version rule", x.Name)
			}
			if i > 0 {
				p, _ := parseGen(arr.ranked[i-1].Name)
				if p.prefix != g.prefix || compareDigits(p.digits, g.digits) <= 0 {
					t.Fatalf("ranked %q after %q", x.Name, arr.ranked[i-1].Name)
				}
			}
		}
	})
}

// TestOnChangeToldOfEachChange: the hook hears of each commit that changed
// a ring, once, with the application, after the ring is unlocked (it can
// read the ring), and not of a commit that changed nothing.
func TestOnChangeToldOfEachChange(t *testing.T) {
	r := NewRings()
	r.Configure("crm", "acme.crm.key.*", 16)
	r.Configure("hr", "acme.hr.key.*", 16)
	var told []string
	r.OnChange(func(app string) {
		rg, _ := r.Ring(app) // would deadlock under the commit's lock
		told = append(told, fmt.Sprintf("%s:%d", app, len(rg.Gens)))
	})
	cands := []Candidate{cand(1, engine.StateActive)}
	apply(t, r, "crm", cands)
	apply(t, r, "crm", cands) // nothing new
	cands = append(cands, cand(2, engine.StateActive))
	apply(t, r, "crm", cands) // a rotation
	if want := "[crm:1 crm:2]"; fmt.Sprint(told) != want {
		t.Fatalf("told %v, want %s", told, want)
	}
}

// TestVersionCounterIsVersion: the lock-free counter a token codec reads
// is the value Version reports, through every kind of change (a commit that
// changes the ring, one that does not, a smaller capacity, a restore, a
// close); nil for an application without a ring, and the same counter for
// the life of the ring.
func TestVersionCounterIsVersion(t *testing.T) {
	r := NewRings()
	if r.VersionCounter("crm") != nil {
		t.Fatal("a counter for an application without a ring")
	}
	r.Configure("crm", "acme.crm.key.*", 16)
	vc := r.VersionCounter("crm")
	if vc == nil {
		t.Fatal("no counter for a configured ring")
	}
	steps := []struct {
		what   string
		change func()
		moves  bool
	}{
		{"first poll", func() { apply(t, r, "crm", []Candidate{cand(1, engine.StateActive), cand(2, engine.StateActive)}) }, true},
		{"unchanged poll", func() { apply(t, r, "crm", []Candidate{cand(1, engine.StateActive), cand(2, engine.StateActive)}) }, false},
		{"rotation", func() {
			apply(t, r, "crm", []Candidate{cand(1, engine.StateActive), cand(2, engine.StateActive), cand(3, engine.StateActive)})
		}, true},
		{"smaller capacity", func() { r.Configure("crm", "acme.crm.key.*", 2) }, true},
		{"same capacity", func() { r.Configure("crm", "acme.crm.key.*", 2) }, false},
		{"close", func() { r.Close() }, true},
	}
	for _, s := range steps {
		before := vc.Load()
		s.change()
		if got := vc.Load(); got != r.Version("crm") || (got != before) != s.moves {
			t.Fatalf("%s: counter %d → %d, Version %d (moves %v)", s.what, before, got, r.Version("crm"), s.moves)
		}
		if r.VersionCounter("crm") != vc {
			t.Fatalf("%s: the counter was replaced", s.what)
		}
	}
	// A restore into an empty ring moves it too.
	src := NewRings()
	src.Configure("hr", "", 16)
	apply(t, src, "hr", []Candidate{cand(1, engine.StateActive)})
	blob, _ := src.Seal("hr")
	r.Configure("hr", "", 16)
	hr := r.VersionCounter("hr")
	before := hr.Load()
	if n, err := r.Restore("hr", blob); err != nil || n != 1 || hr.Load() == before || hr.Load() != r.Version("hr") {
		t.Fatalf("restore: %d %v, counter %d → %d", n, err, before, hr.Load())
	}
}
