package kmip

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/engine"
)

// TestFailedRelocateKeepsWhatThePollRead, against every KMS: crm's
// encrypting generation is deactivated with nothing newer, so the poll
// locates again, and the KMS goes away right then (the connection drops).
// The first Locate and the reads worked: the poll does not fail, the
// inventory records the deactivation it read, nothing is taken for
// destroyed, the ring keeps encrypting with the generation (whether the
// KMS made a successor is not known: no "no Active key" alert on half a
// view), and the source is degraded with the Locate's error. Once the KMS
// is back, the next poll settles it: one more Locate finds nothing new, the
// ring is left without an encryptor and the alert is raised.
func TestFailedRelocateKeepsWhatThePollRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		u1 := b.create(t, "acme.crm.key.1")
		e := polledCRM(t, b)
		unchanged := e.mustPoll().Locates
		b.revoke(t, u1, false)
		b.closeAdmin()
		e.src.beforeRelocate = b.stop
		st := e.mustPoll()
		e.src.beforeRelocate = nil
		if st.Relocates != 0 || st.Locates != unchanged {
			t.Fatalf("the failed Locate was counted: %d relocates, %d Locates (want 0, %d)", st.Relocates, st.Locates, unchanged)
		}
		if got := e.encryptsWith("crm"); got != "acme.crm.key.1" {
			t.Fatalf("crm encrypts with %q after a poll that could not look for a successor, want acme.crm.key.1 kept", got)
		}
		if k := e.key("acme.crm.key.1"); k.State != engine.StateDeactivated {
			t.Fatalf("the inventory says acme.crm.key.1 is %s; the poll read Deactivated", k.State)
		}
		if d := e.events(engine.OpDestroyed); len(d) != 0 {
			t.Fatalf("keys taken for destroyed: %+v", d)
		}
		if a := noActiveAlerts(e); len(a) != 0 {
			t.Fatalf("an alert from half a view: %+v", a)
		}
		h := e.health()
		if h.Health != engine.HealthDegraded || !strings.Contains(h.Reason, "the second Locate") ||
			!strings.Contains(h.Reason, "crm keeps encrypting with acme.crm.key.1 (the KMS shows it Deactivated) until a poll finds a successor") {
			t.Fatalf("health %s: %q", h.Health, h.Reason)
		}
		b.resume()
		st = e.mustPoll()
		if got := e.encryptsWith("crm"); got != "" {
			t.Fatalf("crm encrypts with %q once the KMS answered that nothing newer exists", got)
		}
		if a := noActiveAlerts(e); len(a) != 1 {
			t.Fatalf("alerts %+v", a)
		}
		if st.Relocates != unchanged || st.Locates != 2*unchanged {
			t.Fatalf("the poll after: %d relocates, %d Locates (want %d, %d)", st.Relocates, st.Locates, unchanged, 2*unchanged)
		}
	})
}

// TestRefusedRelocateDuringARotation: the KMS rotates crm after the poll's
// Locate (4 made Active, 3 deactivated) and refuses the Locate the poll
// sends again. The ring keeps 3 encrypting and does not learn 4 yet (no
// refusal window, no false alert, no generation joined from half a view);
// the refused Locate is counted. The next poll moves the ring to 4 as a
// routine rotation.
func TestRefusedRelocateDuringARotation(t *testing.T) {
	e, _, arm, done := racedKMS(t, func(srv *kms.Server, _ *backend) error {
		_, err := srv.Rotate("crm")
		srv.RefuseLocateBy(kmip.AttributeNameName, true)
		return err
	})
	e.mustPoll()
	refusals := noEncryptorCommits(e, "crm")
	arm(1)
	st := e.mustPoll()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st.Relocates != 1 || st.Locates != 2 || st.Gets != 0 || st.Added != 0 {
		t.Fatalf("the raced poll: %d relocates, %d Locates, %d Gets, %d added: %+v", st.Relocates, st.Locates, st.Gets, st.Added, st)
	}
	wire := api.KMIPPoll(st)
	if j, err := json.Marshal(wire); err != nil || !strings.Contains(string(j), `"relocates":1,`) ||
		!strings.Contains(wire.Summary(), "located again 1 time") {
		t.Fatalf("the socket's poll: %s (%v); summary %q", j, err, wire.Summary())
	}
	if got := e.encryptsWith("crm"); got != "acme.crm.key.3" {
		t.Fatalf("crm encrypts with %q, want acme.crm.key.3 kept", got)
	}
	if n := refusals.Load(); n != 0 || len(noActiveAlerts(e)) != 0 {
		t.Fatalf("%d commits without an encryptor, alerts %+v", n, noActiveAlerts(e))
	}
	if k := e.key("acme.crm.key.3"); k.State != engine.StateDeactivated {
		t.Fatalf("acme.crm.key.3 is %s in the inventory", k.State)
	}
	if h := e.health(); h.Health != engine.HealthDegraded || !strings.Contains(h.Reason, "the KMS refused Locate: InvalidField") {
		t.Fatalf("health %s: %q", h.Health, h.Reason)
	}
	e.b.embedded.RefuseLocateBy(kmip.AttributeNameName, false)
	st = e.mustPoll()
	if got := e.encryptsWith("crm"); got != "acme.crm.key.4" || st.Relocates != 0 || st.Added != 1 {
		t.Fatalf("the poll after: encrypts with %q, %d relocates, %d added", got, st.Relocates, st.Added)
	}
	if rot := e.eventsFor("acme.crm.key.4", engine.OpRotated); len(rot) != 1 || rot[0].Severity != engine.SeverityInfo {
		t.Fatalf("rotation events %+v", rot)
	}
	if h := e.health(); h.Health != engine.HealthOK {
		t.Fatalf("health after %s: %q", h.Health, h.Reason)
	}
}

