package gcpname

import (
	"strings"
	"testing"
)

// TestParseName: each segment lands in its field and is checked by its
// own rule; the error names the kind and the wrong segment.
func TestParseName(t *testing.T) {
	n, err := ParseName(KindVersion, "projects/acme-prod-kms/locations/europe-west1/keyRings/pay_1/cryptoKeys/k-2/cryptoKeyVersions/17")
	if err != nil || n != (Name{Project: "acme-prod-kms", Location: "europe-west1", KeyRing: "pay_1", CryptoKey: "k-2", Version: "17"}) {
		t.Fatalf("version name: %+v %v", n, err)
	}
	n, err = ParseName(KindImportJob, "projects/123456/locations/us/keyRings/r/importJobs/j")
	if err != nil || n != (Name{Project: "123456", Location: "us", KeyRing: "r", ImportJob: "j"}) {
		t.Fatalf("import job name: %+v %v", n, err)
	}
	for _, c := range []struct{ kind, name, want string }{
		{KindKeyRing, "projects/Acme/locations/us/keyRings/r", `invalid project ID "Acme"`},
		{KindKeyRing, "projects/acme-prod/locations/US/keyRings/r", `invalid location ID "US"`},
		{KindCryptoKey, "projects/acme-prod/locations/us/keyRings/r/cryptoKeys/a.b", `crypto key: invalid cryptoKey ID "a.b"`},
		{KindVersion, "projects/acme-prod/locations/us/keyRings/r/cryptoKeys/k/cryptoKeyVersions/0", `invalid cryptoKeyVersion ID "0"`},
		{KindImportJob, "projects/acme-prod/locations/us/keyRings/r/importJobs/", `invalid importJob ID ""`},
		{KindKeyRing, "projects/acme-prod/locations/us", "is not a key ring name"},
		{"bucket", "projects/acme-prod", `unknown resource kind "bucket"`},
	} {
		if _, err := ParseName(c.kind, c.name); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.kind, c.name, err, c.want)
		}
	}
}

// FuzzParseName: any string parses or errs without panic, and what parses
// builds the same name again.
func FuzzParseName(f *testing.F) {
	f.Add("projects/acme-prod-kms/locations/us/keyRings/r/cryptoKeys/k")
	f.Add("projects/1/locations/x/keyRings//cryptoKeys/k")
	f.Add("projects/p/locations")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(KindCryptoKey, s)
		if err != nil {
			return
		}
		if got := CryptoKeyName(n.Project, n.Location, n.KeyRing, n.CryptoKey); got != s {
			t.Fatalf("%q parsed as %+v, which names %q", s, n, got)
		}
	})
}
