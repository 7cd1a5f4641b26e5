package gcp

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keyward/keyward/daemon/cloud"
)

// importMethod is the import jobs keyward creates: RSA-OAEP-4096 with
// SHA-256 wrapping an ephemeral AES-256 key that wraps the material (AES
// key wrap with padding, RFC 5649), Google's CKM_RSA_AES_KEY_WRAP.
const importMethod = kmspb.ImportJob_RSA_OAEP_4096_SHA256_AES_256

// Import brings material generated elsewhere into Cloud KMS (BYOK): into
// the key r.Name as a new version when it exists (made primary for a
// symmetric key), else into a new import-only key (and key ring). It
// creates an import job, waits for it to be ACTIVE, wraps the material
// with the job's public key here, imports it and waits for Google's
// verdict: refused material comes back with Google's reason.
func (p *Project) Import(ctx context.Context, r cloud.ImportRequest) (cloud.KeyVersion, error) {
	op := "upload " + r.Name
	if r.NotBefore != nil || r.Expires != nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrUnsupported, Op: op, Reason: "Cloud KMS versions have no activation or expiry date"}
	}
	rf, err := p.refOf(op, r.Name, r.Tags[TagKeyRing])
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	material, sp, err := p.importSpec(op, r)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	defer clear(material)
	labels, err := tagsToLabels(r.Tags)
	if err != nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: err.Error()}
	}
	if err := p.ensureRing(ctx, op, rf); err != nil {
		return cloud.KeyVersion{}, err
	}
	var recovered []string // what keyward found after lost answers
	p.view.count("GetCryptoKey")
	k, err := p.client.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: p.keyName(rf)})
	switch {
	case err == nil:
		if k.GetPurpose() != sp.purpose {
			return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: fmt.Sprintf("%s exists with purpose %s; this material makes a %s version", rf, k.GetPurpose(), sp.purpose)}
		}
		sp.protection = k.GetVersionTemplate().GetProtectionLevel()
		if sp.purpose != kmspb.CryptoKey_ENCRYPT_DECRYPT && k.GetVersionTemplate().GetAlgorithm() != sp.algorithm {
			sp.algorithm = k.GetVersionTemplate().GetAlgorithm()
		}
	case errors.Is(classify(op, err), cloud.ErrNotFound):
		var note string
		k, note, err = p.createKey(ctx, op+": create the import-only key", rf, &kmspb.CreateCryptoKeyRequest{Parent: p.ringName(rf), CryptoKeyId: rf.key, SkipInitialVersionCreation: true,
			CryptoKey: &kmspb.CryptoKey{Purpose: sp.purpose, ImportOnly: true, Labels: labels,
				VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: sp.algorithm, ProtectionLevel: sp.protection}}})
		if err != nil {
			return cloud.KeyVersion{}, err
		}
		recovered = append(recovered, note)
	default:
		return cloud.KeyVersion{}, classify(op, err)
	}
	pending := func(step string, err error) error {
		return classify(fmt.Sprintf("%s: %s (key %s exists without this material: upload again)", op, step, rf), err)
	}
	job, pub, note, err := p.activeJob(ctx, rf, sp.protection)
	if err != nil {
		return cloud.KeyVersion{}, pending("import job", err)
	}
	recovered = append(recovered, note)
	wrapped, err := wrapRSAAES(pub, material)
	if err != nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: err.Error()}
	}
	v, note, err := p.importVersion(ctx, rf, &kmspb.ImportCryptoKeyVersionRequest{Parent: k.GetName(), Algorithm: sp.algorithm,
		ImportJob: job, WrappedKey: wrapped})
	clear(wrapped)
	if err != nil {
		return cloud.KeyVersion{}, pending("import", err)
	}
	recovered = append(recovered, note)
	v, err = p.awaitImport(ctx, v)
	if err != nil {
		return cloud.KeyVersion{}, pending("wait for the imported version", err)
	}
	id := versionID(v.GetName())
	if v.GetState() == kmspb.CryptoKeyVersion_IMPORT_FAILED {
		p.view.invalidate(rf)
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op,
			Reason: fmt.Sprintf("Google refused the material (version %s of %s is IMPORT_FAILED): %s", id, rf, v.GetImportFailureReason())}
	}
	if sp.purpose == kmspb.CryptoKey_ENCRYPT_DECRYPT {
		p.view.count("UpdateCryptoKeyPrimaryVersion")
		if _, err := p.client.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: k.GetName(), CryptoKeyVersionId: id}); err != nil {
			p.view.invalidate(rf)
			return cloud.KeyVersion{}, classify(fmt.Sprintf("%s: make the imported version %s primary (it is imported, not primary)", op, id), err)
		}
	}
	p.view.invalidate(rf)
	kv, err := p.Get(ctx, rf.String(), id)
	kv.Recovered = cloud.JoinRecovered(recovered...)
	return kv, err
}

