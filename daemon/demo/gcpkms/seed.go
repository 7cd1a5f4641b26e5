package gcpkms

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
)

// DemoProject is the project the demo's fake serves.
const DemoProject = "acme-prod-kms"

// SeedDemo fills the fake with the demo's Google Cloud project: key rings
// in two locations, keys of every purpose (symmetric, signing, asymmetric
// decryption, MAC) and protection level, and versions in every state
// (enabled, disabled, scheduled for destruction, destroyed, import
// failed), created over the past two years before now.
func (s *Server) SeedDemo(now time.Time) error {
	ctx := context.Background()
	s.mu.Lock()
	s.projects[DemoProject] = true
	s.mu.Unlock()
	at := func(days int) time.Time { return now.AddDate(0, 0, days) }
	type key struct {
		loc, ring, id string
		purpose       kmspb.CryptoKey_CryptoKeyPurpose
		alg           kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm
		prot          kmspb.ProtectionLevel
		labels        map[string]string
		rotate        time.Duration
		created       []int // days before now of each version
		importOnly    bool
	}
	keys := []key{
		{loc: "europe-west1", ring: "acme-payments", id: "card-kek", purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT, alg: kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
			prot: kmspb.ProtectionLevel_HSM, labels: map[string]string{"app": "payments", "env": "prod"}, rotate: 90 * 24 * time.Hour, created: []int{-450, -360, -270, -80}},
		{loc: "europe-west1", ring: "acme-payments", id: "webhook-mac", purpose: kmspb.CryptoKey_MAC, alg: kmspb.CryptoKeyVersion_HMAC_SHA256,
			prot: kmspb.ProtectionLevel_SOFTWARE, labels: map[string]string{"app": "webhooks"}, created: []int{-120}},
		{loc: "europe-west1", ring: "acme-payments", id: "crm-byok", purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT, alg: kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
			prot: kmspb.ProtectionLevel_SOFTWARE, labels: map[string]string{"app": "crm"}, importOnly: true, created: []int{-40, -39}},
		{loc: "us", ring: "acme-signing", id: "release-signer", purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, alg: kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256,
			prot: kmspb.ProtectionLevel_HSM, labels: map[string]string{"team": "release"}, created: []int{-700, -200}},
		{loc: "us", ring: "acme-signing", id: "sso-decrypt", purpose: kmspb.CryptoKey_ASYMMETRIC_DECRYPT, alg: kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_3072_SHA256,
			prot: kmspb.ProtectionLevel_SOFTWARE, labels: map[string]string{"team": "identity"}, created: []int{-300}},
		{loc: "us", ring: "acme-signing", id: "legacy-tokens", purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT, alg: kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
			prot: kmspb.ProtectionLevel_SOFTWARE, created: []int{-800}},
	}
	rings := map[string]bool{}
	for _, k := range keys {
		parent := gcpname.LocationName(DemoProject, k.loc)
		if !rings[parent+k.ring] {
			rings[parent+k.ring] = true
			if _, err := s.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: parent, KeyRingId: k.ring, KeyRing: &kmspb.KeyRing{}}); err != nil {
				return fmt.Errorf("seed key ring %s: %w", k.ring, err)
			}
		}
		ck := &kmspb.CryptoKey{Purpose: k.purpose, Labels: k.labels, ImportOnly: k.importOnly,
			VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: k.alg, ProtectionLevel: k.prot}}
		if k.rotate > 0 {
			ck.RotationSchedule = &kmspb.CryptoKey_RotationPeriod{RotationPeriod: durationpb.New(k.rotate)}
			ck.NextRotationTime = timestamppb.New(at(k.created[len(k.created)-1]).Add(k.rotate))
		}
		name := gcpname.KeyRingName(DemoProject, k.loc, k.ring)
		if _, err := s.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: name, CryptoKeyId: k.id, CryptoKey: ck, SkipInitialVersionCreation: true}); err != nil {
			return fmt.Errorf("seed key %s: %w", k.id, err)
		}
		s.mu.Lock()
		ckey := s.keys[name+"/cryptoKeys/"+k.id]
		ckey.pb.CreateTime = timestamppb.New(at(k.created[0]))
		for i, d := range k.created {
			var v *version
			if k.importOnly {
				v = &version{material: make([]byte, 32), pb: &kmspb.CryptoKeyVersion{
					State:           kmspb.CryptoKeyVersion_ENABLED,
					ProtectionLevel: k.prot, Algorithm: k.alg, ImportJob: name + "/importJobs/onboarding",
					ImportTime: timestamppb.New(at(d))}}
				if i == 0 {
					v.material = nil
					v.pb.State, v.pb.ImportTime = kmspb.CryptoKeyVersion_IMPORT_FAILED, nil
					v.pb.ImportFailureReason = "The imported key material is 16 bytes; GOOGLE_SYMMETRIC_ENCRYPTION requires 32 bytes."
				}
				ckey.add(v)
			} else {
				var err error
				if v, err = s.newVersion(ckey); err != nil {
					s.mu.Unlock()
					return err
				}
			}
			v.pb.CreateTime = timestamppb.New(at(d))
			if v.pb.GenerateTime != nil {
				v.pb.GenerateTime = v.pb.CreateTime
			}
		}
		if k.purpose == kmspb.CryptoKey_ENCRYPT_DECRYPT {
			last := ckey.versions[len(ckey.versions)-1]
			ckey.pb.Primary = &kmspb.CryptoKeyVersion{Name: last.pb.Name}
		}
		s.mu.Unlock()
	}
	// Versions in every state: card-kek's first destroyed, its second
	// scheduled for destruction, its third disabled; legacy-tokens retired
	// (its only version scheduled, so the key shows as deleted).
	ver := func(loc, ring, key string, n int) string {
		return fmt.Sprintf("%s/cryptoKeyVersions/%d", gcpname.CryptoKeyName(DemoProject, loc, ring, key), n)
	}
	for _, v := range []string{ver("europe-west1", "acme-payments", "card-kek", 1), ver("europe-west1", "acme-payments", "card-kek", 2), ver("us", "acme-signing", "legacy-tokens", 1)} {
		if _, err := s.DestroyCryptoKeyVersion(ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: v}); err != nil {
			return fmt.Errorf("seed: schedule %s: %w", v, err)
		}
	}
	if err := s.DestroyNow(ver("europe-west1", "acme-payments", "card-kek", 1)); err != nil {
		return err
	}
	_, err := s.UpdateCryptoKeyVersion(ctx, &kmspb.UpdateCryptoKeyVersionRequest{UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}},
		CryptoKeyVersion: &kmspb.CryptoKeyVersion{Name: ver("europe-west1", "acme-payments", "card-kek", 3), State: kmspb.CryptoKeyVersion_DISABLED}})
	if err != nil {
		return err
	}
	// A day of other workloads' use, as the data-access audit log holds
	// it (the Usage report's Google rows).
	card := gcpname.CryptoKeyName(DemoProject, "europe-west1", "acme-payments", "card-kek")
	for h := 24; h >= 1; h-- {
		t := now.Add(-time.Duration(h) * time.Hour).Truncate(time.Hour)
		for i := range 6 + h%5 {
			s.Record(AuditEntry{Time: t.Add(time.Duration(i) * 7 * time.Minute), DataAccess: true, Method: "Decrypt", Resource: card, Principal: "orders-api@acme-prod-kms.iam.gserviceaccount.com"})
		}
		s.Record(AuditEntry{Time: t.Add(5 * time.Minute), DataAccess: true, Method: "Encrypt", Resource: card, Principal: "billing@acme-prod-kms.iam.gserviceaccount.com"})
		s.Record(AuditEntry{Time: t.Add(9 * time.Minute), DataAccess: true, Method: "MacSign", Resource: ver("europe-west1", "acme-payments", "webhook-mac", 1),
			Principal: "webhooks@acme-prod-kms.iam.gserviceaccount.com"})
	}
	return nil
}
