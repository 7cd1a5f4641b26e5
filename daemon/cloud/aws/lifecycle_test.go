package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/engine"
)

func newLocal(t *testing.T) (*Account, *LocalKMS) {
	t.Helper()
	lk := StartLocalKMS(t)
	return newAccount(t, LocalSettings(t, lk, "aws-test")), lk
}

// newAccount checks cfg as the daemon does and makes its account.
func newAccount(t testing.TB, cfg Settings) *Account {
	t.Helper()
	if errs := cfg.Validate("aws[0]"); len(errs) > 0 {
		t.Fatal(errs)
	}
	a, err := New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// listAll is what a sync reads: the live keys, then those pending
// deletion, by name.
func listAll(t *testing.T, a *Account) (live, deleted map[string]cloud.KeyVersion) {
	t.Helper()
	ctx := context.Background()
	byName := func(list func(context.Context, func([]cloud.KeyVersion) error) error) map[string]cloud.KeyVersion {
		out := map[string]cloud.KeyVersion{}
		if err := list(ctx, func(p []cloud.KeyVersion) error {
			for _, kv := range p {
				out[kv.Name] = kv
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	return byName(a.ListKeys), byName(a.ListDeleted)
}

// TestLifecycleAgainstLocalKMS creates one key of each kind in local-kms
// and takes them through the life cycle, reading back what KMS holds.
func TestLifecycleAgainstLocalKMS(t *testing.T) {
	a, lk := newLocal(t)
	ctx := context.Background()
	ids := map[string]string{}
	for _, r := range []cloud.CreateRequest{
		{Name: "payments", Type: "oct", Tags: map[string]string{"owner": "ops", TagDescription: "card data"}},
		{Name: "signing", Type: "RSA", Size: 3072, Tags: map[string]string{TagUsage: "SIGN_VERIFY"}},
		{Name: "tokens", Type: "EC", Curve: "P-384"},
		{Name: "macs", Type: "HMAC", Size: 256, Disabled: true},
	} {
		kv, err := a.Create(ctx, r)
		if err != nil {
			t.Fatalf("create %s: %v", r.Name, err)
		}
		ids[r.Name] = kv.Name
		if !isKeyID(kv.Name) || kv.Version != Version || kv.Tags[TagAliases] != r.Name || kv.Created.IsZero() {
			t.Errorf("create %s answered %+v", r.Name, kv)
		}
	}
	live, _ := listAll(t, a)
	check := func(name, typ, curve string, size int, enabled bool, tags map[string]string) {
		t.Helper()
		kv, ok := live[ids[name]]
		if !ok {
			t.Fatalf("%s not listed: %v", name, live)
		}
		if kv.Type != typ || kv.Curve != curve || kv.Size != size || kv.Enabled != enabled || kv.Updated.IsZero() {
			t.Errorf("%s listed as %s %s %d enabled=%t", name, kv.Type, kv.Curve, kv.Size, kv.Enabled)
		}
		for k, v := range tags {
			if kv.Tags[k] != v {
				t.Errorf("%s tag %s = %q, want %q (tags %v)", name, k, kv.Tags[k], v, kv.Tags)
			}
		}
	}
	check("payments", "oct", "", 256, true, map[string]string{"owner": "ops", TagDescription: "card data", TagSpec: "SYMMETRIC_DEFAULT",
		TagUsage: "ENCRYPT_DECRYPT", TagOrigin: "AWS_KMS", TagState: "Enabled", TagManager: "CUSTOMER", TagRotation: "off"})
	check("signing", "RSA", "", 3072, true, map[string]string{TagUsage: "SIGN_VERIFY", TagSpec: "RSA_3072"})
	check("tokens", "EC", "P-384", 384, true, map[string]string{TagUsage: "SIGN_VERIFY"})
	check("macs", "HMAC", "", 256, false, map[string]string{TagUsage: "GENERATE_VERIFY_MAC", TagState: "Disabled"})

	// Update: description, aliases and user tags; enable.
	pay := ids["payments"]
	kv, err := a.Update(ctx, pay, "", cloud.Update{Tags: map[string]string{"team": "cards", TagDescription: "PAN tokens", TagAliases: "payments-v2,pan"}})
	if err != nil {
		t.Fatal(err)
	}
	if kv.Tags["owner"] != "" || kv.Tags["team"] != "cards" || kv.Tags[TagDescription] != "PAN tokens" || kv.Tags[TagAliases] != "pan,payments-v2" {
		t.Errorf("after update: %v", kv.Tags)
	}
	if _, err := a.Get(ctx, "payments", ""); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("the removed alias still resolves: %v", err)
	}
	if got, err := a.Get(ctx, "pan", ""); err != nil || got.Name != pay {
		t.Errorf("the new alias resolves to %q, %v", got.Name, err)
	}
	if _, err := a.Update(ctx, pay, "", cloud.Update{Tags: map[string]string{TagOrigin: "EXTERNAL"}}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "aws:origin is read-only") {
		t.Errorf("changing aws:origin: %v", err)
	}
	on := true
	if kv, err := a.Update(ctx, "macs", "", cloud.Update{Enabled: &on}); err != nil || !kv.Enabled {
		t.Errorf("enable: %+v %v", kv, err)
	}

	// Rotation: a period, then on demand (both through the stand-in).
	p, err := a.SetRotationPolicy(ctx, pay, cloud.RotationPolicy{RotateAfter: engine.Duration(180 * 24 * time.Hour)})
	if err != nil || time.Duration(p.RotateAfter) != 180*24*time.Hour {
		t.Fatalf("set rotation: %+v %v", p, err)
	}
	if kv, _ := a.Get(ctx, pay, ""); kv.Tags[TagRotation] != "on, every 180 days" {
		t.Errorf("rotation shown as %q", kv.Tags[TagRotation])
	}
	for _, bad := range []time.Duration{30 * 24 * time.Hour, 3000 * 24 * time.Hour, 100*24*time.Hour + time.Hour} {
		if _, err := a.SetRotationPolicy(ctx, pay, cloud.RotationPolicy{RotateAfter: engine.Duration(bad)}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "90 to 2560") {
			t.Errorf("rotation every %s: %v", bad, err)
		}
	}
	if _, err := a.Rotate(ctx, pay); err != nil || lk.Rotations(pay) != 1 {
		t.Errorf("rotate on demand: %v (%d rotations)", err, lk.Rotations(pay))
	}
	if _, err := a.Rotate(ctx, ids["signing"]); !errors.Is(err, cloud.ErrUnsupported) || !strings.Contains(err.Error(), "RSA_3072") {
		t.Errorf("rotate an RSA key: %v", err)
	}
	if !slices.Contains(lk.Stood(), "RotateKeyOnDemand") || !slices.Contains(lk.Stood(), "RotationPeriodInDays") {
		t.Errorf("the stand-in answered %v", lk.Stood())
	}

	// Schedule deletion, see it pending, refuse to disable it, cancel.
	del, err := a.Delete(ctx, ids["tokens"])
	if err != nil || del.Deleted == nil || del.PurgeAt == nil || del.PurgeAt.Before(time.Now().AddDate(0, 0, 29)) {
		t.Fatalf("delete: %+v %v", del, err)
	}
	live, deleted := listAll(t, a)
	if _, ok := live[ids["tokens"]]; ok {
		t.Error("a key pending deletion is listed live")
	}
	if d, ok := deleted[ids["tokens"]]; !ok || d.PurgeAt == nil || d.Tags[TagState] != "PendingDeletion" {
		t.Errorf("pending deletion listing: %+v", deleted)
	}
	off := false
	if _, err := a.Update(ctx, ids["tokens"], "", cloud.Update{Enabled: &off}); !errors.Is(err, cloud.ErrConflict) || !strings.Contains(err.Error(), "pending deletion must be recovered first") {
		t.Errorf("disable a key pending deletion: %v", err)
	}
	rec, err := a.Recover(ctx, ids["tokens"])
	// AWS leaves a recovered key Disabled; local-kms enables it.
	if err != nil || rec.Deleted != nil || rec.Tags[TagState] == "PendingDeletion" {
		t.Errorf("recover: %+v %v", rec, err)
	}

	// What AWS cannot do is refused with the reason.
	if _, err := a.Backup(ctx, pay); !errors.Is(err, cloud.ErrUnsupported) || !strings.Contains(err.Error(), "not supported by this cloud: AWS cannot export key material") {
		t.Errorf("backup: %v", err)
	}
	if err := a.Purge(ctx, pay); !errors.Is(err, cloud.ErrUnsupported) {
		t.Errorf("purge: %v", err)
	}
	if _, err := a.Get(ctx, "no-such-alias", ""); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("get unknown: %v", err)
	}
}

// TestSyncCostGrowsWithChanges: a listing describes a key again only when
// it is new, its aliases moved, keyward changed it, or a full refresh is
// due.
func TestSyncCostGrowsWithChanges(t *testing.T) {
	lk := StartLocalKMS(t)
	cfg := LocalSettings(t, lk, "aws-cost")
	cfg.FullRefreshEvery = 4
	a := newAccount(t, cfg)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		kv, err := a.Create(ctx, cloud.CreateRequest{Name: "k" + string(rune('a'+i)), Type: "oct"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, kv.Name)
	}
	// A fresh connector (as after a restart) describes every key once.
	a, _ = New(ctx, cfg, nil)
	describes := func() int { return a.Calls()["DescribeKey"] }
	listAll(t, a)
	if n := describes(); n != 5 {
		t.Errorf("first listing: %d DescribeKey, want 5", n)
	}
	first, _ := listAll(t, a)
	if n := describes(); n != 5 {
		t.Errorf("unchanged listing: %d more DescribeKey, want 0", n-5)
	}
	// An alias added outside keyward: one key described again, and its
	// Updated time moves.
	other, _ := New(ctx, cfg, nil)
	time.Sleep(1100 * time.Millisecond) // Updated has a one-second resolution
	if _, err := other.Update(ctx, ids[2], "", cloud.Update{Tags: map[string]string{TagAliases: "kc,extra"}}); err != nil {
		t.Fatal(err)
	}
	after, _ := listAll(t, a)
	if n := describes(); n != 6 {
		t.Errorf("one alias changed: %d more DescribeKey, want 1", n-5)
	}
	if !after[ids[2]].Updated.After(first[ids[2]].Updated) || !after[ids[0]].Updated.Equal(first[ids[0]].Updated) {
		t.Errorf("Updated moved for the wrong keys: %v → %v", first[ids[2]].Updated, after[ids[2]].Updated)
	}
	// The 4th listing is a full refresh: it catches a description changed
	// outside keyward, which moves no alias.
	if _, err := other.Update(ctx, ids[4], "", cloud.Update{Tags: map[string]string{TagDescription: "changed behind keyward's back"}}); err != nil {
		t.Fatal(err)
	}
	full, _ := listAll(t, a)
	if n := describes(); n != 11 {
		t.Errorf("full refresh: %d DescribeKey in all, want 11", n)
	}
	if full[ids[4]].Tags[TagDescription] != "changed behind keyward's back" {
		t.Errorf("the full refresh missed the description: %v", full[ids[4]].Tags)
	}
	_ = lk
}

// TestErrorsAnAdministratorCanActOn: AWS's error codes become the cloud
// error kinds with what to do, and throttling is retried by the SDK.
func TestErrorsAnAdministratorCanActOn(t *testing.T) {
	a, lk := newLocal(t)
	ctx := context.Background()
	kv, err := a.Create(ctx, cloud.CreateRequest{Name: "x", Type: "oct"})
	if err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int32
	for _, c := range []struct {
		code, target string
		kind         error
		want         string
	}{
		{"AccessDeniedException", "DisableKey", cloud.ErrAccess, "lacks permission kms:DisableKey"},
		{"ExpiredTokenException", "DisableKey", cloud.ErrCredential, "session credentials have expired"},
		{"UnrecognizedClientException", "DisableKey", cloud.ErrCredential, "does not recognise the access key"},
		{"ThrottlingException", "DisableKey", cloud.ErrThrottled, "after the SDK's retries"},
		{"KMSInvalidStateException", "DisableKey", cloud.ErrConflict, "state does not allow this"},
		{"IncorrectKeyMaterialException", "DisableKey", cloud.ErrConflict, "re-import that material"},
		{"ValidationException", "DisableKey", cloud.ErrInvalid, "AWS refused the request: "},
		{"NoSuchCodeException", "DisableKey", cloud.ErrBadAnswer, "AWS answered NoSuchCodeException"},
	} {
		attempts.Store(0)
		lk.SetFail(func(target string) string {
			if target == c.target {
				attempts.Add(1)
				return c.code
			}
			return ""
		})
		off := false
		_, err := a.Update(ctx, kv.Name, "", cloud.Update{Enabled: &off})
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.code, err)
		}
		if c.code == "ThrottlingException" && attempts.Load() < 2 {
			t.Errorf("throttling was not retried (%d attempts)", attempts.Load())
		}
	}
	lk.SetFail(nil)
}

// TestChinaPartitionRules: aws-cn refuses native asymmetric keys and
// non-128-bit imports before any request.
func TestChinaPartitionRules(t *testing.T) {
	lk := StartLocalKMS(t)
	cfg := LocalSettings(t, lk, "aws-cn")
	cfg.Partition, cfg.Region = PartitionChina, "cn-north-1"
	a := newAccount(t, cfg)
	ctx := context.Background()
	for _, r := range []cloud.CreateRequest{{Name: "r", Type: "RSA", Size: 2048}, {Name: "e", Type: "EC", Curve: "P-256"}} {
		if _, err := a.Create(ctx, r); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "aws-cn partition cannot create native asymmetric keys") {
			t.Errorf("create %s in aws-cn: %v", r.Type, err)
		}
	}
	if _, err := a.Import(ctx, cloud.ImportRequest{Name: "i", Symmetric: make([]byte, 32)}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "only 128-bit") {
		t.Errorf("import 256-bit in aws-cn: %v", err)
	}
	if n := len(a.Calls()); n != 0 {
		t.Errorf("requests were sent: %v", a.Calls())
	}
}