// importSpec is the material to wrap (raw bytes, or PKCS#8 DER) and what
// it becomes.
func (p *Project) importSpec(op string, r cloud.ImportRequest) ([]byte, spec, error) {
	bad := func(format string, args ...any) ([]byte, spec, error) {
		return nil, spec{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: fmt.Sprintf(format, args...)}
	}
	prot := r.Tags[TagProtection]
	switch {
	case r.Symmetric != nil:
		if len(r.Symmetric) != 32 {
			return bad("Cloud KMS imports 256-bit symmetric material (got %d bits)", 8*len(r.Symmetric))
		}
		sp, err := createSpec(op, "oct", 256, "", map[string]string{TagProtection: prot})
		return append([]byte(nil), r.Symmetric...), sp, err
	case r.Private != nil:
		typ, size, curve := "", 0, ""
		switch k := r.Private.(type) {
		case *rsa.PrivateKey:
			typ, size = "RSA", k.N.BitLen()
		case *ecdsa.PrivateKey:
			typ, curve = "EC", k.Curve.Params().Name
		default:
			return bad("key type %T cannot be imported", r.Private)
		}
		sp, err := createSpec(op, typ, size, curve, map[string]string{TagProtection: prot, TagPurpose: r.Tags[TagPurpose]})
		if err != nil {
			return nil, spec{}, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(r.Private)
		if err != nil {
			return bad("encode the key as PKCS#8: %v", err)
		}
		return der, sp, nil
	}
	return bad("no material to upload")
}

// activeJob creates an import job and waits until it is ACTIVE (an HSM
// job's wrapping key takes a moment), returning its name and public key.
//
// The job's ID is this upload's own (a time and 4 random bytes): when the
// client's retry of a CreateImportJob whose answer was lost gets
// AlreadyExists, the job is the one the lost call made, read back and
// used (recovered says so), as long as it is what was asked.
func (p *Project) activeJob(ctx context.Context, rf ref, prot kmspb.ProtectionLevel) (name string, pub *rsa.PublicKey, recovered string, err error) {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id := "keyward-" + time.Now().UTC().Format("20060102t150405") + "-" + hex.EncodeToString(rnd[:])
	p.view.count("CreateImportJob")
	job, err := p.client.CreateImportJob(ctx, &kmspb.CreateImportJobRequest{Parent: p.ringName(rf), ImportJobId: id,
		ImportJob: &kmspb.ImportJob{ImportMethod: importMethod, ProtectionLevel: prot}})
	if status.Code(err) == codes.AlreadyExists {
		p.view.count("GetImportJob")
		got, gerr := p.client.GetImportJob(ctx, &kmspb.GetImportJobRequest{Name: p.ringName(rf) + "/importJobs/" + id})
		if gerr == nil && got.GetImportMethod() == importMethod && got.GetProtectionLevel() == prot {
			job, err = got, nil
			recovered = "the answer to CreateImportJob was lost; keyward found the import job it made: " + id + ", and made no second"
		}
	}
	if err != nil {
		return "", nil, "", err
	}
	for job.GetState() == kmspb.ImportJob_PENDING_GENERATION {
		select {
		case <-ctx.Done():
			return "", nil, "", ctx.Err()
		case <-time.After(p.importWait):
		}
		p.view.count("GetImportJob")
		if job, err = p.client.GetImportJob(ctx, &kmspb.GetImportJobRequest{Name: job.GetName()}); err != nil {
			return "", nil, "", err
		}
	}
	if job.GetState() != kmspb.ImportJob_ACTIVE {
		return "", nil, "", &cloud.Error{Kind: cloud.ErrConflict, Reason: fmt.Sprintf("import job %s is %s, not ACTIVE", job.GetName(), job.GetState())}
	}
	blk, _ := pem.Decode([]byte(job.GetPublicKey().GetPem()))
	if blk == nil {
		return "", nil, "", &cloud.Error{Kind: cloud.ErrBadAnswer, Reason: "the import job's public key is not PEM"}
	}
	anyPub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	pub, ok := anyPub.(*rsa.PublicKey)
	if err != nil || !ok {
		return "", nil, "", &cloud.Error{Kind: cloud.ErrBadAnswer, Reason: "the import job's public key is not an RSA public key"}
	}
	if pub.N.BitLen() < 3072 {
		return "", nil, "", &cloud.Error{Kind: cloud.ErrBadAnswer, Reason: fmt.Sprintf("the import job's wrapping key has %d bits, under 3072", pub.N.BitLen())}
	}
	return job.GetName(), pub, recovered, nil
}

// awaitImport polls an imported version until Google has judged it.
func (p *Project) awaitImport(ctx context.Context, v *kmspb.CryptoKeyVersion) (*kmspb.CryptoKeyVersion, error) {
	for v.GetState() == kmspb.CryptoKeyVersion_PENDING_IMPORT {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(p.importWait):
		}
		p.view.count("GetCryptoKeyVersion")
		var err error
		if v, err = p.client.GetCryptoKeyVersion(ctx, &kmspb.GetCryptoKeyVersionRequest{Name: v.GetName()}); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// wrapRSAAES is CKM_RSA_AES_KEY_WRAP: a fresh AES-256 key wrapped with
// RSA-OAEP (SHA-256) under the job's public key, followed by the material
// wrapped with that AES key (AES-KWP). The AES key is zeroed.
func wrapRSAAES(pub *rsa.PublicKey, material []byte) ([]byte, error) {
	aesKey := make([]byte, 32)
	defer clear(aesKey)
	if _, err := rand.Read(aesKey); err != nil {
		return nil, err
	}
	head, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, aesKey, nil)
	if err != nil {
		return nil, fmt.Errorf("wrap the ephemeral AES key: %w", err)
	}
	w, err := kwp.NewKWP(aesKey)
	if err != nil {
		return nil, err
	}
	body, err := w.Wrap(material)
	if err != nil {
		return nil, fmt.Errorf("wrap the material (AES-KWP takes 16 to 8192 bytes, got %d)", len(material))
	}
	return append(head, body...), nil
}
