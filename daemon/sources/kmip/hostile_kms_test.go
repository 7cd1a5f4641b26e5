package kmip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/kek/kektest"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// stalledKMS is the embedded KMS holding crm's generations 1..3 whose
// next n Locates (after arm(n)) are answered only once release is called
// (or the test ends): a KMS that stops answering in the middle of a poll.
// Release only long after the client gave up, if at all: kmip-go v0.8.1's
// server races (send on the channel its reader closes) answering a peer
// that left while the answer was being made.
func stalledKMS(t *testing.T) (e *env, arm func(n int32), release func()) {
	t.Helper()
	ch := make(chan struct{})
	released := false
	release = func() {
		if !released {
			released = true
			close(ch)
		}
	}
	e, _, arm, _ = racedKMS(t, func(*kms.Server, *backend) error { <-ch; return nil })
	t.Cleanup(release) // before the KMS stops (cleanups run last first)
	return e, arm, release
}

// TestSlowKMSTimesOutEachRequest: a KMS that does not answer a Locate
// fails the poll after the configured timeout, not later, saying which
// operation waited and for how long (what to raise if the KMS is only
// slow); the rings keep what they held, and the next poll, over a new
// connection, works.
func TestSlowKMSTimesOutEachRequest(t *testing.T) {
	e, arm, _ := stalledKMS(t)                       // held until the test ends: kmip-go's server races answering a peer gone
	e.cfg.Timeout = engine.Duration(2 * time.Second) // the dial too, under -race on a loaded machine
	e.rebuild()
	e.mustPoll()
	arm(1)
	start := time.Now()
	err := e.poll()
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "did not answer Locate within 2s") || !strings.Contains(err.Error(), "raise timeout") {
		t.Fatalf("the poll of a KMS that does not answer: %v", err)
	}
	if took > 15*time.Second {
		t.Fatalf("the poll took %s with a 2s timeout", took)
	}
	if h := e.health(); h.Health != engine.HealthDegraded || !strings.Contains(h.Reason, "did not answer Locate within 2s") {
		t.Fatalf("health %s: %q", h.Health, h.Reason)
	}
	if got := e.encryptsWith("crm"); got != "acme.crm.key.3" {
		t.Fatalf("crm encrypts with %q after a poll that timed out", got)
	}
	if st := e.mustPoll(); st.Matched != 3 || e.health().Health != engine.HealthOK {
		t.Fatalf("the poll after: %+v, health %+v", st, e.health())
	}
}

