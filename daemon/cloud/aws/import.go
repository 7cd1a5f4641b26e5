package aws

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/tink-crypto/tink-go/v2/kwp/subtle"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// wrappingKeySpec is the RSA key AWS wraps imported material for.
const wrappingKeySpec = types.WrappingKeySpecRsa4096

// material is key material on its way into AWS: raw symmetric bytes, or
// an RSA or EC private key as PKCS#8 DER. Whoever makes one zeroes it.
type material struct {
	symmetric bool
	bytes     []byte
}

func (m *material) zero() { clear(m.bytes) }

// materialOf encodes an import request's material.
func materialOf(r cloud.ImportRequest) (material, error) {
	if r.Private == nil {
		return material{symmetric: true, bytes: append([]byte(nil), r.Symmetric...)}, nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(r.Private)
	if err != nil {
		return material{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: "upload " + r.Name, Reason: "the private key cannot be encoded as PKCS#8: " + err.Error()}
	}
	return material{bytes: der}, nil
}

// importSpec is the key spec and usage of an import request: symmetric
// 256-bit (128-bit in aws-cn), or the RSA or EC key's own; an RSA key
// encrypts unless its aws:usage tag says SIGN_VERIFY.
func (a *Account) importSpec(r cloud.ImportRequest) (types.KeySpec, types.KeyUsageType, error) {
	bad := func(kind error, format string, args ...any) (types.KeySpec, types.KeyUsageType, error) {
		return "", "", &cloud.Error{Kind: kind, Op: "upload " + r.Name, Reason: fmt.Sprintf(format, args...)}
	}
	if a.partition == PartitionChina && (r.Private != nil || len(r.Symmetric) != 16) {
		return bad(cloud.ErrInvalid, "the aws-cn partition imports only 128-bit symmetric key material")
	}
	usage := types.KeyUsageType(r.Tags[TagUsage])
	switch k := r.Private.(type) {
	case nil:
		if a.partition != PartitionChina && len(r.Symmetric) != 32 {
			return bad(cloud.ErrInvalid, "AWS KMS imports 256-bit symmetric material (got %d bits)", 8*len(r.Symmetric))
		}
		if usage != "" && usage != types.KeyUsageTypeEncryptDecrypt {
			return bad(cloud.ErrInvalid, "imported symmetric material encrypts and decrypts (%s %q)", TagUsage, usage)
		}
		return types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt, nil
	case *rsa.PrivateKey:
		bits := k.N.BitLen()
		if bits != 2048 && bits != 3072 && bits != 4096 {
			return bad(cloud.ErrInvalid, "AWS KMS imports RSA keys of 2048, 3072 or 4096 bits (got %d)", bits)
		}
		if usage == "" {
			usage = types.KeyUsageTypeEncryptDecrypt
		}
		if usage != types.KeyUsageTypeEncryptDecrypt && usage != types.KeyUsageTypeSignVerify {
			return bad(cloud.ErrInvalid, "%s of an RSA key is ENCRYPT_DECRYPT or SIGN_VERIFY (got %q)", TagUsage, usage)
		}
		return types.KeySpec(fmt.Sprintf("RSA_%d", bits)), usage, nil
	case *ecdsa.PrivateKey:
		spec := map[elliptic.Curve]types.KeySpec{elliptic.P256(): types.KeySpecEccNistP256, elliptic.P384(): types.KeySpecEccNistP384,
			elliptic.P521(): types.KeySpecEccNistP521}[k.Curve]
		if spec == "" {
			return bad(cloud.ErrInvalid, "AWS KMS imports EC keys on P-256, P-384 or P-521 here (got %s)", k.Curve.Params().Name)
		}
		if usage != "" && usage != types.KeyUsageTypeSignVerify {
			return bad(cloud.ErrInvalid, "an EC key signs and verifies (%s %q)", TagUsage, usage)
		}
		return spec, types.KeyUsageTypeSignVerify, nil
	}
	return bad(cloud.ErrUnsupported, "AWS KMS imports symmetric, RSA and EC material, not %T", r.Private)
}

// Import brings key material into a new key of origin EXTERNAL (BYOK):
// CreateKey with the material's spec, the alias r.Name,
// GetParametersForImport with a 4096-bit wrapping key, the material
// wrapped here (RSAES-OAEP-SHA-256 for symmetric material,
// RSA_AES_KEY_WRAP_SHA_256 for an RSA or EC private key), and
// ImportKeyMaterial with r.Expires as the material's expiry. The
// partition's rules are checked before any request.
func (a *Account) Import(ctx context.Context, r cloud.ImportRequest) (cloud.KeyVersion, error) {
	op := "upload " + r.Name
	spec, usage, err := a.importSpec(r)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	if r.NotBefore != nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrUnsupported, Op: op, Reason: "AWS KMS keys have no activation date"}
	}
	if err := checkValidTo(op, r.Expires, time.Now()); err != nil {
		return cloud.KeyVersion{}, err
	}
	m, err := materialOf(r)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	defer m.zero()
	// The alias is asked for first: a key made before an alias that
	// cannot be had would stay behind, pending import and named by none.
	switch kv, err := a.view.describe(ctx, "alias/"+r.Name, nil); {
	case err == nil:
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrConflict, Op: op,
			Reason: fmt.Sprintf("key %s already exists in this account and region (alias/%s names key %s; AWS imports into a key only the material it was made with: keyward key restore, or upload under another name)", r.Name, r.Name, kv.Name)}
	case !errors.Is(err, cloud.ErrNotFound):
		return cloud.KeyVersion{}, err
	}
	id, recovered, err := a.createKey(ctx, op, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage,
		Origin: types.OriginTypeExternal, Tags: userTags(r.Tags), Description: descriptionOf(r.Tags)})
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	pending := func(step string, err error) error {
		return classify(fmt.Sprintf("%s: %s (key %s exists, pending import: retry the upload into it or schedule its deletion)", op, step, id), err)
	}
	aliasRecovered, err := a.aliasNew(ctx, op, id, r.Name)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	importRecovered, err := a.importMaterial(ctx, id, m, r.Expires)
	if err != nil {
		return cloud.KeyVersion{}, pending("import the material", err)
	}
	kv, err := a.view.describe(ctx, id, nil)
	kv.Recovered = cloud.JoinRecovered(recovered, aliasRecovered, importRecovered)
	return kv, err
}

