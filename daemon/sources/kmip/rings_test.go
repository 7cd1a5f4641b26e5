package kmip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/kek/kektest"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
	"github.com/keyward/keyward/engine/token"
)

// health is the source's recorded health.
func (e *env) health() engine.Source {
	e.t.Helper()
	srcs, err := e.st.Sources(context.Background())
	if err != nil || len(srcs) == 0 {
		e.t.Fatalf("sources: %v", err)
	}
	return srcs[0]
}

// eventsFor lists the events of one key name with an operation ("" any).
func (e *env) eventsFor(name, op string) []engine.Event {
	var out []engine.Event
	for _, ev := range e.events(op) {
		if ev.KeyID == engine.KeyID("kms", name, "") {
			out = append(out, ev)
		}
	}
	return out
}

// TestStrayNameNeverTakesOverTheRing: a key named like the application's
// generations but without a number, created and activated last, neither
// encrypts nor reorders the ring; it is left out with a warning, once,
// and its material is never fetched.
func TestStrayNameNeverTakesOverTheRing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for i := 1; i <= 3; i++ {
			b.create(t, fmt.Sprintf("acme.crm.key.%d", i))
		}
		e := newEnv(t, b, "", nil, config.Application{Name: "crm", Pattern: "acme.crm.key.*", Generations: 3})
		e.mustPoll()
		time.Sleep(1100 * time.Millisecond) // a later Activation Date, to the second
		b.create(t, "acme.crm.key.new")
		for i := range 2 {
			st := e.mustPoll()
			if got := strings.Join(e.ringNames("crm"), ","); got != "acme.crm.key.3,acme.crm.key.2,acme.crm.key.1" || e.encryptsWith("crm") != "acme.crm.key.3" {
				t.Fatalf("poll %d: ring %s encrypts with %s", i, got, e.encryptsWith("crm"))
			}
			if st.Gets != 0 || len(st.LeftOut) != 1 || !strings.Contains(st.LeftOut[0], "acme.crm.key.new: left out: no-generation-number") {
				t.Fatalf("poll %d: %+v", i, st)
			}
		}
		ev := e.eventsFor("acme.crm.key.new", engine.OpRefused)
		if len(ev) != 1 || ev[0].Severity != engine.SeverityWarn || !strings.Contains(ev[0].Details, "no generation number") {
			t.Fatalf("refusal events %+v", ev)
		}
		if n := len(e.events(engine.OpRotated)); n != 1 {
			t.Fatalf("%d rotation events, want only the first poll's", n)
		}
		if e.src.Rings()[0].Rule != keyring.RuleVersion {
			t.Fatalf("rule %q", e.src.Rings()[0].Rule)
		}
		if h := e.health(); h.Health != engine.HealthDegraded || !strings.Contains(h.Reason, "acme.crm.key.new") {
			t.Fatalf("health %+v", h)
		}
	})
}

// TestEveryEncryptorChangeIsAnEvent: a routine rotation is info and names
// both generations; an older generation taking over is a warning that says
// why.
func TestEveryEncryptorChangeIsAnEvent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		b.create(t, "acme.crm.key.2")
		e := polledCRM(t, b)
		u3 := b.create(t, "acme.crm.key.3")
		e.mustPoll()
		rot := e.eventsFor("acme.crm.key.3", engine.OpRotated)
		if len(rot) != 1 || rot[0].Severity != engine.SeverityInfo || !strings.Contains(rot[0].Details, "was acme.crm.key.2") ||
			!strings.Contains(rot[0].Details, "a newer generation") {
			t.Fatalf("rotation %+v", rot)
		}
		b.revoke(t, u3, false) // deactivated: the older key.2 takes over
		e.mustPoll()
		back := e.eventsFor("acme.crm.key.2", engine.OpRotated)[:1] // newest first; the first poll's follows
		if len(back) != 1 || back[0].Severity != engine.SeverityWarn || !strings.Contains(back[0].Details, "was acme.crm.key.3") ||
			!strings.Contains(back[0].Details, "acme.crm.key.3 was deactivated") {
			t.Fatalf("fallback %+v", back)
		}
	})
}

