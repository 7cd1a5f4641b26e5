package kmip

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/engine"
)

// clock is a settable time for Deps.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// costEnv is an env whose source runs on a settable clock, over a KMS
// holding acme.crm.key.1…n and `others` objects of no application.
func costEnv(t *testing.T, b *backend, n, others int) (*env, *clock, []string) {
	t.Helper()
	var uids []string
	for i := 1; i <= n; i++ {
		uids = append(uids, b.create(t, fmt.Sprintf("acme.crm.key.%d", i)))
	}
	for i := 1; i <= others; i++ {
		b.create(t, fmt.Sprintf("billing.key.%d", i))
	}
	e := newEnv(t, b, "", nil, crmApp)
	clk := &clock{t: time.Now()}
	e.deps.Now = clk.now
	e.rebuild()
	return e, clk, uids
}

// TestUnchangedPollReadsWhatTheRingsHold: a poll where nothing changed
// reads no name again and the states of the ring's keys only (it read the
// names and states of every located object before), whatever else the
// KMS holds; new objects are read, and a full refresh every full_refresh
// reads every name and state again.
func TestUnchangedPollReadsWhatTheRingsHold(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		e, clk, _ := costEnv(t, b, 20, 7)
		st := e.mustPoll()
		if !st.Full || st.Located != 27 || st.Matched != 20 || st.Gets != 16 {
			t.Fatalf("first poll: %+v", st)
		}
		clk.add(time.Minute)
		st = e.mustPoll()
		// One Locate: a second one only follows reads that show an
		// application's encrypting generation leaving (settle).
		if st.Full || st.AttrReads != 16 || st.Gets != 0 || st.Matched != 20 || st.Locates != 1 {
			t.Fatalf("unchanged poll: %d attribute reads (want the ring's 16), %d Gets, %d Locates, full %v: %+v", st.AttrReads, st.Gets, st.Locates, st.Full, st)
		}
		// Ten more objects of no application, and one new generation: only
		// they are read.
		for i := 8; i <= 17; i++ {
			b.create(t, fmt.Sprintf("billing.key.%d", i))
		}
		b.create(t, "acme.crm.key.21")
		clk.add(time.Minute)
		st = e.mustPoll()
		// A KMS that expands wildcards does not return the other objects.
		fresh, all := 11, 38
		if b.serverWildcards {
			fresh, all = 1, 21
		}
		if st.AttrReads != 16+fresh || st.Gets != 1 || e.encryptsWith("crm") != "acme.crm.key.21" {
			t.Fatalf("poll after 11 new objects: %d attribute reads (want 16 + %d), %d Gets, encrypts with %s", st.AttrReads, fresh, st.Gets, e.encryptsWith("crm"))
		}
		clk.add(time.Minute)
		if st = e.mustPoll(); st.AttrReads != 16 {
			t.Fatalf("unchanged poll after new objects: %d attribute reads, want 16", st.AttrReads)
		}
		clk.add(time.Hour)
		if st = e.mustPoll(); !st.Full || st.AttrReads != all {
			t.Fatalf("full refresh after an hour: %d attribute reads (want every located object's %d), full %v", st.AttrReads, all, st.Full)
		}
	})
}

// TestChangesSeenBetweenFullRefreshes: between full refreshes a ring's key
// revoked or compromised, and a key of the application destroyed (PyKMIP
// deletes it, so it leaves the listing), are seen at the next poll; a state
// change of a key no ring holds, and a rename, at the next full refresh.
func TestChangesSeenBetweenFullRefreshes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		e, clk, uids := costEnv(t, b, 18, 3)
		e.mustPoll()
		if names := e.ringNames("crm"); len(names) != 16 || slices.Contains(names, "acme.crm.key.2") {
			t.Fatalf("ring %v", names)
		}
		// The encrypting generation compromised: seen at the next poll.
		b.revoke(t, uids[17], true)
		clk.add(time.Minute)
		e.mustPoll()
		if got := e.encryptsWith("crm"); got != "acme.crm.key.17" {
			t.Fatalf("after acme.crm.key.18 was compromised the ring encrypts with %q", got)
		}
		if k := e.key("acme.crm.key.18"); k.State != engine.StateCompromised {
			t.Fatalf("acme.crm.key.18 is %s in the inventory", k.State)
		}
		// A key no ring holds (acme.crm.key.1, pushed out) deactivated: seen
		// at the next full refresh.
		b.revoke(t, uids[0], false)
		clk.add(time.Minute)
		e.mustPoll()
		if k := e.key("acme.crm.key.1"); k.State != engine.StateActive {
			t.Fatalf("acme.crm.key.1 is %s before the full refresh; the poll read a key no ring holds", k.State)
		}
		// Destroyed: PyKMIP forgets the object, which leaves the listing and
		// is seen at once; a KMS that keeps it as Destroyed is seen at the
		// full refresh.
		b.destroy(t, uids[0])
		clk.add(time.Minute)
		e.mustPoll()
		if k := e.key("acme.crm.key.1"); b.name == "pykmip" && k.State != engine.StateDestroyed {
			t.Fatalf("acme.crm.key.1 destroyed in PyKMIP is %s in the inventory", k.State)
		}
		clk.add(time.Hour)
		if st := e.mustPoll(); !st.Full {
			t.Fatalf("no full refresh after an hour: %+v", st)
		}
		if k := e.key("acme.crm.key.1"); k.State != engine.StateDestroyed {
			t.Fatalf("acme.crm.key.1 is %s after the full refresh", k.State)
		}
	})
}