// wrapAESKeyWrap is RSA_AES_KEY_WRAP_SHA_256: an ephemeral AES-256 key
// wraps the material (AES key wrap with padding, RFC 5649, tink-go's
// KWP), and the wrapping public key wraps that key (RSAES-OAEP with
// SHA-256); AWS takes the two concatenated, the RSA part first.
func wrapAESKeyWrap(pub *rsa.PublicKey, plain []byte) ([]byte, error) {
	ephemeral := make([]byte, 32)
	defer clear(ephemeral)
	if _, err := rand.Read(ephemeral); err != nil {
		return nil, err
	}
	kwp, err := subtle.NewKWP(ephemeral)
	if err != nil {
		return nil, err
	}
	wrappedMaterial, err := kwp.Wrap(plain)
	if err != nil {
		return nil, err
	}
	wrappedKey, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, ephemeral, nil)
	if err != nil {
		return nil, err
	}
	return append(wrappedKey, wrappedMaterial...), nil
}

// importMaterial wraps m for key id and imports it (again: AWS accepts
// only the material the key had, when it had one).
//
// Its answer lost, ImportKeyMaterial is sent again only when the key
// shows the material is not in (once); recovered then says so.
func (a *Account) importMaterial(ctx context.Context, id string, m material, expires *time.Time) (recovered string, err error) {
	alg := types.AlgorithmSpecRsaesOaepSha256
	if !m.symmetric {
		alg = types.AlgorithmSpecRsaAesKeyWrapSha256
	}
	a.view.count("GetParametersForImport")
	params, err := a.client.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: sdkaws.String(id),
		WrappingAlgorithm: alg, WrappingKeySpec: wrappingKeySpec})
	if err != nil {
		return "", err
	}
	pubAny, err := x509.ParsePKIXPublicKey(params.PublicKey)
	pub, ok := pubAny.(*rsa.PublicKey)
	if err != nil || !ok {
		return "", &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "get import parameters", Reason: "the wrapping public key is not an RSA public key"}
	}
	if pub.N.BitLen() < 2048 {
		return "", &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "get import parameters", Reason: fmt.Sprintf("the wrapping key has %d bits, under 2048", pub.N.BitLen())}
	}
	var wrapped []byte
	if m.symmetric {
		wrapped, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, m.bytes, nil)
	} else {
		wrapped, err = wrapAESKeyWrap(pub, m.bytes)
	}
	if err != nil {
		return "", &cloud.Error{Kind: cloud.ErrInvalid, Op: "wrap the material", Reason: "the material does not fit the wrapping key"}
	}
	in := &kms.ImportKeyMaterialInput{KeyId: sdkaws.String(id), EncryptedKeyMaterial: wrapped, ImportToken: params.ImportToken,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}
	if expires != nil {
		// Whole seconds: AWS keeps no more, and local-kms reads an
		// integer.
		to := expires.UTC().Truncate(time.Second)
		in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, &to
	}
	err = a.once(ctx, "import the material into "+id, func(opt func(*kms.Options)) error {
		a.view.count("ImportKeyMaterial")
		_, err := a.client.ImportKeyMaterial(ctx, in, opt)
		return err
	}, func() (bool, error) {
		// In when the key is no longer pending import and its material
		// expires as asked (a re-import into a key in use changes only
		// the expiry).
		a.view.invalidate(id)
		kv, err := a.view.describe(ctx, id, nil)
		if err != nil {
			return false, err
		}
		done := kv.Tags[TagState] != string(types.KeyStatePendingImport) && sameExpiry(kv.Expires, in.ValidTo)
		if done {
			recovered = "the answer to ImportKeyMaterial was lost; keyward found the material is in key " + id + ", and sent it no second time"
		}
		return done, nil
	})
	return recovered, err
}

