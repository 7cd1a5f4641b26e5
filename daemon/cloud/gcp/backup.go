package gcp

import (
	"context"
	"crypto/x509"
	"encoding/json"

	"cloud.google.com/go/kms/apiv1/kmspb"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// Google never exports key material: the backup of a key is keyward's
// sealed copy of material it uploaded (cloud.MaterialKeeper), and restore
// imports it into the key again as a new version.

var _ cloud.MaterialKeeper = (*Project)(nil)

// kept is the backup blob of uploaded material (sealed by the Manager).
type kept struct {
	Key        string `json:"key"` // location/ring/key
	Symmetric  bool   `json:"symmetric"`
	Material   []byte `json:"material"` // raw, or PKCS#8 DER
	Purpose    string `json:"purpose,omitempty"`
	Protection string `json:"protection,omitempty"`
}

// noExport is why a key without uploaded material has no backup.
const noExport = "not supported: Google Cloud KMS cannot export key material (only material keyward uploaded has a backup: keyward's sealed copy of what it imported)"

// KeepMaterial returns the backup blob of material r just imported as kv.
func (p *Project) KeepMaterial(kv cloud.KeyVersion, r cloud.ImportRequest) ([]byte, error) {
	k := kept{Key: kv.Name, Purpose: kv.Tags[TagPurpose], Protection: kv.Tags[TagProtection]}
	if r.Symmetric != nil {
		k.Symmetric, k.Material = true, append([]byte(nil), r.Symmetric...)
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(r.Private)
		if err != nil {
			return nil, err
		}
		k.Material = der
	}
	defer clear(k.Material)
	return json.Marshal(k)
}

// Backup refuses: Google never exports key material. (The Manager answers
// for keys keyward uploaded with the copy it kept.)
func (p *Project) Backup(context.Context, string) ([]byte, error) {
	return nil, &cloud.Error{Kind: cloud.ErrUnsupported, Op: "backup", Reason: noExport}
}

// Restore imports a kept copy into its key again as a new version (made
// primary for a symmetric key); a key that is gone is made again,
// import-only, in the same key ring.
func (p *Project) Restore(ctx context.Context, blob []byte) (cloud.KeyVersion, error) {
	var k kept
	if err := json.Unmarshal(blob, &k); err != nil || k.Key == "" || len(k.Material) == 0 {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: "restore", Reason: "the backup is not a Google key's kept material"}
	}
	defer clear(k.Material)
	r := cloud.ImportRequest{Name: k.Key, Tags: map[string]string{TagPurpose: k.Purpose, TagProtection: k.Protection}}
	if k.Symmetric {
		r.Symmetric = k.Material
	} else {
		priv, err := x509.ParsePKCS8PrivateKey(k.Material)
		if err != nil {
			return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: "restore " + k.Key, Reason: "the kept material is not a PKCS#8 private key"}
		}
		r.Private = priv
	}
	return p.Import(ctx, r)
}

// unsupportedTags are the per-key limits of the source's declared
// capabilities, as engine.TagUnsupported tags: what Google cannot do with
// this key, and why.
func unsupportedTags(k *kmspb.CryptoKey, vers []*kmspb.CryptoKeyVersion, tags map[string]string) {
	imported := false
	for _, v := range vers {
		if v.GetImportJob() != "" {
			imported = true
		}
	}
	if !imported {
		tags[engine.TagUnsupported+engine.CapBackup] = noExport
	}
	switch {
	case k.GetImportOnly():
		tags[engine.TagUnsupported+engine.CapRotate] = "not supported: the key is import-only, Google cannot generate its versions (upload new material instead)"
	case k.GetVersionTemplate().GetProtectionLevel() == kmspb.ProtectionLevel_EXTERNAL || k.GetVersionTemplate().GetProtectionLevel() == kmspb.ProtectionLevel_EXTERNAL_VPC:
		tags[engine.TagUnsupported+engine.CapRotate] = "not supported: an EXTERNAL key's versions are made in the external key manager"
	}
	if k.GetPurpose() != kmspb.CryptoKey_ENCRYPT_DECRYPT {
		tags[engine.TagUnsupported+engine.CapRotationPolicy] = "not supported: Google rotates automatically only ENCRYPT_DECRYPT keys (this key is " + k.GetPurpose().String() + ")"
		tags[engine.TagUnsupported+engine.CapVersionPrimary] = "not supported: only ENCRYPT_DECRYPT keys have a primary version (this key is " + k.GetPurpose().String() + ")"
	}
}