// TestFirstSyncRequestsPerKey: the first sync of a key costs DescribeKey,
// ListResourceTags and GetKeyRotationStatus once each: the sync's read of
// the new key's type reuses what the listing just described.
func TestFirstSyncRequestsPerKey(t *testing.T) {
	lk := StartLocalKMS(t)
	cfg := LocalSettings(t, lk, "aws-first")
	ctx := context.Background()
	seed, _ := New(ctx, cfg, nil)
	for i := range 20 {
		if _, err := seed.Create(ctx, cloud.CreateRequest{Name: "k" + strings.Repeat("x", i+1), Type: "oct"}); err != nil {
			t.Fatal(err)
		}
		// and one key without an alias
		if i == 0 {
			if _, err := seed.client.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, _ := New(ctx, cfg, nil)
	src := cloud.NewViewSource(cfg.Name, a, time.Hour, nil)
	src.Attach(cloudtest.Discard{})
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	calls := a.Calls()
	if calls["DescribeKey"] != 21 || calls["ListResourceTags"] != 21 || calls["GetKeyRotationStatus"] != 21 || calls["ListAliases"] != 1 || calls["ListKeys"] != 1 {
		t.Errorf("first sync of 21 keys: %v", calls)
	}
	if st := src.LastSync(); st.Rows != 21 {
		t.Errorf("first sync wrote %d rows", st.Rows)
	}
}

// TestDeclaredSpecsCreate: every key spec the account declares (what the
// TUI's create form offers) is created by local-kms as that spec, HMAC
// keys for MACs; nothing is declared that AWS would refuse.
func TestDeclaredSpecsCreate(t *testing.T) {
	a, _ := newLocal(t)
	for i, spec := range a.CreateSpecs() {
		typ, arg, _ := strings.Cut(spec, " ")
		r := cloud.CreateRequest{Name: fmt.Sprintf("declared-%d", i), Type: strings.ToUpper(typ), Curve: arg}
		if n, err := strconv.Atoi(arg); err == nil {
			r.Size, r.Curve = n, ""
		}
		if err := a.CheckSpec(r); err != nil {
			t.Errorf("declared %q: CheckSpec: %v", spec, err)
			continue
		}
		kv, err := a.Create(context.Background(), r)
		if err != nil {
			t.Errorf("declared %q: %v", spec, err)
			continue
		}
		if !strings.EqualFold(kv.Type, typ) || (r.Size != 0 && kv.Size != r.Size) || kv.Curve != r.Curve {
			t.Errorf("declared %q created as %s %d %s", spec, kv.Type, kv.Size, kv.Curve)
		}
	}
}