// TestRenameSeenAtFullRefresh: a name changes only by Modify Attribute,
// which a poll that lists every key (locate = "client") does not look for
// between full refreshes: a ring key renamed out of the pattern, and another
// renamed into it, are seen at the full refresh (and not before: that is
// what full_refresh bounds).
func TestRenameSeenAtFullRefresh(t *testing.T) {
	b := embeddedBackend(t)
	e, clk, uids := costEnv(t, b, 3, 1)
	e.cfg.Locate = "client"
	e.rebuild()
	e.mustPoll()
	stray := b.create(t, "acme.other.key.1")
	clk.add(time.Minute)
	e.mustPoll()
	if err := b.embedded.Rename(uids[2], "retired.crm.key.3"); err != nil {
		t.Fatal(err)
	}
	if err := b.embedded.Rename(stray, "acme.crm.key.4"); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	e.mustPoll()
	if got := e.encryptsWith("crm"); got != "acme.crm.key.3" {
		t.Fatalf("between full refreshes the ring encrypts with %q", got)
	}
	clk.add(time.Hour)
	e.mustPoll()
	if got, names := e.encryptsWith("crm"), e.ringNames("crm"); got != "acme.crm.key.4" || slices.Contains(names, "acme.crm.key.3") {
		t.Fatalf("after the full refresh the ring is %v, encrypting with %q", names, got)
	}
}

// TestWildcardModeKnownAfterRestart: what the first poll learned of the
// KMS's wildcards is kept in the store, so after a restart the first poll
// already locates the learned way (no probe, never "probing"), and a
// restart's first poll still reads every name and state (a full refresh).
func TestWildcardModeKnownAfterRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.create(t, "acme.crm.key.1")
		b.create(t, "billing.key.1")
		e := newEnv(t, b, "", nil, crmApp)
		if st := e.mustPoll(); st.Wildcards != "probing" || st.Locates != 2 {
			t.Fatalf("first poll ever: %+v", st)
		}
		want := map[bool]string{true: "server", false: "client"}[b.serverWildcards]
		e.src.Close()
		again := newEnv(t, b, e.dbPath, nil, crmApp)
		t.Cleanup(func() { again.src.Close() })
		st := again.mustPoll()
		if st.Wildcards != want || st.Locates != 1 || !st.Full || st.Matched != 1 {
			t.Fatalf("first poll after a restart: wildcards %q (want %q), %d Locates (want 1), full %v: %+v", st.Wildcards, want, st.Locates, st.Full, st)
		}
	})
}

// TestProbeRefusedByIdentifierStillLearnsWildcards: the wildcard probe is
// narrowed by Unique Identifier; a KMS that refuses that filter (but
// expands wildcards) is asked again without it, and is still recognised.
func TestProbeRefusedByIdentifierStillLearnsWildcards(t *testing.T) {
	b := embeddedBackend(t)
	b.create(t, "acme.crm.key.1")
	b.embedded.RefuseLocateBy(kmip.AttributeNameUniqueIdentifier, true)
	e := newEnv(t, b, "", nil, crmApp)
	if st := e.mustPoll(); st.Wildcards != "probing" || e.src.wildcards != 1 {
		t.Fatalf("first poll %+v: wildcard mode %d, want server (1)", st, e.src.wildcards)
	}
	if st := e.mustPoll(); st.Wildcards != "server" {
		t.Fatalf("second poll %+v", st)
	}
}
