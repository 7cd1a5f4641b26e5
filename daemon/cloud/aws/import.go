package aws

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyward/keyward/daemon/cloud"
)

// wrappingKeySpec is the RSA key AWS wraps imported material for.
const wrappingKeySpec = types.WrappingKeySpecRsa4096

// Import brings symmetric key material into a new key of origin EXTERNAL
// (BYOK): CreateKey, the alias r.Name, GetParametersForImport with a
// 4096-bit wrapping key, RSAES-OAEP-SHA-256 wrapping here, and
// ImportKeyMaterial, with r.Expires as the material's expiry. The
// partition's rules are checked before any request.
func (a *Account) Import(ctx context.Context, r cloud.ImportRequest) (cloud.KeyVersion, error) {
	op := "upload " + r.Name
	if err := a.checkImport(r); err != nil {
		return cloud.KeyVersion{}, err
	}
	if r.NotBefore != nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrUnsupported, Op: op, Reason: "AWS KMS keys have no activation date"}
	}
	a.view.count("CreateKey")
	out, err := a.client.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecSymmetricDefault, KeyUsage: types.KeyUsageTypeEncryptDecrypt,
		Origin: types.OriginTypeExternal, Tags: userTags(r.Tags), Description: descriptionOf(r.Tags)})
	if err != nil {
		return cloud.KeyVersion{}, classify(op, err)
	}
	id := sdkaws.ToString(out.KeyMetadata.KeyId)
	pending := func(step string, err error) error {
		return classify(fmt.Sprintf("%s: %s (key %s exists, pending import: retry the upload into it or schedule its deletion)", op, step, id), err)
	}
	a.view.count("CreateAlias")
	if _, err := a.client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: sdkaws.String("alias/" + r.Name), TargetKeyId: sdkaws.String(id)}); err != nil {
		return cloud.KeyVersion{}, pending("alias/"+r.Name, err)
	}
	if err := a.importMaterial(ctx, id, r); err != nil {
		return cloud.KeyVersion{}, pending("import the material", err)
	}
	return a.view.describe(ctx, id, nil)
}

// importMaterial wraps r.Symmetric for key id and imports it.
func (a *Account) importMaterial(ctx context.Context, id string, r cloud.ImportRequest) error {
	a.view.count("GetParametersForImport")
	params, err := a.client.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: sdkaws.String(id),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: wrappingKeySpec})
	if err != nil {
		return err
	}
	pubAny, err := x509.ParsePKIXPublicKey(params.PublicKey)
	pub, ok := pubAny.(*rsa.PublicKey)
	if err != nil || !ok {
		return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "get import parameters", Reason: "the wrapping public key is not an RSA public key"}
	}
	if pub.N.BitLen() < 2048 {
		return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "get import parameters", Reason: fmt.Sprintf("the wrapping key has %d bits, under 2048", pub.N.BitLen())}
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, r.Symmetric, nil)
	if err != nil {
		return &cloud.Error{Kind: cloud.ErrInvalid, Op: "wrap the material", Reason: "the material does not fit the wrapping key"}
	}
	in := &kms.ImportKeyMaterialInput{KeyId: sdkaws.String(id), EncryptedKeyMaterial: wrapped, ImportToken: params.ImportToken,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}
	if r.Expires != nil {
		in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, r.Expires
	}
	a.view.count("ImportKeyMaterial")
	_, err = a.client.ImportKeyMaterial(ctx, in)
	return err
}

// checkImport enforces what a partition accepts before anything is sent:
// symmetric material only (asymmetric import is not built), 256 bits, or
// 128 bits in aws-cn.
func (a *Account) checkImport(r cloud.ImportRequest) error {
	bad := func(reason string) error {
		return &cloud.Error{Kind: cloud.ErrInvalid, Op: "upload " + r.Name, Reason: reason}
	}
	if a.partition == PartitionChina && (r.Private != nil || len(r.Symmetric) != 16) {
		return bad("the aws-cn partition imports only 128-bit symmetric key material")
	}
	if r.Private != nil {
		return &cloud.Error{Kind: cloud.ErrUnsupported, Op: "upload " + r.Name,
			Reason: "keyward imports only symmetric material into AWS KMS so far (take it from a KMIP ring: --from-source, --from-app)"}
	}
	if a.partition != PartitionChina && len(r.Symmetric) != 32 {
		return bad(fmt.Sprintf("AWS KMS imports 256-bit symmetric material (got %d bits)", 8*len(r.Symmetric)))
	}
	return nil
}

func descriptionOf(tags map[string]string) *string {
	if d := tags[TagDescription]; d != "" {
		return sdkaws.String(d)
	}
	return nil
}