// TestAlreadyCompromisedWhenFirstSeenAlerts: a key compromised (or
// destroyed) before the first poll raises the alert a compromise during
// the run does, not an info "discovered".
func TestAlreadyCompromisedWhenFirstSeenAlerts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		u2 := b.create(t, "acme.crm.key.2")
		b.revoke(t, u2, true)
		e := polledCRM(t, b)
		ev := e.eventsFor("acme.crm.key.2", "")
		if len(ev) != 1 || ev[0].Operation != engine.OpCompromised || ev[0].Severity != engine.SeverityAlert ||
			!strings.Contains(ev[0].Details, "already compromised") {
			t.Fatalf("events of the compromised key %+v", ev)
		}
		if e.encryptsWith("crm") != "acme.crm.key.1" {
			t.Fatalf("encrypts with %s", e.encryptsWith("crm"))
		}
	})
}

// TestPushedOutGenerationWarnsWithItsUse: the oldest generation of a full
// ring is shown as the next to leave with its recent decrypts, and when it
// is pushed out the warning says how many tokens it still opened and when.
func TestPushedOutGenerationWarnsWithItsUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		b.create(t, "acme.crm.key.2")
		e := newEnv(t, b, "", nil, config.Application{Name: "crm", Pattern: "acme.crm.key.*", Generations: 2})
		e.mustPoll()
		r, _ := e.rings.Ring("crm")
		old := r.Gens[1]
		hour := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
		if err := e.st.AddUsage(context.Background(), []engine.Usage{{Hour: hour, Application: "crm", KeyID: old.ShortID, Decrypts: 42}}); err != nil {
			t.Fatal(err)
		}
		e.mustPoll()
		e.mustPoll() // once only
		warn := e.eventsFor("acme.crm.key.1", engine.OpRingWarning)
		if len(warn) != 1 || warn[0].Severity != engine.SeverityWarn || !strings.Contains(warn[0].Details, "leaves the full crm ring at the next rotation") ||
			!strings.Contains(warn[0].Details, "still decrypted 42 token(s) in the last 7 days") || !strings.Contains(warn[0].Details, "keyward rewrap --app crm") {
			t.Fatalf("warning before the generation leaves: %+v", warn)
		}
		no := e.src.Rings()[0].NextOut
		if no == nil || no.Name != "acme.crm.key.1" || no.Decrypts != 42 || no.LastDecrypt == nil || !no.LastDecrypt.Equal(hour) {
			t.Fatalf("next out %+v", no)
		}
		b.create(t, "acme.crm.key.3")
		e.mustPoll()
		ev := e.eventsFor("acme.crm.key.1", engine.OpDropped)
		if len(ev) != 1 || ev[0].Severity != engine.SeverityWarn || !strings.Contains(ev[0].Details, "still decrypted 42 tokens") ||
			!strings.Contains(ev[0].Details, hour.Format("2006-01-02 15:04")) || !strings.Contains(ev[0].Details, old.ShortID) {
			t.Fatalf("pushed-out events %+v", ev)
		}
		if no := e.src.Rings()[0].NextOut; no == nil || no.Name != "acme.crm.key.2" || no.Decrypts != 0 {
			t.Fatalf("next out after the rotation %+v", no)
		}
	})
}

// failingSealed is the database refusing to store wrapped rings (a full
// disk, a read-only file) while reads still work.
type failingSealed struct {
	SealedStore
	fail atomic.Bool
}

func (f *failingSealed) PutSealed(ctx context.Context, kind, name string, blob []byte) error {
	if f.fail.Load() {
		return errors.New("sqlite: attempt to write a readonly database")
	}
	return f.SealedStore.PutSealed(ctx, kind, name, blob)
}

