package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
	"github.com/keyward/keyward/engine/report"
	"github.com/keyward/keyward/store/storetest"
)

func TestUsageReportJoinsProxyCountsToInventory(t *testing.T) {
	r := start(t, nil)
	ctx := context.Background()
	c := api.NewClient(r.socket)
	k5, err := c.Key(ctx, "acme-kms/acme.crm.key.5")
	if err != nil {
		t.Fatal(err)
	}
	// The proxy writes usage through the same database file.
	st := storetest.Open(t, filepath.Join(r.cfg.DataDir, "keyward.db"))
	hour := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Hour)
	lastUse := hour.Add(time.Hour + 37*time.Minute)
	if err := st.AddUsage(ctx, []engine.Usage{
		{Hour: hour, Application: "crm", KeyID: keyring.ShortID(k5.Key.Fingerprint), Encrypts: 40, Decrypts: 2},
		{Hour: hour.Add(time.Hour), Application: "crm", KeyID: keyring.ShortID(k5.Key.Fingerprint), Encrypts: 2, Last: lastUse},
		{Hour: hour, Application: "crm", KeyID: "AAAAAAAA", Decrypts: 5},
	}); err != nil {
		t.Fatal(err)
	}
	u, err := c.UsageReport(ctx, api.ReportQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Rows) != 2 || u.Rows[0].KeyID != "acme-kms/acme.crm.key.5" || u.Rows[0].Encrypts != 42 || u.Rows[0].Decrypts != 2 {
		t.Fatalf("rows %+v", u.Rows)
	}
	if !u.Rows[0].Last.Equal(lastUse) {
		t.Errorf("last use %s, want %s (when it was used, not its hour)", u.Rows[0].Last, lastUse)
	}
	if !strings.Contains(u.Rows[1].KeyID, "not in the inventory") {
		t.Fatalf("unknown generation row %+v", u.Rows[1])
	}
	unused := map[string]bool{}
	for _, k := range u.Unused {
		unused[k.ID] = true
	}
	if unused["acme-kms/acme.crm.key.5"] || !unused["acme-kms/acme.crm.key.4"] || !unused["acme-kms/acme.hr.key.2"] || unused["acme-kms/acme.crm.key.0"] {
		t.Fatalf("unused %v: want usable ring keys without use, not the used or destroyed ones", unused)
	}
	// The number of unused keys is every usable ring key of an application
	// but the used one, whatever the page shows; the page is the first in
	// id order.
	var want []string
	for p := (&api.KeysPage{}); ; {
		if p, err = c.Keys(ctx, api.KeyQuery{Limit: 5000, Cursor: p.NextCursor}); err != nil {
			t.Fatal(err)
		}
		for _, k := range p.Keys {
			if k.Application != "" && slices.Contains(report.UnusedStates, k.State) && k.ID != "acme-kms/acme.crm.key.5" {
				want = append(want, k.ID)
			}
		}
		if p.NextCursor == "" {
			break
		}
	}
	slices.Sort(want)
	if u.UnusedTotal != len(want) || len(u.Unused) != len(want) {
		t.Fatalf("unused total %d, %d listed; want %d", u.UnusedTotal, len(u.Unused), len(want))
	}
	for _, limit := range []int{1, 3} {
		page, err := c.UsageReport(ctx, api.ReportQuery{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range page.Unused {
			got = append(got, k.ID)
		}
		if page.UnusedTotal != len(want) || !slices.Equal(got, want[:limit]) {
			t.Fatalf("limit %d: unused %v of %d, want %v of %d", limit, got, page.UnusedTotal, want[:limit], len(want))
		}
	}
	crm, err := c.UsageReport(ctx, api.ReportQuery{App: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range crm.Unused {
		if k.Application != "crm" {
			t.Fatalf("app=crm lists %s of %s", k.ID, k.Application)
		}
	}
	if crm.UnusedTotal != len(crm.Unused) || crm.UnusedTotal == 0 || crm.UnusedTotal >= len(want) {
		t.Fatalf("app=crm: %d unused listed of %d (all apps: %d)", len(crm.Unused), crm.UnusedTotal, len(want))
	}
	if _, err := c.UsageReport(ctx, api.ReportQuery{From: "yesterday"}); err == nil || !strings.Contains(err.Error(), "is not a time") {
		t.Fatalf("bad from: %v", err)
	}
}

// The aging report's summary counts what the report is asked about: with
// key, that one key in its bucket (or nothing for an id of no key), as with
// source it counts that source. It used to count the whole inventory,
// so `keyward report aging --key K` of a healthy key said "expired 3 ·
// rotation-overdue 2 …" above its one row, and of a mistyped id the same.
func TestAgingReportSummaryFollowsKey(t *testing.T) {
	r := start(t, nil)
	c := api.NewClient(r.socket)
	ctx := context.Background()
	all, err := c.AgingReport(ctx, api.ReportQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if all.Summary == nil || all.Summary.Total < 2 {
		t.Fatalf("the whole inventory's summary: %+v", all.Summary)
	}
	for _, id := range []string{"acme-kms/acme.crm.key.3", "acme-kms/acme.crm.key.5", "acme-kms/acme.crm.key.0"} {
		d, err := c.Key(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := c.AgingReport(ctx, api.ReportQuery{Key: id})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Summary == nil || rep.Summary.Total != 1 {
			t.Fatalf("%s: summary %+v, want one key", id, rep.Summary)
		}
		for _, b := range rep.Summary.Buckets {
			if want := map[bool]int{true: 1}[b.Bucket == d.Key.Aging.Bucket]; b.Count != want {
				t.Errorf("%s (%s): bucket %s counts %d, want %d", id, d.Key.Aging.Bucket, b.Bucket, b.Count, want)
			}
		}
		// Another source, one the daemon does not have: a 404 naming it,
		// not an empty report.
		var ae *api.Error
		if _, err = c.AgingReport(ctx, api.ReportQuery{Key: id, Source: "elsewhere"}); !errors.As(err, &ae) || ae.Status != 404 ||
			!strings.Contains(ae.Message, `no source named "elsewhere"`) {
			t.Errorf("%s in source elsewhere: %v; want a 404 naming the source", id, err)
		}
	}
	// An id of no key: a 404 naming it, not an empty report.
	var ae *api.Error
	if _, err := c.AgingReport(ctx, api.ReportQuery{Key: "acme-kms/no-such-key"}); !errors.As(err, &ae) || ae.Status != 404 ||
		!strings.Contains(ae.Message, `no key with id "acme-kms/no-such-key"`) {
		t.Errorf("an id of no key: %v; want a 404 naming it", err)
	}
}
