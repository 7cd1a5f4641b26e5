package azure

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// A listing page as a vault (or something pretending to be one) sends it:
// every entry becomes a key version or a precise error, never a panic.
func FuzzListingPage(f *testing.F) {
	f.Add(`{"value":[{"kid":"https://kv.vault.azure.net/keys/acme-a","attributes":{"enabled":true,"created":1700000000,"updated":1700000100,"exp":1800000000},"tags":{"a":"b"}}],"nextLink":null}`)
	f.Add(`{"value":[{"kid":"https://kv.vault.azure.net/keys/acme-a/0123456789abcdef0123456789abcdef","attributes":{"enabled":false,"updated":1}}]}`)
	f.Add(`{"value":[{"attributes":{"enabled":true,"updated":1700000000}}]}`)
	f.Add(`{"value":[null,{"kid":""}]}`)
	f.Add(`{"value":[{"kid":"https://kv/keys/","attributes":{}}]}`)
	f.Add(`<html>`)
	f.Fuzz(func(t *testing.T, body string) {
		var page azkeys.KeyPropertiesListResult
		if json.Unmarshal([]byte(body), &page) != nil {
			return
		}
		for _, kp := range page.Value {
			kv, err := fromProperties(kp)
			if err != nil {
				continue
			}
			if kv.Name == "" || kv.Updated.IsZero() {
				t.Fatalf("accepted an entry without a name or updated time: %+v", kv)
			}
			if strings.Contains(kv.Name, "/") {
				t.Fatalf("name %q holds a slash", kv.Name)
			}
		}
	})
}

// A rotation policy answer: read into keyward's policy or refused; what
// is read writes back to the same policy.
func FuzzRotationPolicy(f *testing.F) {
	f.Add(`{"lifetimeActions":[{"action":{"type":"Rotate"},"trigger":{"timeAfterCreate":"P90D"}},{"action":{"type":"Notify"},"trigger":{"timeBeforeExpiry":"P30D"}}],"attributes":{"expiryTime":"P1Y"}}`)
	f.Add(`{"lifetimeActions":[{"action":{"type":"rotate"},"trigger":{"timeBeforeExpiry":"P7D"}}],"attributes":{"expiryTime":"P2M"}}`)
	f.Add(`{"lifetimeActions":[{"action":{"type":"Explode"},"trigger":{}}]}`)
	f.Add(`{"lifetimeActions":[null]}`)
	f.Add(`{"attributes":{"expiryTime":"PT-1H"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var p azkeys.KeyRotationPolicy
		if json.Unmarshal([]byte(body), &p) != nil {
			return
		}
		got, err := PolicyFromAzure(p)
		if err != nil {
			return
		}
		for _, d := range []engine.Duration{got.RotateAfter, got.RotateBeforeExpiry, got.ExpireAfter, got.NotifyBefore} {
			if d < 0 {
				t.Fatalf("negative duration in %+v", got)
			}
		}
		if got.RotateAfter > 0 && got.RotateBeforeExpiry > 0 {
			return // one action carried both triggers; keyward writes only one back
		}
		trunc := func(p cloud.RotationPolicy) cloud.RotationPolicy {
			tr := func(d engine.Duration) engine.Duration {
				return engine.Duration(time.Duration(d).Truncate(time.Second))
			}
			return cloud.RotationPolicy{RotateAfter: tr(p.RotateAfter), RotateBeforeExpiry: tr(p.RotateBeforeExpiry), ExpireAfter: tr(p.ExpireAfter), NotifyBefore: tr(p.NotifyBefore)}
		}
		back, err := PolicyFromAzure(PolicyToAzure(got))
		if err != nil || trunc(back) != trunc(got) {
			t.Fatalf("%+v wrote back as %+v (%v)", got, back, err)
		}
	})
}

func FuzzParseKID(f *testing.F) {
	for _, s := range []string{"https://kv.vault.azure.net/keys/acme-a", "https://kv.vault.azure.net/keys/acme-a/0123abcd",
		"https://kv.vault.azure.net/deletedkeys/acme-a", "https://kv/keys/", "", "keys/a", "https://kv/keys/a/b/c", "https://kv/keys/a%2Fb/v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, kid string) {
		name, version, err := ParseKID(kid)
		if err != nil {
			return
		}
		if name == "" || strings.ContainsAny(name+version, "/?#% .") {
			t.Fatalf("ParseKID(%q) = %q, %q", kid, name, version)
		}
	})
}
