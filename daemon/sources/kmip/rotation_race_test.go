package kmip

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/engine"
)

// racedKMS is the embedded KMS holding crm's generations 1..3, where hook
// runs after each of the next n Locates answered once arm(n) is called,
// before the answer is sent (so before the poll's reads); done has the
// hook's results.
func racedKMS(t *testing.T, hook func(srv *kms.Server, b *backend) error) (e *env, b *backend, arm func(n int32), done <-chan error) {
	t.Helper()
	var armed atomic.Int32
	results := make(chan error, 16)
	b = startEmbedded(t, kms.Options{Apps: crm3,
		AfterLocate: func() {
			if armed.Add(-1) >= 0 {
				results <- hook(b.embedded, b)
			}
		}})
	e = newEnv(t, b, "", nil, crmApp)
	return e, b, func(n int32) { armed.Store(n) }, results
}

// noEncryptorCommits counts the ring changes of app the proxy would have
// seen without an encrypting generation (each commit, checked as it is
// made): a refusal window, however short.
func noEncryptorCommits(e *env, app string) *atomic.Int32 {
	var n atomic.Int32
	e.rings.OnChange(func(a string) {
		if a != app {
			return
		}
		if _, _, err := e.rings.EncryptionKey(app); err != nil {
			n.Add(1)
		}
	})
	return &n
}

// noActiveAlerts are the "no Active key left" alerts recorded so far.
func noActiveAlerts(e *env) []engine.Event {
	var out []engine.Event
	for _, ev := range e.events(engine.OpDropped) {
		if strings.Contains(ev.Details, "no Active key left") {
			out = append(out, ev)
		}
	}
	return out
}

// TestRotationBetweenLocateAndReadsNeverEncryptsWithTheOldGeneration: the
// KMS rotates crm (generation 4 made Active, 3 deactivated) after a poll's
// Locate is answered and before its reads. That poll reads 3 Deactivated
// with nothing newer located, so it locates again within the poll, finds 4,
// and moves the ring from 3 to 4 in one change: never encrypting with 3
// after the KMS deactivated it, never without an encryptor (no refusal
// window, no false "no Active key" alert), one routine rotation event
// naming both. The extra Locate is the only cost; the next, unchanged poll
// sends one Locate again.
func TestRotationBetweenLocateAndReadsNeverEncryptsWithTheOldGeneration(t *testing.T) {
	e, _, arm, rotated := racedKMS(t, func(srv *kms.Server, _ *backend) error {
		_, err := srv.Rotate("crm")
		return err
	})
	if st := e.mustPoll(); st.Locates != 2 { // the first poll ever: the listing and the wildcard probe
		t.Fatalf("first poll: %+v", st)
	}
	if got := e.encryptsWith("crm"); got != "acme.crm.key.3" {
		t.Fatalf("before the rotation crm encrypts with %q", got)
	}
	if st := e.mustPoll(); st.Locates != 1 || st.Relocates != 0 {
		t.Fatalf("an unchanged poll sent %d Locates (%d again), want 1: %+v", st.Locates, st.Relocates, st)
	}
	refusals := noEncryptorCommits(e, "crm")
	arm(1)
	st := e.mustPoll()
	if err := <-rotated; err != nil {
		t.Fatal(err)
	}
	if got := e.encryptsWith("crm"); got != "acme.crm.key.4" {
		t.Fatalf("after the poll the rotation raced crm encrypts with %q, want acme.crm.key.4 (ring %v)", got, e.ringNames("crm"))
	}
	if _, _, err := e.rings.EncryptionKey("crm"); err != nil {
		t.Fatalf("the proxy's encryption key after the raced poll: %v", err)
	}
	if n := refusals.Load(); n != 0 {
		t.Fatalf("%d ring changes left crm without an encrypting generation during the raced poll", n)
	}
	if a := noActiveAlerts(e); len(a) != 0 {
		t.Fatalf("a false alert: %+v", a)
	}
	if st.Locates != 2 || st.Relocates != 1 || st.Gets != 1 || st.Added != 1 {
		t.Fatalf("the raced poll: %d Locates (want 2: the second sees the rotation whole), %d Gets, %d added: %+v", st.Locates, st.Gets, st.Added, st)
	}
	rot := e.eventsFor("acme.crm.key.4", engine.OpRotated)
	if len(rot) != 1 || rot[0].Severity != engine.SeverityInfo || !strings.Contains(rot[0].Details, "was acme.crm.key.3") ||
		!strings.Contains(rot[0].Details, "a newer generation") {
		t.Fatalf("the rotation event %+v", rot)
	}
	if k := e.key("acme.crm.key.3"); k.State != engine.StateDeactivated {
		t.Fatalf("acme.crm.key.3 is %s in the inventory", k.State)
	}
	if st := e.mustPoll(); st.Locates != 1 || e.encryptsWith("crm") != "acme.crm.key.4" {
		t.Fatalf("the poll after: %d Locates (want 1), encrypts with %s", st.Locates, e.encryptsWith("crm"))
	}
}