// TestRelocatedReadCutKeepsTheEncryptor: the KMS rotates crm after the
// poll's Locate; the second Locate finds generation 4, and the connection
// drops (the KMS unreachable) while 4's attributes are read. As with a
// failed second Locate, the poll keeps what it read and the ring keeps
// encrypting with 3, degraded saying which step failed; once the KMS is
// reachable the next poll moves the ring to 4.
func TestRelocatedReadCutKeepsTheEncryptor(t *testing.T) {
	var f *forwarder
	var b *backend
	var locates atomic.Int32
	var cutRead, armed atomic.Bool
	b = startEmbedded(t, kms.Options{Apps: crm3,
		AfterLocate: func() {
			if !armed.Load() {
				return
			}
			switch locates.Add(1) {
			case 1:
				if _, err := b.embedded.Rotate("crm"); err != nil {
					t.Error(err)
				}
			case 2:
				cutRead.Store(true)
			}
		},
		AfterGetAttributes: func() {
			if cutRead.Swap(false) {
				f.up.Store(false)
				f.cut()
			}
		}})
	f, e := forwarded(t, b)
	e.mustPoll()
	armed.Store(true)
	st := e.mustPoll()
	armed.Store(false)
	if locates.Load() != 2 || cutRead.Load() {
		t.Fatalf("the scenario did not run: %d Locates, read cut pending %v", locates.Load(), cutRead.Load())
	}
	if got := e.encryptsWith("crm"); got != "acme.crm.key.3" || st.Relocates != 1 || len(noActiveAlerts(e)) != 0 {
		t.Fatalf("crm encrypts with %q, %d relocates, alerts %+v", got, st.Relocates, noActiveAlerts(e))
	}
	if h := e.health(); h.Health != engine.HealthDegraded || !strings.Contains(h.Reason, "reading what the second Locate found") ||
		!strings.Contains(h.Reason, "crm keeps encrypting with acme.crm.key.3") {
		t.Fatalf("health %s: %q", h.Health, h.Reason)
	}
	f.up.Store(true)
	if st := e.mustPoll(); e.encryptsWith("crm") != "acme.crm.key.4" || st.Added != 1 {
		t.Fatalf("the poll after: encrypts with %q, %+v", e.encryptsWith("crm"), st)
	}
}

// TestRelocateAsksOnlyTheUnsettledApplication: where the KMS expands
// wildcards, the Locate a poll sends again asks for the pattern of the
// application whose encrypting generation left, not for every
// application's: with crm raced and hr quiet, one more Locate, not two.
func TestRelocateAsksOnlyTheUnsettledApplication(t *testing.T) {
	var armed atomic.Int32
	var b *backend
	b = startEmbedded(t, kms.Options{Apps: []kms.App{crm3[0], {Name: "hr", Prefix: "acme.hr.key.", Generations: 2}},
		AfterLocate: func() {
			if armed.Add(-1) == 0 { // after crm's Locate, the batch's first
				if _, err := b.embedded.Rotate("crm"); err != nil {
					t.Error(err)
				}
			}
		}})
	e := newEnv(t, b, "", nil, crmApp, hrApp)
	e.mustPoll()
	if st := e.mustPoll(); st.Locates != 2 || e.src.wildcards != 1 {
		t.Fatalf("an unchanged poll: %d Locates (want one per application), wildcards %d", st.Locates, e.src.wildcards)
	}
	armed.Store(1)
	st := e.mustPoll()
	if st.Relocates != 1 || st.Locates != 3 {
		t.Fatalf("the raced poll: %d relocates, %d Locates (want 1 and 3: crm's pattern once more)", st.Relocates, st.Locates)
	}
	if e.encryptsWith("crm") != "acme.crm.key.4" || e.encryptsWith("hr") != "acme.hr.key.2" {
		t.Fatalf("crm encrypts with %q, hr with %q", e.encryptsWith("crm"), e.encryptsWith("hr"))
	}
}
