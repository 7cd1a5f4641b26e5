package azure

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/engine"
)

// Each way a vault can fail leaves the source degraded with a precise
// reason and the inventory exactly as it was: no partial write, even when
// the failure comes in the middle of a paged listing.
func TestDegradedStatesWriteNothing(t *testing.T) {
	cases := []struct {
		name   string
		kind   error
		reason string
		break_ func(e *env)
		heal   func(e *env)
	}{
		{
			name: "credential refused by Entra ID", kind: cloud.ErrCredential, reason: "AADSTS7000222",
			break_: func(e *env) {
				// A restart with an expired client secret.
				e.connect(e.t.TempDir(), true, "")
				e.cred.fail(errors.New("ClientSecretCredential: authentication failed\nPOST https://login.microsoftonline.com/x/oauth2/v2.0/token\nAADSTS7000222: The provided client secret keys for app '11111111-2222-3333-4444-555555555555' are expired."))
			},
			heal: func(e *env) { e.cred.fail(nil) },
		},
		{
			name: "token refused by the vault", kind: cloud.ErrCredential, reason: "refused the token",
			break_: func(e *env) { e.srv.SetFault(vault.Fault{Kind: vault.FaultBadToken}) },
			heal:   func(e *env) { e.srv.ClearFault() },
		},
		{
			name: "no access policy", kind: cloud.ErrAccess, reason: "no access policy or role assignment",
			break_: func(e *env) { e.srv.SetFault(vault.Fault{Kind: vault.FaultForbidden}) },
			heal:   func(e *env) { e.srv.ClearFault() },
		},
		{
			name: "vault down", kind: cloud.ErrUnreachable, reason: "connection refused",
			break_: func(e *env) { _ = e.srv.Close() },
		},
		{
			name: "garbage answer", kind: cloud.ErrBadAnswer, reason: "not a Key Vault JSON reply",
			break_: func(e *env) { e.srv.SetFault(vault.Fault{Kind: vault.FaultGarbage}) },
			heal:   func(e *env) { e.srv.ClearFault() },
		},
		{
			name: "garbage on the third page", kind: cloud.ErrBadAnswer, reason: "not a Key Vault JSON reply",
			break_: func(e *env) { e.srv.SetFault(vault.Fault{Kind: vault.FaultGarbage, After: 2}) },
			heal:   func(e *env) { e.srv.ClearFault() },
		},
		{
			name: "listing entries without ids", kind: cloud.ErrBadAnswer, reason: "no key id",
			break_: func(e *env) { e.srv.SetFault(vault.Fault{Kind: vault.FaultBadListing}) },
			heal:   func(e *env) { e.srv.ClearFault() },
		},
		{
			name: "throttled", kind: cloud.ErrThrottled, reason: "retry after 7s",
			break_: func(e *env) { e.srv.SetFault(vault.Fault{Kind: vault.FaultThrottle, RetryAfter: 7 * time.Second}) },
			heal:   func(e *env) { e.srv.ClearFault() },
		},
		{
			name: "throttled in the middle of the listing", kind: cloud.ErrThrottled, reason: "VaultRequestTypeLimitReached",
			break_: func(e *env) {
				e.srv.SetFault(vault.Fault{Kind: vault.FaultThrottle, After: 3, RetryAfter: 2 * time.Second})
			},
			heal: func(e *env) { e.srv.ClearFault() },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, vault.Options{PageSize: 5}, false)
			e.t = t
			old := time.Now().Add(-30 * 24 * time.Hour)
			for i := range 30 {
				e.addKey(vault.KeySpec{Name: fmt.Sprintf("acme-k%02d", i), Versions: 2, Created: old})
			}
			e.mustSync()
			// Changes on every page, so any page written would show.
			for i := 0; i < 30; i += 3 {
				if _, err := e.srv.RotateKey(fmt.Sprintf("acme-k%02d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.srv.DeleteKey("acme-k29"); err != nil {
				t.Fatal(err)
			}
			before, evs := e.rows(), len(e.events(""))
			tc.break_(e)
			err := e.sync()
			if !errors.Is(err, tc.kind) {
				t.Fatalf("sync error %v, want %v", err, tc.kind)
			}
			h, reason := e.sink.Health()
			if h != engine.HealthDegraded || !strings.Contains(reason, tc.reason) {
				t.Errorf("health %s %q, want degraded mentioning %q", h, reason, tc.reason)
			}
			if tc.kind == cloud.ErrThrottled && strings.Contains(tc.reason, "7s") && cloud.RetryAfter(err) != 7*time.Second {
				t.Errorf("retry after %s, want the vault's 7s", cloud.RetryAfter(err))
			}
			after := e.rows()
			if len(after) != len(before) {
				t.Errorf("inventory went from %d to %d rows on a failed sync", len(before), len(after))
			}
			for id, k := range after {
				if b, ok := before[id]; !ok || b.State != k.State || !b.Updated.Equal(k.Updated) {
					t.Errorf("row %s changed on a failed sync", id)
				}
			}
			// Only the outage event may be new.
			for _, ev := range e.events("")[:len(e.events(""))-evs] {
				if ev.Origin != engine.OriginSystem {
					t.Errorf("failed sync recorded %+v", ev)
				}
			}
			if tc.heal == nil {
				return
			}
			tc.heal(e)
			e.mustSync()
			if h, _ := e.sink.Health(); h != engine.HealthOK {
				t.Errorf("health %s after the vault healed, want ok", h)
			}
			if got := len(byName(e.rows())["acme-k00"]); got != 3 {
				t.Errorf("after healing acme-k00 has %d versions, want 3", got)
			}
		})
	}
}

// The reasons name what to fix for failures the emulator cannot produce.
func TestClassifyReasons(t *testing.T) {
	v := &Vault{url: "https://kv.vault.azure.net", timeout: 30 * time.Second}
	cases := []struct {
		err    error
		kind   error
		reason string
	}{
		{&net.DNSError{Err: "no such host", Name: "kv.vault.azure.net", IsNotFound: true}, cloud.ErrUnreachable, "DNS lookup of kv.vault.azure.net failed"},
		{fmt.Errorf("x: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}), cloud.ErrUnreachable, "dial https://kv.vault.azure.net"},
		{&tokenError{errors.New("DefaultAzureCredential: failed to acquire a token.\nManagedIdentityCredential: no managed identity endpoint")}, cloud.ErrCredential, "could not get an access token"},
	}
	for _, c := range cases {
		err := v.classify("list keys", c.err)
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("classify(%v) = %v, want %v mentioning %q", c.err, err, c.kind, c.reason)
		}
	}
}
