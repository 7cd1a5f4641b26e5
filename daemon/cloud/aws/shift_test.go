package aws

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	lkdata "github.com/nsmithuk/local-kms/src/data"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store/storetest"
)

// KMS's ListKeys goes on from a marker naming the next key (local-kms's is
// that key's ARN). A key removed from the account between two pages of
// keyward's listing, the very key the next page starts at, makes that
// page fail with InvalidMarkerException; the listing starts again, so the
// sync, through the real SDK into a real store, neither fails nor lists a
// key twice, takes the removed key for purged and no other key for gone.
// A key created between pages is listed once, in this sync or the next.
func TestKeysChangedBetweenPages(t *testing.T) {
	a, lk := newLocal(t)
	ctx := context.Background()
	st := storetest.New(t)
	src := cloud.NewSyncSource("aws-shift", a, time.Hour, nil)
	sink := cloudtest.Attach(t, st, src)
	app := lk.Client()
	create := func() {
		t.Helper()
		if _, err := app.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
			t.Fatal(err)
		}
	}
	for range 6 {
		create()
	}
	lk.KeyPages(2, nil)
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if s := src.LastSync(); s.Keys != 6 {
		t.Fatalf("first sync listed %d keys, want 6", s.Keys)
	}

	removed := ""
	lk.KeyPages(2, func(marker string, db *lkdata.Database) {
		if removed == "" {
			removed = marker[strings.LastIndex(marker, "/")+1:]
			db.DeleteObject(marker) // its waiting period over: gone from the account
		}
	})
	if err := src.SyncNow(ctx); err != nil {
		t.Fatalf("sync with a key removed between pages: %v", err)
	}
	if removed == "" {
		t.Fatal("the listing never asked for a second page")
	}
	if s := src.LastSync(); s.Keys != 5 || s.Duplicates != 0 {
		t.Errorf("sync with a key removed between pages: keys %d, duplicates %d; want 5 and 0", s.Keys, s.Duplicates)
	}
	state := func(want int) {
		t.Helper()
		keys, err := sink.Known(ctx, "aws-shift")
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string]int{}
		for _, k := range keys {
			rows[k.Name]++
			want := engine.StateActive
			if k.Name == removed {
				want = engine.StatePurged
			}
			if k.State != want {
				t.Errorf("key %s is %s, want %s", k.Name, k.State, want)
			}
		}
		if len(rows) != want {
			t.Errorf("inventory holds %d keys, want %d", len(rows), want)
		}
		for name, n := range rows {
			if n != 1 {
				t.Errorf("%s has %d rows, want 1", name, n)
			}
		}
	}
	state(6)

	made := false
	lk.KeyPages(2, func(string, *lkdata.Database) {
		if !made {
			made = true
			create()
		}
	})
	if err := src.SyncNow(ctx); err != nil {
		t.Fatalf("sync with a key created between pages: %v", err)
	}
	if s := src.LastSync(); s.Duplicates != 0 {
		t.Errorf("sync with a key created between pages: duplicates %d, want 0", s.Duplicates)
	}
	lk.KeyPages(2, nil)
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if s := src.LastSync(); s.Keys != 6 || s.Duplicates != 0 {
		t.Errorf("quiet sync: keys %d, duplicates %d; want 6 and 0", s.Keys, s.Duplicates)
	}
	state(7)
}