// sameExpiry: both nil, or the same second.
func sameExpiry(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

func descriptionOf(tags map[string]string) *string {
	if d := tags[TagDescription]; d != "" {
		return sdkaws.String(d)
	}
	return nil
}

// keptMaterial is the backup blob of a key keyward uploaded: which key,
// and the material it holds (PKCS#8 DER or raw symmetric bytes). It is
// only ever stored sealed under the KEK (cloud.Manager).
type keptMaterial struct {
	KeyID     string     `json:"key_id"`
	Symmetric bool       `json:"symmetric,omitempty"`
	Material  []byte     `json:"material"`
	Expires   *time.Time `json:"expires,omitempty"`
}

var _ cloud.MaterialKeeper = (*Account)(nil)

// KeepMaterial is the backup blob of a key keyward just imported: AWS
// cannot export keys, so keyward's sealed copy of what it uploaded is the
// key's backup, and Restore re-imports it into the same key.
func (a *Account) KeepMaterial(kv cloud.KeyVersion, r cloud.ImportRequest) ([]byte, error) {
	m, err := materialOf(r)
	if err != nil {
		return nil, err
	}
	defer m.zero()
	return json.Marshal(keptMaterial{KeyID: kv.Name, Symmetric: m.symmetric, Material: m.bytes, Expires: r.Expires})
}

// Backup refuses: AWS KMS never exports key material. (The Manager
// answers for keys keyward uploaded with the copy it kept.)
func (a *Account) Backup(context.Context, string) ([]byte, error) {
	return nil, &cloud.Error{Kind: cloud.ErrUnsupported, Op: "backup", Reason: noExport}
}

// noExport is why an AWS-generated key has no backup.
const noExport = "not supported: AWS cannot export key material (only keys keyward uploaded have a backup: keyward's sealed copy of what it imported)"

// Restore re-imports a kept copy into the key it came from: AWS accepts
// only the material the key was made with, so there is no restoring into
// another key. The key must still exist (not deleted for good); a key
// pending deletion must be recovered first. Re-importing also brings back
// material that expired or was deleted. The material gets the kept
// copy's expiry; once that date has passed the restore is refused,
// before any request, until an expiry is chosen (RestoreExpiring).
func (a *Account) Restore(ctx context.Context, blob []byte) (cloud.KeyVersion, error) {
	return a.restore(ctx, blob, nil)
}

var _ cloud.ExpiringRestorer = (*Account)(nil)

// RestoreExpiring is Restore with the expiry exp (At nil: the material
// never expires) instead of the kept copy's: AWS sets ExpirationModel and
// ValidTo at each import, and the answer's Expires is the ValidTo AWS
// then describes. An expiry AWS would refuse is refused before any
// request.
func (a *Account) RestoreExpiring(ctx context.Context, blob []byte, exp cloud.MaterialExpiry) (cloud.KeyVersion, error) {
	return a.restore(ctx, blob, &exp)
}

func (a *Account) restore(ctx context.Context, blob []byte, given *cloud.MaterialExpiry) (cloud.KeyVersion, error) {
	var k keptMaterial
	if err := json.Unmarshal(blob, &k); err != nil || k.KeyID == "" || len(k.Material) == 0 {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: "restore", Reason: "the backup is not an AWS key's kept material"}
	}
	defer clear(k.Material)
	op := "restore " + k.KeyID
	exp := k.Expires
	if given == nil && exp != nil && !exp.After(time.Now()) {
		// Re-importing it without expiry would bring back for good
		// material an administrator made expire: the choice is theirs.
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op,
			Reason: fmt.Sprintf("the material kept at upload expired %s: give it a new expiry (restore --expires DATE, at most 365 days ahead) or none (restore --no-expiry)", exp.UTC().Format(time.RFC3339))}
	}
	if given != nil {
		exp = given.At
		if err := checkValidTo(op, exp, time.Now()); err != nil {
			return cloud.KeyVersion{}, err
		}
	}
	kv, err := a.customerKey(ctx, "restore", k.KeyID)
	if err != nil {
		if ce, ok := err.(*cloud.Error); ok && ce.Kind == cloud.ErrNotFound {
			ce.Reason = "the key is gone from AWS (deleted for good): AWS imports material only into the key it was made for, so this backup cannot come back"
		}
		return kv, err
	}
	if kv.Tags[TagOrigin] != string(types.OriginTypeExternal) {
		return kv, &cloud.Error{Kind: cloud.ErrConflict, Op: op, Reason: "the key's origin is " + kv.Tags[TagOrigin] + ", not EXTERNAL: it takes no imported material"}
	}
	recovered, err := a.importMaterial(ctx, kv.Name, material{symmetric: k.Symmetric, bytes: k.Material}, exp)
	if err != nil {
		return kv, classify("re-import the material of "+kv.Name, err)
	}
	a.view.invalidate(kv.Name)
	kv, err = a.view.describe(ctx, kv.Name, nil)
	kv.Recovered = recovered
	return kv, err
}

