package aws

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyward/keyward/daemon/cloud"
)

// TestReimportWithNewExpiry: material that expired in local-kms (which
// itself puts such a key back to PendingImport, as AWS deletes expired
// material) is re-imported with a new expiry, then changed to none, then
// to a date again while the key is enabled — each time the expiry is what
// local-kms describes afterwards (read with a plain client, not keyward's
// answer), not the first upload's. An expiry AWS would refuse is refused
// before any request.
func TestReimportWithNewExpiry(t *testing.T) {
	a, lk := newLocal(t)
	ctx := context.Background()
	first := expiringSoon(t, a)
	kv, blob := importKept(t, a, cloud.ImportRequest{Name: "short-lived", Symmetric: randomAES(t), Expires: &first})
	plain := lk.Client()
	stored := func() *types.KeyMetadata { return lk.Described(t, kv.Name) }
	waitExpired(t, lk, kv.Name, first)

	// A new expiry, 90 days out.
	want := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
	back, err := a.RestoreExpiring(ctx, blob, cloud.MaterialExpiry{At: &want})
	if err != nil {
		t.Fatal(err)
	}
	md := stored()
	if md.KeyState != types.KeyStateEnabled || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || md.ValidTo == nil || !md.ValidTo.Equal(want) {
		t.Fatalf("after re-import with a new expiry, local-kms holds state %s, model %s, valid to %v; want Enabled, expiring %s",
			md.KeyState, md.ExpirationModel, md.ValidTo, want)
	}
	if back.Expires == nil || !back.Expires.Equal(want) {
		t.Errorf("keyward's answer says the material expires %v, want %s", back.Expires, want)
	}
	if _, err := plain.Encrypt(ctx, &kms.EncryptInput{KeyId: sdkaws.String(kv.Name), Plaintext: []byte("x")}); err != nil {
		t.Fatalf("the re-imported key does not encrypt: %v", err)
	}

	// None: deleted, then re-imported without expiry.
	if _, err := a.DeleteMaterial(ctx, kv.Name); err != nil {
		t.Fatal(err)
	}
	back, err = a.RestoreExpiring(ctx, blob, cloud.MaterialExpiry{})
	if err != nil {
		t.Fatal(err)
	}
	if md := stored(); md.KeyState != types.KeyStateEnabled || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire || md.ValidTo != nil {
		t.Fatalf("after re-import without expiry, local-kms holds state %s, model %s, valid to %v", md.KeyState, md.ExpirationModel, md.ValidTo)
	}
	if back.Expires != nil {
		t.Errorf("keyward's answer says the material expires %v", back.Expires)
	}

	// A date again, into the enabled key (AWS re-imports to change the
	// expiry of material in use).
	later := time.Now().Add(200 * 24 * time.Hour).UTC().Truncate(time.Second)
	if _, err := a.RestoreExpiring(ctx, blob, cloud.MaterialExpiry{At: &later}); err != nil {
		t.Fatal(err)
	}
	if md := stored(); md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || md.ValidTo == nil || !md.ValidTo.Equal(later) {
		t.Fatalf("after re-import into the enabled key, local-kms holds model %s, valid to %v; want %s", md.ExpirationModel, md.ValidTo, later)
	}

	// What AWS refuses is refused here, before any request.
	before := a.Calls()
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Now().Add(400 * 24 * time.Hour), "at most 365 days ahead"},
		{time.Now().Add(-time.Hour), "is not in the future"},
	} {
		if _, err := a.RestoreExpiring(ctx, blob, cloud.MaterialExpiry{At: &c.at}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("re-import expiring %s: %v, want it refused naming %q", c.at, err, c.want)
		}
		far := c.at
		if _, err := a.Import(ctx, cloud.ImportRequest{Name: "too-far", Symmetric: randomAES(t), Expires: &far}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("import expiring %s: %v, want it refused naming %q", c.at, err, c.want)
		}
	}
	for op, n := range a.Calls() {
		if n != before[op] {
			t.Errorf("a refused expiry sent %s", op)
		}
	}
	if md := stored(); md.ValidTo == nil || !md.ValidTo.Equal(later) {
		t.Errorf("a refused re-import changed the stored expiry: %v", md.ValidTo)
	}
}

// expiringSoon is an expiry for material the test then waits to see
// expire: soon, so the wait is short, yet late enough that an import
// started now completes before it, however loaded the machine. A fixed
// two or three seconds ahead failed on a loaded machine (local-kms
// refused the import: "ValidTo must be in the future"), so an import is
// timed here first (a throwaway key, no expiry) and the expiry leaves
// three times that, and two seconds more, to the test's own import.
func expiringSoon(t *testing.T, a *Account) time.Time {
	t.Helper()
	start := time.Now()
	if _, err := a.Import(context.Background(), cloud.ImportRequest{Name: "import-timing", Symmetric: randomAES(t)}); err != nil {
		t.Fatalf("the timing import: %v", err)
	}
	took := time.Since(start)
	return time.Now().Add(2*time.Second + 3*took).UTC().Truncate(time.Second).Add(time.Second)
}

// waitExpired waits until local-kms has expired the imported material of
// key id, which it does as AWS deletes expired material: the key is back
// to PendingImport. It expires at expires; the wait allows 30 s more.
func waitExpired(t *testing.T, lk *LocalKMS, id string, expires time.Time) {
	t.Helper()
	for deadline := expires.Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		md := lk.Described(t, id)
		if md.KeyState == types.KeyStatePendingImport {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the material did not expire in local-kms: %+v", md)
		}
	}
}

// TestRestoreOfExpiredCopyAsksForAnExpiry: a kept copy whose expiry has
// passed, restored without an expiry, is refused before any request,
// naming the choice to make — it was re-imported silently with no expiry
// at all, so material an administrator made expire came back for good.
// With the choice made it is restored as asked.
func TestRestoreOfExpiredCopyAsksForAnExpiry(t *testing.T) {
	a, lk := newLocal(t)
	ctx := context.Background()
	first := expiringSoon(t, a)
	kv, blob := importKept(t, a, cloud.ImportRequest{Name: "expired-copy", Symmetric: randomAES(t), Expires: &first})
	stored := func() *types.KeyMetadata { return lk.Described(t, kv.Name) }
	waitExpired(t, lk, kv.Name, first)
	before := a.Calls()
	_, err := a.Restore(ctx, blob)
	if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "expired "+first.Format(time.RFC3339)) ||
		!strings.Contains(err.Error(), "--expires") || !strings.Contains(err.Error(), "--no-expiry") {
		t.Fatalf("restore of a copy whose expiry passed: %v, want it refused asking for an expiry", err)
	}
	for op, n := range a.Calls() {
		if n != before[op] {
			t.Errorf("the refused restore sent %s", op)
		}
	}
	if md := stored(); md.KeyState != types.KeyStatePendingImport {
		t.Fatalf("after the refused restore, local-kms holds state %s, model %s", md.KeyState, md.ExpirationModel)
	}
	if _, err := a.RestoreExpiring(ctx, blob, cloud.MaterialExpiry{}); err != nil {
		t.Fatal(err)
	}
	if md := stored(); md.KeyState != types.KeyStateEnabled || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
		t.Fatalf("after the restore with --no-expiry: state %s, model %s", md.KeyState, md.ExpirationModel)
	}
}
