package gcp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
	"github.com/keyward/keyward/daemon/testkit"
)

// TestAuditLogs: usage and admin activity come from Cloud Audit Logs
// through the real logadmin client and Logging's real protocol (the
// Logging fake serving the entries the KMS fake recorded): encrypts and
// decrypts per hour, principal and version; changes with who made them.
func TestAuditLogs(t *testing.T) {
	testkit.AwayFromBoundary(t, time.Hour, 30*time.Second) // the uses are checked as this hour's
	ctx := context.Background()
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/ring"})
	from := time.Now().Add(-time.Minute)
	if _, err := p.Create(ctx, cloud.CreateRequest{Name: "k", Type: "oct"}); err != nil {
		t.Fatal(err)
	}
	r, _ := p.refOf("", "europe-west1/ring/k", "")
	for range 3 {
		ct := encrypt(t, p, "europe-west1/ring/k", []byte("x"))
		if _, err := p.client.Decrypt(ctx, &kmspb.DecryptRequest{Name: p.keyName(r), Ciphertext: ct}); err != nil {
			t.Fatal(err)
		}
	}
	encrypt(t, p, "europe-west1/ring/k", []byte("y"))
	hour := time.Now().UTC().Truncate(time.Hour)
	fake.Record(gcpkms.AuditEntry{Time: time.Now().UTC(), DataAccess: true, Method: "Decrypt", Resource: p.keyName(r) + "/cryptoKeyVersions/1", Principal: "billing@acme-prod-kms.iam.gserviceaccount.com"})
	fake.Record(gcpkms.AuditEntry{Time: time.Now().UTC(), Method: "UpdateCryptoKeyPrimaryVersion", Resource: p.keyName(r), Principal: "alice@acme.example"})
	fake.Record(gcpkms.AuditEntry{Time: time.Now().UTC(), DataAccess: true, Method: "Encrypt", Resource: "projects/" + TestProject + "/locations/us/keyRings/other/cryptoKeys/z/cryptoKeyVersions/1",
		Principal: "old@acme.example"})
	to := time.Now().Add(time.Minute)
	uses, err := p.Usage(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Use{}
	for _, u := range uses {
		got[u.Principal+" "+u.Key+"/"+u.Version] = u
	}
	own := got[fake.Principal+" europe-west1/ring/k/"] // Encrypt and Decrypt name the key, not a version
	if len(uses) != 3 || own.Encrypts != 4 || own.Decrypts != 3 || !own.Hour.Equal(hour) || own.Last.IsZero() {
		t.Errorf("usage %+v", uses)
	}
	if b := got["billing@acme-prod-kms.iam.gserviceaccount.com europe-west1/ring/k/1"]; b.Decrypts != 1 || b.Encrypts != 0 {
		t.Errorf("another principal's use: %+v", b)
	}
	// Only the window asked for.
	if uses, err := p.Usage(ctx, from.Add(-time.Hour), from); err != nil || len(uses) != 0 {
		t.Errorf("usage before the calls: %+v %v", uses, err)
	}
	calls, err := p.AdminActivity(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, c := range calls {
		who = append(who, c.Principal+" "+c.Method+" "+c.Key)
	}
	joined := strings.Join(who, "\n")
	if !strings.Contains(joined, fake.Principal+" CreateCryptoKey europe-west1/ring/k") || !strings.Contains(joined, "alice@acme.example UpdateCryptoKeyPrimaryVersion europe-west1/ring/k") {
		t.Errorf("admin activity:\n%s", joined)
	}
	// A missing logging permission is named.
	fake.Deny("logging.privateLogEntries.list")
	if _, err := p.Usage(ctx, from, to); !errors.Is(err, cloud.ErrAccess) || !strings.Contains(err.Error(), "logging.privateLogEntries.list") {
		t.Errorf("usage without the permission: %v", err)
	}
}