// TestDeactivationBetweenLocateAndReadsWithNoSuccessorAlerts: the KMS
// deactivates crm's only Active generation after the Locate and creates
// nothing: the poll locates once more, finds nothing new, and leaves the
// ring without an encryptor with the alert; the relocate never invents a
// key.
func TestDeactivationBetweenLocateAndReadsWithNoSuccessorAlerts(t *testing.T) {
	var uid3 string
	e, b, arm, done := racedKMS(t, func(_ *kms.Server, b *backend) error {
		_, err := b.adminClient(t).Revoke(uid3).Exec()
		return err
	})
	e.mustPoll()
	r, _ := e.rings.Ring("crm")
	for _, g := range r.Gens {
		if g.Name == "acme.crm.key.3" {
			uid3 = g.UID
		}
	}
	b.adminClient(t) // connected before the hook runs
	arm(1)
	st := e.mustPoll()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := e.encryptsWith("crm"); got != "" {
		t.Fatalf("crm encrypts with %q after its only Active key was deactivated", got)
	}
	if a := noActiveAlerts(e); len(a) != 1 || a[0].Severity != engine.SeverityAlert {
		t.Fatalf("alerts %+v", a)
	}
	if st.Locates != 2 {
		t.Fatalf("%d Locates, want 2 (one more after the reads, which found nothing new): %+v", st.Locates, st)
	}
}

// TestKMSLeftWithoutAnActiveKeyStillAlerts, against every KMS: the
// encrypting generation deactivated with no other Active one is, after
// the one extra Locate that finds nothing new, the alert and an empty
// encryptor; a rotation seen whole (the new generation Active, the old one
// deactivated, both before the poll) costs no extra Locate.
func TestKMSLeftWithoutAnActiveKeyStillAlerts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		u1 := b.create(t, "acme.crm.key.1")
		e := polledCRM(t, b)
		unchanged := e.mustPoll().Locates
		b.create(t, "acme.crm.key.2")
		b.revoke(t, u1, false)
		if st := e.mustPoll(); st.Locates != unchanged || e.encryptsWith("crm") != "acme.crm.key.2" {
			t.Fatalf("a rotation seen whole: %d Locates (an unchanged poll sends %d), encrypts with %q", st.Locates, unchanged, e.encryptsWith("crm"))
		}
		if a := noActiveAlerts(e); len(a) != 0 {
			t.Fatalf("alerts after a whole rotation %+v", a)
		}
		r, _ := e.rings.Ring("crm")
		var u2 string
		for _, g := range r.Gens {
			if g.Name == "acme.crm.key.2" {
				u2 = g.UID
			}
		}
		b.revoke(t, u2, false)
		st := e.mustPoll()
		if got := e.encryptsWith("crm"); got != "" {
			t.Fatalf("crm encrypts with %q with no Active key in the KMS", got)
		}
		if a := noActiveAlerts(e); len(a) != 1 || a[0].Severity != engine.SeverityAlert || !strings.Contains(a[0].Details, "acme.crm.key.2") {
			t.Fatalf("alerts %+v", a)
		}
		if st.Locates != 2*unchanged {
			t.Fatalf("%d Locates, want %d (the poll's and one more, which found nothing new)", st.Locates, 2*unchanged)
		}
		if st := e.mustPoll(); st.Locates != unchanged || len(noActiveAlerts(e)) != 1 {
			t.Fatalf("the poll after: %d Locates (want %d: nothing encrypted, nothing to lose), %d alerts", st.Locates, unchanged, len(noActiveAlerts(e)))
		}
	})
}

// TestRelocatesAreBounded: a KMS that rotates after every Locate never
// shows a poll a generation still Active; the poll locates again at most
// maxRelocates times, then ends with what it read (no encryptor, the alert)
// instead of chasing the KMS forever, and the next quiet poll recovers.
func TestRelocatesAreBounded(t *testing.T) {
	e, _, arm, done := racedKMS(t, func(srv *kms.Server, _ *backend) error {
		_, err := srv.Rotate("crm")
		return err
	})
	e.mustPoll()
	arm(1 + maxRelocates + 1) // one more than the poll may send
	st := e.mustPoll()
	arm(0)
	for range 1 + maxRelocates {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if st.Locates != 1+maxRelocates || st.Relocates != maxRelocates {
		t.Fatalf("%d Locates, want %d (the poll's and maxRelocates more)", st.Locates, 1+maxRelocates)
	}
	if got := e.encryptsWith("crm"); got != "" {
		t.Fatalf("crm encrypts with %q, which the KMS deactivated during the poll", got)
	}
	if len(noActiveAlerts(e)) != 1 {
		t.Fatalf("alerts %+v", noActiveAlerts(e))
	}
	want := fmt.Sprintf("acme.crm.key.%d", 3+1+maxRelocates) // one rotation per Locate
	if st := e.mustPoll(); e.encryptsWith("crm") != want || st.Locates != 1 {
		t.Fatalf("the quiet poll after the churn: encrypts with %q (want %s), %d Locates", e.encryptsWith("crm"), want, st.Locates)
	}
}