// TestGenerationNeverEncryptsBeforeItIsStored: when the wrapped ring cannot
// be written, the new generation does not encrypt, the source is degraded
// saying why, and a restart with the KMS down opens every token made in
// the meantime; once the database works again the generation joins.
func TestGenerationNeverEncryptsBeforeItIsStored(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		k, _ := kektest.New(t)
		e := newEnv(t, b, "", k, crmApp)
		fs := &failingSealed{SealedStore: e.st}
		e.src.deps.Sealed = fs
		e.mustPoll()
		codec := token.NewCodec("crm", e.rings)
		var toks []string
		seal := func() {
			tok, _, err := codec.Encrypt([]byte(fmt.Sprint("secret ", len(toks))), token.GCM, token.Text)
			if err != nil {
				t.Fatal(err)
			}
			toks = append(toks, tok)
		}
		seal()

		fs.fail.Store(true)
		b.create(t, "acme.crm.key.2")
		for i := range 2 {
			st := e.mustPoll()
			if e.encryptsWith("crm") != "acme.crm.key.1" || len(e.ringNames("crm")) != 1 {
				t.Fatalf("poll %d: ring %v encrypts with %s before its wrapped copy is stored", i, e.ringNames("crm"), e.encryptsWith("crm"))
			}
			if st.Gets != 1 {
				t.Fatalf("poll %d: %d Gets; the waiting generation is fetched again each poll", i, st.Gets)
			}
			if h := e.health(); h.Health != engine.HealthDegraded || !strings.Contains(h.Reason, "readonly database") ||
				!strings.Contains(h.Reason, "acme.crm.key.2 wait outside the ring and acme.crm.key.1 keeps encrypting") {
				t.Fatalf("poll %d: health %+v", i, h)
			}
			seal()
		}
		if n := len(e.eventsFor("acme.crm.key.2", engine.OpRotated)); n != 0 {
			t.Fatalf("%d rotation events for a generation that never encrypted", n)
		}

		// The database works again: the generation is stored, then encrypts.
		fs.fail.Store(false)
		e.mustPoll()
		if e.encryptsWith("crm") != "acme.crm.key.2" || e.health().Health != engine.HealthOK {
			t.Fatalf("after the database recovered: encrypts with %s, %+v", e.encryptsWith("crm"), e.health())
		}
		seal()

		// Restart with the KMS down: every token opens.
		b.closeAdmin()
		b.stop()
		e.st.Close()
		e2 := newEnv(t, b, e.dbPath, k, crmApp)
		c2 := token.NewCodec("crm", e2.rings)
		for i, tok := range toks {
			o, err := c2.Decrypt([]byte(tok))
			if err != nil || string(o.Plaintext) != fmt.Sprint("secret ", i) {
				t.Fatalf("token %d after a restart with the KMS down: %v", i, err)
			}
		}
	})
}

// TestGenerationNumberGoingBackwardsOnlyDecrypts: a key created after the
// newest but numbered below it joins the ring in its number's place, never
// encrypts, and says so once; a duplicate of a held number stays out.
func TestGenerationNumberGoingBackwardsOnlyDecrypts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		b.create(t, "acme.crm.key.5")
		e := polledCRM(t, b)
		b.create(t, "acme.crm.key.3")
		b.create(t, "acme.crm.key.005")
		for range 2 {
			e.mustPoll()
		}
		if got := strings.Join(e.ringNames("crm"), ","); got != "acme.crm.key.5,acme.crm.key.3,acme.crm.key.1" || e.encryptsWith("crm") != "acme.crm.key.5" {
			t.Fatalf("ring %s encrypts with %s", got, e.encryptsWith("crm"))
		}
		ev := e.eventsFor("acme.crm.key.3", engine.OpRingWarning)
		if len(ev) != 1 || ev[0].Severity != engine.SeverityWarn || !strings.Contains(ev[0].Details, "goes backwards") {
			t.Fatalf("events of the backwards generation %+v", ev)
		}
		dup := e.eventsFor("acme.crm.key.005", engine.OpRefused)
		if len(dup) != 1 || !strings.Contains(dup[0].Details, "duplicate-generation") || !strings.Contains(dup[0].Details, "generation 5 is already acme.crm.key.5") {
			t.Fatalf("events of the duplicate %+v", dup)
		}
		if len(e.events(engine.OpRotated)) != 1 {
			t.Fatalf("rotations %+v", e.events(engine.OpRotated))
		}
	})
}