// TestStopDuringPollReturnsAtOnce: the daemon stops (Run's context ends)
// while the KMS holds a poll's Locate unanswered, with a timeout far
// longer than any stop budget: Run returns at once, and nothing about the
// cut poll is recorded (no failure health, no ring change).
func TestStopDuringPollReturnsAtOnce(t *testing.T) {
	e, arm, _ := stalledKMS(t)
	e.cfg.Timeout = engine.Duration(time.Minute)
	e.rebuild()
	e.mustPoll()
	before := e.health()
	arm(1)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { _ = e.src.Run(ctx, e.sink); close(ran) }()
	deadline := time.Now().Add(10 * time.Second)
	for e.src.pollMu.TryLock() { // wait until the poll holds the source
		e.src.pollMu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("Run's poll did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the Locate is on the wire
	stopped := time.Now()
	cancel()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of the stop while the KMS held a request")
	}
	if took := time.Since(stopped); took > 2*time.Second {
		t.Fatalf("Run took %s to return after the stop", took)
	}
	if h := e.health(); h.Health != before.Health || h.Reason != before.Reason {
		t.Fatalf("the cut poll changed the health: %+v → %+v", before, h)
	}
	if got := e.encryptsWith("crm"); got != "acme.crm.key.3" {
		t.Fatalf("crm encrypts with %q", got)
	}
}

// TestStopAfterTheRingChangedStillRecordsThePoll: the daemon stops at the
// moment a poll has moved crm's ring to a new generation (stored wrapped,
// committed) and before the poll's batch is written. The poll still
// writes its batch (a local write, bounded; the KMS is done with): the
// rotation is in the inventory and the activity once, never a ring that
// changed with no record of it; a restart on the same database and its
// poll record nothing twice.
func TestStopAfterTheRingChangedStillRecordsThePoll(t *testing.T) {
	e := rotatedSincePoll(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.rings.OnChange(func(string) { cancel() }) // the stop, as the ring commits
	err := e.src.Poll(ctx, e.sink)
	e.rings.OnChange(func(string) {})
	rotationRecordedOnce(t, e, fmt.Sprintf("after the stop (poll: %v)", err))
	e.rebuild() // a restart on the same database
	e.mustPoll()
	rotationRecordedOnce(t, e, "after the restart's poll")
}

// rotatedSincePoll is an environment over the embedded KMS (crm, with a
// KEK) that has polled acme.crm.key.1, and acme.crm.key.2 made in the KMS
// since.
func rotatedSincePoll(t *testing.T) *env {
	t.Helper()
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	k, _ := kektest.New(t)
	e := newEnv(t, b, "", k, crmApp)
	e.mustPoll()
	b.create(t, "acme.crm.key.2")
	return e
}

// rotationRecordedOnce: crm encrypts with acme.crm.key.2, which the
// inventory holds Active, with one discovered and one rotated event.
func rotationRecordedOnce(t *testing.T, e *env, when string) {
	t.Helper()
	if got := e.encryptsWith("crm"); got != "acme.crm.key.2" {
		t.Fatalf("%s: crm encrypts with %q", when, got)
	}
	if k := e.key("acme.crm.key.2"); k.State != engine.StateActive {
		t.Fatalf("%s: acme.crm.key.2 is %s in the inventory", when, k.State)
	}
	if rot := e.eventsFor("acme.crm.key.2", engine.OpRotated); len(rot) != 1 {
		t.Fatalf("%s: %d rotation events for acme.crm.key.2, want 1", when, len(rot))
	}
	if d := e.eventsFor("acme.crm.key.2", engine.OpDiscovered); len(d) != 1 {
		t.Fatalf("%s: %d discovered events for acme.crm.key.2, want 1", when, len(d))
	}
}

// TestSlowLocalWriteWithoutAStopIsNotCut: the budget of a poll's local
// part (localBudget) is for a stop only. A ring change that takes longer
// than it (a loaded disk, SQLite waiting on another writer) while nothing
// stops the daemon must still be recorded: the budget cut the record
// after the ring had moved, so acme.crm.key.2 encrypted with no inventory
// row and no rotation event, and the poll failed.
func TestSlowLocalWriteWithoutAStopIsNotCut(t *testing.T) {
	e := rotatedSincePoll(t)
	e.rings.OnChange(func(string) { time.Sleep(localBudget + 500*time.Millisecond) })
	err := e.src.Poll(context.Background(), e.sink)
	e.rings.OnChange(func(string) {})
	if err != nil {
		t.Fatalf("a poll whose ring change was slow failed: %v", err)
	}
	rotationRecordedOnce(t, e, "after the slow ring change")
}

// TestLocateAnsweringDuplicates: a KMS that answers each identifier twice
// (in every protocol version: 1.2 has no paging to drop repeats on) finds
// what one answering once does: the wildcard probe still sees the server
// expand wildcards, nothing is counted, read, recorded or fetched twice.
// In 1.4 its Located Items counts the repeats, so each query may cost one
// more Locate (the page after, which brings nothing new), never more.
func TestLocateAnsweringDuplicates(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"1.2", "1.4"} {
		t.Run(version, func(t *testing.T) {
			stats := map[bool][2]PollStats{}
			for _, dup := range []bool{false, true} {
				b := embeddedBackend(t)
				b.create(t, "acme.crm.key.1")
				b.create(t, "acme.crm.key.2")
				b.create(t, "acme.hr.key.1")
				b.embedded.SetLocateDuplicates(dup)
				e := newEnv(t, b, "", nil, crmApp, hrApp)
				e.cfg.Version = version
				e.rebuild()
				first := e.mustPoll()
				b.create(t, "acme.crm.key.3")
				second := e.mustPoll()
				stats[dup] = [2]PollStats{first, second}
				if first.Matched != 3 || first.Mismatched != 0 || second.Matched != 4 || second.Added != 1 || second.Gets != 1 {
					t.Fatalf("duplicates %v: first %+v, second %+v", dup, first, second)
				}
				if e.src.wildcards != 1 {
					t.Fatalf("duplicates %v: the KMS was judged not to expand wildcards (%d)", dup, e.src.wildcards)
				}
				if d := e.eventsFor("acme.crm.key.3", engine.OpDiscovered); len(d) != 1 || e.encryptsWith("crm") != "acme.crm.key.3" {
					t.Fatalf("duplicates %v: %d discovered events, crm encrypts with %q", dup, len(d), e.encryptsWith("crm"))
				}
			}
			for i := range 2 {
				a, d := stats[false][i], stats[true][i]
				queries := 2 // the listing and the wildcard probe, then one Locate per application
				if version == "1.2" {
					queries = 0
				}
				if d.Locates > a.Locates+queries || d.AttrReads != a.AttrReads || a.Gets != d.Gets || a.Located != d.Located {
					t.Fatalf("poll %d costs more with duplicates:\n once  %+v\n twice %+v", i+1, a, d)
				}
			}
		})
	}
}

// TestHostileObjectsUnderAMatchingName, against every KMS: a 128-bit AES
// key named as crm's next generation (and, on PyKMIP, a secret data object
// too) never joins the ring nor stops it: the 256-bit generation keeps
// encrypting, the refusal says why once (not at every poll), the source is
// degraded naming it, and a right key after it is taken.
func TestHostileObjectsUnderAMatchingName(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		e := polledCRM(t, b)
		c := b.adminClient(t)
		short, err := c.Create().AES(128, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).WithName("acme.crm.key.2").Exec()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Activate(short.UniqueIdentifier).Exec(); err != nil {
			t.Fatal(err)
		}
		if b.embedded == nil { // the embedded KMS holds symmetric keys only
			if _, err := c.Register().Secret(kmip.SecretDataTypePassword, []byte("not a key at all")).WithName("acme.crm.key.3").Exec(); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 2 {
			st := e.mustPoll()
			if got := e.encryptsWith("crm"); got != "acme.crm.key.1" {
				t.Fatalf("poll %d: crm encrypts with %q", i, got)
			}
			if len(st.LeftOut) != 1 || !strings.Contains(st.LeftOut[0], "acme.crm.key.2: not used in the crm ring: key is 128 bits; the proxy needs a 256-bit AES key") {
				t.Fatalf("poll %d: left out %q", i, st.LeftOut)
			}
			if h := e.health(); h.Health != engine.HealthDegraded || !strings.Contains(h.Reason, "acme.crm.key.2") {
				t.Fatalf("poll %d: health %s %q", i, h.Health, h.Reason)
			}
		}
		if r := e.eventsFor("acme.crm.key.2", engine.OpRefused); len(r) != 1 {
			t.Fatalf("%d refusal events for acme.crm.key.2 over two polls, want 1", len(r))
		}
		if _, err := e.st.Key(context.Background(), engine.KeyID("kms", "acme.crm.key.3", "")); err == nil {
			t.Fatal("the secret data object is in the inventory as a key")
		}
		b.create(t, "acme.crm.key.4")
		e.mustPoll()
		if got := e.encryptsWith("crm"); got != "acme.crm.key.4" {
			t.Fatalf("after a right key crm encrypts with %q", got)
		}
	})
}