// maxValidTo is how far ahead AWS takes an imported material's expiry
// (ImportKeyMaterial's ValidTo: at most 365 days from the request).
const maxValidTo = 365 * 24 * time.Hour

// checkValidTo refuses, before any request, an expiry AWS would refuse:
// one not in the future, or more than 365 days ahead (nil: none, fine).
func checkValidTo(op string, exp *time.Time, now time.Time) error {
	if exp == nil {
		return nil
	}
	to := exp.UTC().Truncate(time.Second)
	switch {
	case !to.After(now):
		return &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: fmt.Sprintf("the material's expiry %s is not in the future", to.Format(time.RFC3339))}
	case to.Sub(now) > maxValidTo:
		return &cloud.Error{Kind: cloud.ErrInvalid, Op: op,
			Reason: fmt.Sprintf("AWS KMS takes an imported material's expiry at most 365 days ahead (%s is later); give an earlier date, or no expiry, and import again before it comes", to.Format(time.RFC3339))}
	}
	return nil
}

var _ cloud.MaterialDeleter = (*Account)(nil)

// DeleteMaterial deletes a key's imported material
// (DeleteImportedKeyMaterial): the key stays, pending import, unusable
// until the same material is imported again.
func (a *Account) DeleteMaterial(ctx context.Context, name string) (cloud.KeyVersion, error) {
	kv, err := a.customerKey(ctx, "delete the material of", name)
	if err != nil {
		return kv, err
	}
	if kv.Tags[TagOrigin] != string(types.OriginTypeExternal) {
		return kv, &cloud.Error{Kind: cloud.ErrUnsupported, Op: "delete the material of " + name, Reason: noImported(kv.Tags[TagOrigin])}
	}
	a.view.count("DeleteImportedKeyMaterial")
	if _, err := a.client.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: sdkaws.String(kv.Name)}); err != nil {
		return kv, classify("delete the material of "+name, err)
	}
	a.view.invalidate(kv.Name)
	return a.view.describe(ctx, kv.Name, nil)
}

