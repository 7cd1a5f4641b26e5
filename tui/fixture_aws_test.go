package tui_test

import (
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
)

// awsCaps is what daemon/cloud/aws declares.
var awsCaps = []string{engine.CapCreate, engine.CapUpload, engine.CapUploadOct, engine.CapUpdate, engine.CapRotate,
	engine.CapDelete, engine.CapRecover, engine.CapRotationPolicy, engine.CapBackup, engine.CapRestore, engine.CapDeleteMaterial, engine.CapMaterialExpiry}

// AWS key IDs of the fixture's account.
const (
	awsSymmetric = "0f1e2d3c-4b5a-4697-8877-66554433aa01"
	awsImported  = "1a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c02"
	awsPending   = "2b3c4d5e-6f70-4b1c-8d2e-3f4a5b6c7d03"
)

// newAWSFixture is the fixture with an AWS account beside the KMS and the
// Azure vault: keys of every kind and state as daemon/cloud/aws maps them
// (named by key ID, one version "current", KMS attributes as aws: tags,
// and what a key cannot do as engine.TagUnsupported tags).
func newAWSFixture() *fixture {
	f := newFixture()
	f.aws = true
	noBackup := "not supported: AWS cannot export key material (only keys keyward uploaded have a backup: keyward's sealed copy of what it imported)"
	add := func(id, alias, alg string, length int, state engine.State, created int, tags map[string]string) *engine.Key {
		tags["aws:aliases"] = alias
		if tags["aws:origin"] == "" {
			tags["aws:origin"] = "AWS_KMS"
		}
		if tags["aws:origin"] != "EXTERNAL" {
			tags[engine.TagUnsupported+engine.CapBackup] = noBackup
			tags[engine.TagUnsupported+engine.CapDeleteMaterial] = "only imported key material (origin EXTERNAL) can be deleted; this key's origin is " + tags["aws:origin"]
		}
		k := engine.Key{ID: engine.KeyID("aws-prod", id, "current"), Source: "aws-prod", Name: id, Version: "current",
			Algorithm: alg, Length: length, State: state, Created: at(created), Activated: at(created), Updated: fixedNow, Tags: tags}
		f.keys = append(f.keys, k)
		return &f.keys[len(f.keys)-1]
	}
	add(awsSymmetric, "orders-db", "oct", 256, engine.StateActive, -400, map[string]string{"aws:key-spec": "SYMMETRIC_DEFAULT", "aws:rotation": "on, every 180 days, next 2027-01-20"})
	add("3c4d5e6f-7081-4c2d-9e3f-4a5b6c7d8e04", "invoice-signing", "RSA", 3072, engine.StateActive, -200, map[string]string{"aws:key-spec": "RSA_3072", "aws:usage": "SIGN_VERIFY"})
	add("4d5e6f70-8192-4d3e-8f4a-5b6c7d8e9f05", "device-attest", "EC P-256", 256, engine.StateDisabled, -90, map[string]string{"aws:key-spec": "ECC_NIST_P256"})
	add("5e6f7081-92a3-4e4f-9a5b-6c7d8e9fa006", "webhook-mac", "HMAC", 256, engine.StateActive, -30, map[string]string{"aws:key-spec": "HMAC_256"})
	imp := add(awsImported, "crm-byok", "oct", 256, engine.StateActive, -20, map[string]string{"aws:key-spec": "SYMMETRIC_DEFAULT", "aws:origin": "EXTERNAL",
		"keyward-linked-to": "kms-prod/acme.crm.key.4", "keyward-application": "crm"})
	imp.Expires, imp.LinkedTo, imp.Application = at(70), "kms-prod/acme.crm.key.4", "crm"
	pend := add(awsPending, "old-exports", "oct", 256, engine.StateDeleted, -700, map[string]string{"aws:key-spec": "SYMMETRIC_DEFAULT", "aws:state": "PendingDeletion"})
	pend.Deleted, pend.PurgeAt = at(-2), at(5)
	th := engine.DefaultThresholds()
	for i := range f.keys {
		a := engine.Classify(f.keys[i], fixedNow, th)
		f.keys[i].Aging = &a
	}
	last := fixedNow.Add(-7 * time.Minute)
	f.sources = append(f.sources, api.SourceInfo{Source: engine.Source{Name: "aws-prod", Kind: "aws", Address: "kms:aws:eu-west-1",
		Health: engine.HealthOK, LastSync: &last, Keys: 6}, Capabilities: awsCaps})
	f.status.Keys = len(f.keys)
	f.status.Sources = append(f.status.Sources, f.sources[len(f.sources)-1].Source)
	return f
}
