package azure

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/engine"
)

// The real azkeys.Client syncs several hundred keys with their versions
// from the emulator across TLS, paged 25 at a time; a second sync with no
// change refetches nothing.
func TestFirstSyncOfSeveralHundredKeys(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	if err := e.srv.SeedBulk("acme-bulk", 300, 3); err != nil {
		t.Fatal(err)
	}
	n, err := e.srv.SeedDemo(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stats := e.mustSync()
	if stats.Keys != 300+n {
		t.Errorf("listed %d keys, want %d", stats.Keys, 300+n)
	}
	rows := e.rows()
	names := byName(rows)
	if len(names) != 300+n {
		t.Fatalf("inventory has %d key names, want %d", len(names), 300+n)
	}
	if got := len(names["acme-bulk-00042"]); got != 3 {
		t.Errorf("acme-bulk-00042 has %d version rows, want 3", got)
	}
	for _, k := range names["acme-bulk-00042"] {
		if k.ID != engine.KeyID("vault1", k.Name, k.Version) || k.State != engine.StateActive || k.Algorithm != "EC P-256" || k.Length != 256 || k.Created == nil {
			t.Errorf("row %+v: want active EC P-256 with id source/name/version and a creation date", k)
		}
	}
	checkState := func(name string, want engine.State) {
		t.Helper()
		vs := names[name]
		if len(vs) == 0 {
			t.Fatalf("%s missing from the inventory", name)
		}
		latest := vs[0]
		for _, k := range vs {
			if k.Created.After(*latest.Created) {
				latest = k
			}
		}
		if latest.State != want {
			t.Errorf("%s: state %s, want %s", name, latest.State, want)
		}
	}
	checkState("acme-payments-archive", engine.StateDisabled)
	checkState("acme-payments-next-kek", engine.StatePreActive)
	checkState("acme-payments-card-kek", engine.StateActive)
	checkState("acme-payments-old-batch", engine.StateDeleted)
	for _, k := range names["acme-payments-old-batch"] {
		if k.PurgeAt == nil || time.Until(*k.PurgeAt) > 3*24*time.Hour {
			t.Errorf("soft-deleted key's purge date %v: want within 3 days", k.PurgeAt)
		}
	}
	if k := names["acme-payments-card-kek"][0]; k.Algorithm != "RSA" || k.Length != 3072 || k.Tags["owner"] != "card-team" || k.Application != "payments" {
		t.Errorf("card-kek row %+v: want RSA 3072 with its tags and application payments", k)
	}
	disc := 0
	for _, ev := range e.events(engine.OriginSource) {
		if ev.Operation == engine.OpDiscovered {
			disc++
		}
	}
	if disc != 300+n {
		t.Errorf("%d discovered events, want one per key (%d)", disc, 300+n)
	}

	before := e.srv.Requests()
	again := e.mustSync()
	if again.Fetched != 0 || again.Rows != 0 || again.Events != 0 {
		t.Errorf("unchanged second sync fetched %d keys, wrote %d rows and %d events; want 0", again.Fetched, again.Rows, again.Events)
	}
	pages := int64((300+n-2)/25 + 1 + 1)
	if sent := e.srv.Requests() - before; sent > pages+1 {
		t.Errorf("unchanged second sync sent %d requests, want about %d (the listing pages only)", sent, pages)
	}
}

// Changes made in the cloud behind keyward's back become events with
// Origin source on the next sync, each with the right operation.
func TestCloudChangeShowsUpAsEvent(t *testing.T) {
	e := newEnv(t, vault.Options{PageSize: 4}, false)
	old := time.Now().Add(-100 * 24 * time.Hour)
	for _, name := range []string{"acme-a", "acme-b", "acme-c", "acme-d", "acme-e", "acme-f"} {
		e.addKey(vault.KeySpec{Name: name, Versions: 2, Created: old})
	}
	if err := e.srv.DeleteKey("acme-e"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.DeleteKey("acme-f"); err != nil {
		t.Fatal(err)
	}
	e.mustSync()
	// Behind keyward's back:
	if _, err := e.srv.RotateKey("acme-a"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.EditKey("acme-b", "", func(en *bool, _ **time.Time, _ map[string]string) { *en = false }); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(30 * 24 * time.Hour)
	if err := e.srv.EditKey("acme-c", "", func(_ *bool, x **time.Time, tags map[string]string) { *x = &exp; tags["owner"] = "eve" }); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.DeleteKey("acme-d"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.PurgeKey("acme-e"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.RecoverKey("acme-f"); err != nil {
		t.Fatal(err)
	}
	e.addKey(vault.KeySpec{Name: "acme-g"})
	e.mustSync()
	got := map[string]string{}
	for _, ev := range e.events(engine.OriginSource) {
		if ev.Operation == engine.OpDiscovered {
			continue
		}
		name := strings.Split(ev.KeyID, "/")[1]
		got[name] += ev.Operation + " "
		if ev.Actor != "azure" {
			t.Errorf("event %+v: actor %q, want azure", ev, ev.Actor)
		}
	}
	want := map[string]string{
		"acme-a": engine.OpRotated, "acme-b": engine.OpDisabled, "acme-c": engine.OpEdited, "acme-d": engine.OpDeleted,
		"acme-e": engine.OpPurged, "acme-f": engine.OpRecovered, "acme-g": engine.OpCreated,
	}
	for name, op := range want {
		if strings.TrimSpace(got[name]) != op {
			t.Errorf("%s: events %q, want exactly %q", name, got[name], op)
		}
	}
	rows := byName(e.rows())
	if len(rows["acme-a"]) != 3 {
		t.Errorf("acme-a has %d versions after a cloud rotation, want 3", len(rows["acme-a"]))
	}
	for _, k := range rows["acme-e"] {
		if k.State != engine.StatePurged {
			t.Errorf("acme-e version %s: state %s, want purged", k.Version, k.State)
		}
	}
	// A third sync with no change records nothing more.
	n := len(e.events(engine.OriginSource))
	e.mustSync()
	if m := len(e.events(engine.OriginSource)); m != n {
		t.Errorf("an unchanged sync recorded %d more events", m-n)
	}
}

// After a restart the source starts from the inventory (Sink.Known): no
// key is refetched and nothing is reported again.
func TestRestartStartsFromKnownInventory(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	if err := e.srv.SeedBulk("acme-r", 60, 2); err != nil {
		t.Fatal(err)
	}
	e.mustSync()
	before := e.rows()
	evs := len(e.events(engine.OriginSource))
	e.connect(t.TempDir(), false, "") // a new source over the same store
	stats := e.mustSync()
	if stats.Fetched != 0 || stats.Events != 0 {
		t.Errorf("first sync after restart fetched %d keys and recorded %d events; want none", stats.Fetched, stats.Events)
	}
	if len(e.events(engine.OriginSource)) != evs {
		t.Error("restart re-reported keys")
	}
	after := e.rows()
	if !maps.EqualFunc(before, after, func(a, b engine.Key) bool { return a.State == b.State && a.Version == b.Version }) {
		t.Error("inventory changed across a restart with no cloud change")
	}
}

// An edit of an old version does not move the key's listed Updated time
// (the vault lists the current version's attributes), so a cheap sync
// does not see it; the periodic full refresh does.
func TestFullRefreshCatchesOldVersionEdits(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	for _, name := range []string{"acme-old", "acme-other"} {
		e.addKey(vault.KeySpec{Name: name, Versions: 3, Created: time.Now().Add(-300 * 24 * time.Hour)})
	}
	e.src.FullEvery = 2
	e.mustSync()
	first := e.srv.Versions("acme-old")[0]
	if err := e.srv.EditKey("acme-old", first, func(en *bool, _ **time.Time, _ map[string]string) { *en = false }); err != nil {
		t.Fatal(err)
	}
	state := func() engine.State { return e.rows()[engine.KeyID("vault1", "acme-old", first)].State }
	if st := e.mustSync(); st.Fetched != 0 || state() != engine.StateActive {
		t.Fatalf("cheap sync fetched %d keys, old version %s: want 0 and still active (the trade-off)", st.Fetched, state())
	}
	st := e.mustSync() // the full refresh
	if !st.Full || st.Fetched != 2 {
		t.Errorf("full=%v fetched=%d, want a full refresh of both keys", st.Full, st.Fetched)
	}
	if state() != engine.StateDisabled {
		t.Errorf("old version still %s after the full refresh", state())
	}
	var disabled int
	for _, ev := range e.events(engine.OriginSource) {
		if ev.Operation == engine.OpDisabled && ev.KeyID == engine.KeyID("vault1", "acme-old", first) {
			disabled++
		}
	}
	if disabled != 1 {
		t.Errorf("%d disabled events for the old version, want 1", disabled)
	}
}

// racyVault deletes a key in the vault just before its versions are read,
// as another administrator might between the listing and the fetch.
type racyVault struct {
	*Vault
	srv    *vault.Server
	victim string
}

func (r racyVault) Versions(ctx context.Context, name string) ([]cloud.KeyVersion, error) {
	if name == r.victim {
		_ = r.srv.DeleteKey(name)
	}
	return r.Vault.Versions(ctx, name)
}

// A key deleted between the listing and the fetch does not fail the sync:
// the deleted listing that follows accounts for it.
func TestKeyDeletedDuringSync(t *testing.T) {
	e := newEnv(t, vault.Options{}, false)
	for _, n := range []string{"acme-stay", "acme-gone"} {
		e.addKey(vault.KeySpec{Name: n, Versions: 2})
	}
	src := cloud.NewSyncSource("vault1", racyVault{e.conn, e.srv, "acme-gone"}, time.Hour, nil)
	src.Attach(e.sink)
	if err := src.SyncNow(e.ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	rows := byName(e.rows())
	if len(rows["acme-stay"]) != 2 || len(rows["acme-gone"]) != 1 || rows["acme-gone"][0].State != engine.StateDeleted {
		t.Errorf("inventory %v: want acme-stay with 2 versions and acme-gone soft-deleted", rows)
	}
}

// A vault pages by position: a key deleted or created between two pages
// shifts them, so one key is listed twice (or live and deleted) and another
// not at all. The sync deduplicates, reads such keys again by name, counts
// them, and neither fails nor takes the skipped key for purged.
func TestShiftedPagesListAKeyTwice(t *testing.T) {
	e := newEnv(t, vault.Options{PageSize: 2}, false)
	for _, name := range []string{"acme-1", "acme-2", "acme-3", "acme-4", "acme-5", "acme-6"} {
		e.addKey(vault.KeySpec{Name: name})
	}
	e.mustSync()
	state := func(name string) engine.State {
		t.Helper()
		vs := byName(e.rows())[name]
		if len(vs) != 1 {
			t.Fatalf("%s has %d rows, want 1", name, len(vs))
		}
		return vs[0].State
	}
	once := func(f func()) func(string, int) {
		done := false
		return func(list string, skip int) {
			if list == "keys" && !done {
				done = true
				f()
			}
		}
	}

	// acme-1 (on the first page) is deleted before the second page: the
	// pages shift left, acme-3 is skipped, and acme-1 shows in both the
	// live and the deleted listing.
	e.srv.BetweenPages(once(func() {
		if err := e.srv.DeleteKey("acme-1"); err != nil {
			t.Error(err)
		}
	}))
	if err := e.src.SyncNow(e.ctx); err != nil {
		t.Fatalf("sync with shifted pages: %v", err)
	}
	st := e.src.LastSync()
	if st.Duplicates != 1 || st.Reread != 2 {
		t.Errorf("duplicates %d, reread %d; want 1 (acme-1 live and deleted) and 2 (acme-1, and acme-3 skipped)", st.Duplicates, st.Reread)
	}
	if got := state("acme-1"); got != engine.StateDeleted {
		t.Errorf("acme-1 is %s, want deleted", got)
	}
	if got := state("acme-3"); got != engine.StateActive {
		t.Errorf("acme-3, skipped by the shifted page, is %s, want active", got)
	}
	ops := map[string]int{}
	for _, ev := range e.events(engine.OriginSource) {
		if ev.Operation != engine.OpDiscovered {
			ops[strings.Split(ev.KeyID, "/")[1]+" "+ev.Operation]++
		}
	}
	if want := map[string]int{"acme-1 " + engine.OpDeleted: 1}; !maps.Equal(ops, want) {
		t.Errorf("cloud events %v, want %v (one deletion, nothing purged)", ops, want)
	}

	// A key created before the current page shifts the pages right: the
	// last key of the first page is listed again.
	e.srv.BetweenPages(once(func() {
		if err := e.srv.AddKey(vault.KeySpec{Name: "acme-0"}); err != nil {
			t.Error(err)
		}
	}))
	if err := e.src.SyncNow(e.ctx); err != nil {
		t.Fatalf("sync with a key listed twice: %v", err)
	}
	if st := e.src.LastSync(); st.Duplicates != 1 || st.Keys != 6 {
		t.Errorf("duplicates %d, keys %d; want 1 and 6 (acme-0 is for the next sync)", st.Duplicates, st.Keys)
	}
	e.srv.BetweenPages(nil)
	if st := e.mustSync(); st.Duplicates != 0 || st.Reread != 0 || st.Keys != 7 {
		t.Errorf("quiet sync: duplicates %d, reread %d, keys %d; want 0, 0, 7", st.Duplicates, st.Reread, st.Keys)
	}
	for _, name := range []string{"acme-0", "acme-2", "acme-3", "acme-6"} {
		if got := state(name); got != engine.StateActive {
			t.Errorf("%s is %s, want active", name, got)
		}
	}
}