func noImported(origin string) string {
	return "only imported key material (origin EXTERNAL) can be deleted; this key's origin is " + origin
}

// unsupportedTags are the per-key limits of a key's declared
// capabilities, as engine.TagUnsupported tags: what AWS cannot do with
// this key, and why.
func unsupportedTags(origin types.OriginType, tags map[string]string) {
	if origin != types.OriginTypeExternal {
		tags[engine.TagUnsupported+engine.CapBackup] = noExport
		tags[engine.TagUnsupported+engine.CapDeleteMaterial] = noImported(string(origin))
	}
}

// aliasNew names the key id, just made by op, alias/name. An alias taken
// meanwhile by another create leaves the key unused: it is scheduled for
// deletion (7 days, AWS's shortest window). An AlreadyExists that names
// this very key is the answer to a CreateAlias whose first answer was
// lost (the SDK sent it again): done, and recovered says so.
func (a *Account) aliasNew(ctx context.Context, op, id, name string) (recovered string, err error) {
	a.view.count("CreateAlias")
	_, err = a.client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: sdkaws.String("alias/" + name), TargetKeyId: sdkaws.String(id)})
	if err == nil {
		return "", nil
	}
	var taken *types.AlreadyExistsException
	if errors.As(err, &taken) {
		a.view.count("DescribeKey")
		out, derr := a.client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: sdkaws.String("alias/" + name)})
		if derr == nil && out.KeyMetadata != nil && sdkaws.ToString(out.KeyMetadata.KeyId) == id {
			return fmt.Sprintf("an answer to CreateAlias was lost; alias/%s already names the key %s keyward made", name, id), nil
		}
		a.view.count("ScheduleKeyDeletion")
		if _, derr := a.client.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: sdkaws.String(id), PendingWindowInDays: sdkaws.Int32(7)}); derr == nil {
			return "", classify(fmt.Sprintf("%s: alias/%s was taken meanwhile (the key %s made for it is unused and scheduled for deletion)", op, name, id), err)
		}
	}
	return "", classify(fmt.Sprintf("%s: alias/%s (key %s exists without it: name it with keyward key update --tag aws:aliases=%s, or schedule its deletion)", op, name, id, name), err)
}
