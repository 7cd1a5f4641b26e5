package gcp

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud/cloudtest"
)

// TestSyncCostOfOnePercentChanged counts the requests of a sync after 1% of
// 500 keys changed outside keyward, into a real store through the real
// Cloud KMS and Logging clients: one ListCryptoKeyVersions per changed key,
// the listing, and the admin-activity read of the sync's window (which
// holds every key's creation here, about 1,000 entries) at a request per
// page of 1000 entries, not per entry. The Logging reader once counted (and
// BENCHMARKS.md reported) a request per entry: 2,042 requests for 1,000
// keys with 10 changed.
func TestSyncCostOfOnePercentChanged(t *testing.T) {
	ctx := context.Background()
	const n, changed = 500, 5
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1"}, FullRefreshEvery: 1000})
	names := seedRings(t, fake, n)
	src := cloudtest.StoreSource(t, "gcp-cost", "gcp", p.Address(), p)
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if got := p.Calls()["ListCryptoKeyVersions"]; got != n {
		t.Fatalf("first sync listed the versions of %d keys, want each of the %d once", got, n)
	}
	for j := range changed {
		relabel(t, fake, names[j*97%n], 1)
	}
	time.Sleep(1100 * time.Millisecond) // the store's Updated has a one-second resolution
	r0 := p.Calls()
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if s := src.LastSync(); s.Events < changed {
		t.Fatalf("the 1%% sync recorded %d events, want one at least per changed key (%d) for the attribution to read the log", s.Events, changed)
	}
	r1 := p.Calls()
	d := map[string]int{}
	for api, c := range r1 {
		if c != r0[api] {
			d[api] = c - r0[api]
		}
	}
	// Listing: one ListKeyRings for the one location, one ListCryptoKeys
	// per ring (50 keys each, one page).
	want := map[string]int{"ListKeyRings": 1, "ListCryptoKeys": 10, "ListCryptoKeyVersions": changed}
	// The admin-activity log of the window holds about 2n+changed entries
	// (every key's creation and second version, the relabels): two pages
	// of 1000, and a third at most should the fake page short.
	if logs := d["ListLogEntries"]; logs < 1 || logs > 3 {
		t.Errorf("the 1%% sync made %d ListLogEntries requests, want 1 to 3 (a page of up to 1000 entries each); all requests: %v", logs, d)
	}
	delete(d, "ListLogEntries")
	for api, w := range want {
		if d[api] != w {
			t.Errorf("the 1%% sync made %d %s requests, want %d; all requests: %v", d[api], api, w, d)
		}
		delete(d, api)
	}
	if len(d) > 0 {
		t.Errorf("the 1%% sync made requests beyond the listing and one per changed key: %v", d)
	}
}