// TestKMSClockAhead: the KMS's clock runs 6 hours ahead of ours, so its
// keys carry Initial and Activation Dates in our future. Its facts are
// taken as it states them: the key it activated last encrypts (the
// activation-date rule, names without numbers), the inventory keeps its
// dates, nothing is refused or warned about, and a poll is healthy.
func TestKMSClockAhead(t *testing.T) {
	var skew atomic.Int64
	skew.Store(int64(6 * time.Hour))
	b := startEmbedded(t, kms.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	b.create(t, "acme.crm.key.blue")
	skew.Add(int64(time.Minute))
	b.create(t, "acme.crm.key.green")
	e := newEnv(t, b, "", nil, crmApp)
	st := e.mustPoll()
	if st.Matched != 2 || len(st.LeftOut) != 0 || len(st.Warnings) != 0 {
		t.Fatalf("poll %+v", st)
	}
	if got := e.encryptsWith("crm"); got != "acme.crm.key.green" {
		t.Fatalf("crm encrypts with %q, want the last activated, acme.crm.key.green", got)
	}
	k := e.key("acme.crm.key.green")
	if k.Activated == nil || time.Until(*k.Activated) < 5*time.Hour {
		t.Fatalf("the inventory's activation date %v is not the KMS's (6 h ahead)", k.Activated)
	}
	if h := e.health(); h.Health != engine.HealthOK {
		t.Fatalf("health %s: %q", h.Health, h.Reason)
	}
}

// TestConnectionDroppedMidPoll: the connection to the KMS drops while a
// Locate's answer is on its way (a load balancer cutting it). The KMIP
// client sends that read again on a new connection: the poll works and
// finds what is there. When the KMS is then unreachable at the moment of
// the cut, the poll fails, explained, the rings keep what they held, and
// the next poll once it is back works.
func TestConnectionDroppedMidPoll(t *testing.T) {
	var f *forwarder
	var cuts atomic.Int32
	b := startEmbedded(t, kms.Options{Apps: crm3,
		AfterLocate: func() {
			if cuts.Add(-1) >= 0 {
				f.cut()
			}
		}})
	f, e := forwarded(t, b)
	e.mustPoll()
	cuts.Store(1)
	if st := e.mustPoll(); st.Matched != 3 || e.encryptsWith("crm") != "acme.crm.key.3" {
		t.Fatalf("the poll whose Locate answer was cut: %+v", st)
	}
	if cuts.Load() >= 0 {
		t.Fatal("the cut never happened")
	}
	cuts.Store(1)
	if _, err := b.embedded.Rotate("crm"); err != nil {
		t.Fatal(err)
	}
	f.up.Store(false)
	err := e.poll()
	if err == nil || !strings.Contains(err.Error(), "closed the connection") {
		t.Fatalf("the poll cut with the KMS unreachable: %v", err)
	}
	if got := e.encryptsWith("crm"); got != "acme.crm.key.3" {
		t.Fatalf("crm encrypts with %q after the failed poll", got)
	}
	f.up.Store(true)
	if st := e.mustPoll(); st.Added != 1 || e.encryptsWith("crm") != "acme.crm.key.4" || e.health().Health != engine.HealthOK {
		t.Fatalf("the poll after: %+v, health %+v", st, e.health())
	}
}

// failingSink refuses the next Apply while fail is set (a database that
// refused the poll's batch, or a daemon killed before it was written).
type failingSink struct {
	storeSink
	fail *atomic.Bool
}

func (s failingSink) Apply(ctx context.Context, b sources.Batch) error {
	if s.fail.Swap(false) {
		return errors.New("disk I/O error")
	}
	return s.storeSink.Apply(ctx, b)
}

// TestRingChangeWhoseBatchWasLostIsStillRecorded: a poll moved crm's ring
// to generation 2 (stored wrapped, committed) and its batch never reached
// the database — the state a kill -9 between the two leaves, or a batch
// the database refused. The next poll, in this daemon or after a restart
// on the same database (the ring restored from its wrapped copy), finds 2
// encrypting although the inventory never heard of it: it records the key
// and the rotation once, saying its change was not recorded when it was
// made, instead of only "discovered" with no rotation in the activity.
func TestRingChangeWhoseBatchWasLostIsStillRecorded(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(map[bool]string{false: "same daemon", true: "restart"}[restart], func(t *testing.T) {
			e := rotatedSincePoll(t)
			var fail atomic.Bool
			fail.Store(true)
			if err := e.src.Poll(context.Background(), failingSink{e.sink, &fail}); err == nil {
				t.Fatal("the poll whose batch was refused worked")
			}
			if got := e.encryptsWith("crm"); got != "acme.crm.key.2" {
				t.Fatalf("crm encrypts with %q", got)
			}
			if restart {
				e.rings = keyring.NewRings()
				e.deps.Rings = e.rings
				e.rebuild()
				if got := e.encryptsWith("crm"); got != "acme.crm.key.2" {
					t.Fatalf("restored, crm encrypts with %q", got)
				}
			}
			for range 2 {
				e.mustPoll()
			}
			rot := e.eventsFor("acme.crm.key.2", engine.OpRotated)
			if len(rot) != 1 || !strings.Contains(rot[0].Details, "not recorded when it was made") {
				t.Fatalf("rotation events for acme.crm.key.2: %+v", rot)
			}
			if d := e.eventsFor("acme.crm.key.2", engine.OpDiscovered); len(d) != 1 {
				t.Fatalf("%d discovered events", len(d))
			}
		})
	}
}
