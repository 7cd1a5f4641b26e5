package gcp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
	"github.com/keyward/keyward/engine"
)

// spec is what a create or upload asks Google for.
type spec struct {
	purpose    kmspb.CryptoKey_CryptoKeyPurpose
	algorithm  kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm
	protection kmspb.ProtectionLevel
}

// createSpec maps a key type, size and curve (and the gcp:purpose,
// gcp:algorithm and gcp:protection-level tags) onto a Cloud KMS purpose,
// algorithm and protection level.
func createSpec(op, typ string, size int, curve string, tags map[string]string) (spec, error) {
	bad := func(format string, args ...any) (spec, error) {
		return spec{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: fmt.Sprintf(format, args...)}
	}
	s := spec{protection: kmspb.ProtectionLevel_SOFTWARE}
	if pl := tags[TagProtection]; pl != "" {
		v, ok := kmspb.ProtectionLevel_value[strings.ToUpper(pl)]
		if !ok || (v != int32(kmspb.ProtectionLevel_SOFTWARE) && v != int32(kmspb.ProtectionLevel_HSM)) {
			return bad("%s %q: keyward creates SOFTWARE or HSM keys (EXTERNAL keys need an external key manager's key URI)", TagProtection, pl)
		}
		s.protection = kmspb.ProtectionLevel(v)
	}
	if a := tags[TagAlgorithm]; a != "" {
		v, ok := kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm_value[strings.ToUpper(a)]
		if !ok || v == 0 {
			return bad("%s %q is not a Cloud KMS algorithm (e.g. GOOGLE_SYMMETRIC_ENCRYPTION, RSA_SIGN_PSS_3072_SHA256, EC_SIGN_P256_SHA256, HMAC_SHA256)", TagAlgorithm, a)
		}
		s.algorithm = kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm(v)
		s.purpose = purposeOf(s.algorithm)
		if s.purpose == kmspb.CryptoKey_CRYPTO_KEY_PURPOSE_UNSPECIFIED {
			return bad("%s %s: keyward does not create keys of that kind", TagAlgorithm, a)
		}
		return s, nil
	}
	purpose := strings.ToUpper(tags[TagPurpose])
	switch strings.ToUpper(typ) {
	case "OCT", "AES", "SYMMETRIC", "":
		if size != 0 && size != 256 {
			return bad("a Google symmetric key is 256 bits (got %d)", size)
		}
		if purpose != "" && purpose != "ENCRYPT_DECRYPT" {
			return bad("a symmetric key's %s is ENCRYPT_DECRYPT (got %q)", TagPurpose, purpose)
		}
		s.purpose, s.algorithm = kmspb.CryptoKey_ENCRYPT_DECRYPT, kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION
	case "HMAC":
		m := map[int]kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm{224: kmspb.CryptoKeyVersion_HMAC_SHA224, 256: kmspb.CryptoKeyVersion_HMAC_SHA256,
			384: kmspb.CryptoKeyVersion_HMAC_SHA384, 512: kmspb.CryptoKeyVersion_HMAC_SHA512}
		a, ok := m[size]
		if !ok {
			return bad("an HMAC key is 224, 256, 384 or 512 bits (got %d)", size)
		}
		s.purpose, s.algorithm = kmspb.CryptoKey_MAC, a
	case "RSA":
		if size != 2048 && size != 3072 && size != 4096 {
			return bad("an RSA key is 2048, 3072 or 4096 bits (got %d)", size)
		}
		switch purpose {
		case "", "ASYMMETRIC_SIGN":
			s.purpose = kmspb.CryptoKey_ASYMMETRIC_SIGN
			s.algorithm = kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm(kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm_value[fmt.Sprintf("RSA_SIGN_PSS_%d_SHA256", size)])
		case "ASYMMETRIC_DECRYPT":
			s.purpose = kmspb.CryptoKey_ASYMMETRIC_DECRYPT
			s.algorithm = kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm(kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm_value[fmt.Sprintf("RSA_DECRYPT_OAEP_%d_SHA256", size)])
		default:
			return bad("an RSA key's %s is ASYMMETRIC_SIGN or ASYMMETRIC_DECRYPT (got %q)", TagPurpose, purpose)
		}
	case "EC":
		switch strings.ToUpper(curve) {
		case "P-256":
			s.algorithm = kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256
		case "P-384":
			s.algorithm = kmspb.CryptoKeyVersion_EC_SIGN_P384_SHA384
		default:
			return bad("curve %q: Google signs with P-256 or P-384 (secp256k1 and Ed25519 by %s)", curve, TagAlgorithm)
		}
		s.purpose = kmspb.CryptoKey_ASYMMETRIC_SIGN
	default:
		return bad("key type %q is not oct (symmetric), HMAC, RSA or EC", typ)
	}
	return s, nil
}

// purposeOf is the purpose an algorithm belongs to.
func purposeOf(a kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) kmspb.CryptoKey_CryptoKeyPurpose {
	n := a.String()
	switch {
	case a == kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION:
		return kmspb.CryptoKey_ENCRYPT_DECRYPT
	case strings.HasPrefix(n, "RSA_SIGN_"), strings.HasPrefix(n, "EC_SIGN_"):
		return kmspb.CryptoKey_ASYMMETRIC_SIGN
	case strings.HasPrefix(n, "RSA_DECRYPT_"):
		return kmspb.CryptoKey_ASYMMETRIC_DECRYPT
	case strings.HasPrefix(n, "HMAC_"):
		return kmspb.CryptoKey_MAC
	}
	return kmspb.CryptoKey_CRYPTO_KEY_PURPOSE_UNSPECIFIED
}

var (
	_ cloud.SpecChecker  = (*Project)(nil)
	_ cloud.SpecLister   = (*Project)(nil)
	_ cloud.OptionLister = (*Project)(nil)
)

// CreateSpecs: what createSpec makes without an algorithm tag — a
// symmetric key, HMAC, RSA (signing unless the purpose says decrypt) and
// EC signing keys on Google's two NIST curves.
func (p *Project) CreateSpecs() []string {
	return []string{"oct", "RSA 2048", "RSA 3072", "RSA 4096", "EC P-256", "EC P-384", "HMAC 224", "HMAC 256", "HMAC 384", "HMAC 512"}
}

// CreateOptions: the purpose of an RSA key, any other Cloud KMS algorithm,
// and the protection level keyward creates (createSpec judges them).
func (p *Project) CreateOptions() []cloud.CreateOption {
	return []cloud.CreateOption{
		{Tag: TagPurpose, Name: "Purpose", Hint: "RSA: ASYMMETRIC_SIGN (empty) or ASYMMETRIC_DECRYPT",
			Values: []string{"ASYMMETRIC_SIGN", "ASYMMETRIC_DECRYPT", "ENCRYPT_DECRYPT", "MAC"}},
		{Tag: TagAlgorithm, Name: "Algorithm", Hint: "empty: the key spec's; or any Cloud KMS algorithm"},
		{Tag: TagProtection, Name: "Protection level", Hint: "SOFTWARE (empty) or HSM", Values: []string{"SOFTWARE", "HSM"}},
	}
}

var _ cloud.NameChecker = (*Project)(nil)

// CheckName judges a new key's name as Google does: location/ring/key (the
// inventory's name for it), a resource name of this project, or a key ID
// (1 to 63 letters, digits, underscores or hyphens) whose ring CheckSpec
// and the create resolve from the tag gcp:key-ring or create_in.
func (p *Project) CheckName(name string) error {
	if !strings.Contains(name, "/") && gcpname.ValidID(name) {
		return nil
	}
	_, err := p.refOf("create "+name, name, "")
	return err
}

// CheckSpec judges a create request before any request is sent.
func (p *Project) CheckSpec(r cloud.CreateRequest) error {
	op := "create " + r.Name
	if _, err := p.refOf(op, r.Name, r.Tags[TagKeyRing]); err != nil {
		return err
	}
	if r.NotBefore != nil || r.Expires != nil {
		return &cloud.Error{Kind: cloud.ErrUnsupported, Op: op, Reason: "Cloud KMS versions have no activation or expiry date (schedule rotation instead)"}
	}
	if _, err := tagsToLabels(r.Tags); err != nil {
		return &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: err.Error()}
	}
	_, err := createSpec(op, r.Type, r.Size, r.Curve, r.Tags)
	return err
}

// ensureRing creates the key ring if it does not exist. Key rings are
// never deleted: Google keeps them (and their names) forever.
func (p *Project) ensureRing(ctx context.Context, op string, r ref) error {
	p.view.count("GetKeyRing")
	_, err := p.client.GetKeyRing(ctx, &kmspb.GetKeyRingRequest{Name: p.ringName(r)})
	if err == nil {
		return nil
	}
	if ce := classify(op, err); !errors.Is(ce, cloud.ErrNotFound) {
		return ce
	}
	p.view.count("CreateKeyRing")
	_, err = p.client.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/" + p.cfg.Project + "/locations/" + r.loc, KeyRingId: r.ring, KeyRing: &kmspb.KeyRing{}})
	if err != nil {
		if ce := classify(op+": create key ring "+r.loc+"/"+r.ring, err); !errors.Is(ce, cloud.ErrConflict) {
			return ce
		}
	}
	return nil
}

// Create makes a crypto key (and its key ring when missing) with one
// generated version, primary for a symmetric key; disabled when asked.
func (p *Project) Create(ctx context.Context, r cloud.CreateRequest) (cloud.KeyVersion, error) {
	op := "create " + r.Name
	if err := p.CheckSpec(r); err != nil {
		return cloud.KeyVersion{}, err
	}
	rf, _ := p.refOf(op, r.Name, r.Tags[TagKeyRing])
	sp, _ := createSpec(op, r.Type, r.Size, r.Curve, r.Tags)
	labels, _ := tagsToLabels(r.Tags)
	if err := p.ensureRing(ctx, op, rf); err != nil {
		return cloud.KeyVersion{}, err
	}
	k, recovered, err := p.createKey(ctx, op, rf, &kmspb.CreateCryptoKeyRequest{Parent: p.ringName(rf), CryptoKeyId: rf.key,
		CryptoKey: &kmspb.CryptoKey{Purpose: sp.purpose, Labels: labels,
			VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: sp.algorithm, ProtectionLevel: sp.protection}}})
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	if r.Disabled {
		if _, err := p.setState(ctx, k.GetName()+"/cryptoKeyVersions/1", false); err != nil {
			return cloud.KeyVersion{}, classify(fmt.Sprintf("disable version 1 of the new key %s (the key exists, enabled)", rf), err)
		}
	}
	p.view.invalidate(rf)
	kv, err := p.Get(ctx, rf.String(), "")
	kv.Recovered = recovered
	return kv, err
}

func (p *Project) setState(ctx context.Context, version string, enabled bool) (*kmspb.CryptoKeyVersion, error) {
	st := kmspb.CryptoKeyVersion_DISABLED
	if enabled {
		st = kmspb.CryptoKeyVersion_ENABLED
	}
	p.view.count("UpdateCryptoKeyVersion")
	return p.client.UpdateCryptoKeyVersion(ctx, &kmspb.UpdateCryptoKeyVersionRequest{
		CryptoKeyVersion: &kmspb.CryptoKeyVersion{Name: version, State: st}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}}})
}

// key reads a key fresh for an operation.
func (p *Project) key(ctx context.Context, op, name string) (ref, *described, error) {
	return p.lookup(ctx, op, name, true)
}

// lookup is the key name as the view describes it (described again when
// unknown, changed through keyward, or fresh is asked for); op names the
// operation in errors.
func (p *Project) lookup(ctx context.Context, op, name string, fresh bool) (ref, *described, error) {
	r, err := p.refOf(op, name, "")
	if err != nil {
		return r, nil, err
	}
	if fresh {
		p.view.invalidate(r)
	}
	d, err := p.view.cached(ctx, r)
	if err != nil {
		return r, nil, err
	}
	return r, d, nil
}

// Rotate creates a new version and, for a symmetric key, makes it the
// primary (asymmetric and MAC keys have no primary: callers name the
// version they use), crash-safely (rotatePrimary).
func (p *Project) Rotate(ctx context.Context, name string) (cloud.KeyVersion, error) {
	op := "rotate " + name
	r, d, err := p.key(ctx, op, name)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	k := d.key
	switch {
	case k.GetImportOnly():
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrUnsupported, Op: op, Reason: "the key is import-only: Google cannot generate its versions; upload new material to it instead (keyward key upload)"}
	case k.GetVersionTemplate().GetProtectionLevel() == kmspb.ProtectionLevel_EXTERNAL || k.GetVersionTemplate().GetProtectionLevel() == kmspb.ProtectionLevel_EXTERNAL_VPC:
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrUnsupported, Op: op, Reason: "an EXTERNAL key's versions are made in the external key manager, with its key URI"}
	}
	if k.GetPurpose() != kmspb.CryptoKey_ENCRYPT_DECRYPT {
		v, err := p.createVersion(ctx, r)
		if err != nil {
			return cloud.KeyVersion{}, classify(op, err)
		}
		p.view.invalidate(r)
		return p.Get(ctx, r.String(), versionID(v.GetName()))
	}
	return p.rotatePrimary(ctx, op, r, d)
}

func (p *Project) createVersion(ctx context.Context, r ref) (*kmspb.CryptoKeyVersion, error) {
	p.view.count("CreateCryptoKeyVersion")
	return p.client.CreateCryptoKeyVersion(ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: p.keyName(r), CryptoKeyVersion: &kmspb.CryptoKeyVersion{}})
}

// labelRotating is the label a rotation of a symmetric key sets on the
// key before its two calls (create a version, make it the primary) and
// removes after them. Its value, "<primary>-<newest>", is the primary
// and the newest version ID before the rotation ("none" without a
// primary). A rotation that finds it set resumes the one a crash, a kill
// or a lost connection cut short instead of making another version.
const labelRotating = "keyward-rotating"

// rotatePrimary rotates a symmetric key crash-safely. The intent is
// written at Google, on the key, so it outlives the daemon: a retry (by
// hand, by a schedule, after a restart) that finds it
//   - adopts the newest ENABLED version made after the intent (ID above
//     its newest) that is not primary, instead of creating another;
//   - or, when the primary is no longer the one the intent names, takes
//     the rotation as done and only removes the label.
//
// A version made after the intent that an administrator disabled is not
// adopted: the retry makes a fresh one.
func (p *Project) rotatePrimary(ctx context.Context, op string, r ref, d *described) (cloud.KeyVersion, error) {
	intent, resumed := d.key.GetLabels()[labelRotating]
	before, newest, ok := parseIntent(intent)
	if !resumed || !ok {
		before, newest = cmp.Or(d.primaryID(), "none"), newestID(d.versions)
		intent = before + "-" + strconv.Itoa(newest)
		if err := p.setIntent(ctx, r, d.key.GetLabels(), intent); err != nil {
			p.view.invalidate(r)
			return cloud.KeyVersion{}, classify(op+": record the rotation's intent (label "+labelRotating+"; nothing was rotated)", err)
		}
		resumed = false
	}
	id := ""
	if resumed && cmp.Or(d.primaryID(), "none") != before {
		id = d.primaryID() // the interrupted rotation made its version primary
	} else {
		if resumed {
			id = adoptable(d, newest)
		}
		if id == "" {
			v, err := p.createVersion(ctx, r)
			if err != nil {
				p.view.invalidate(r)
				return cloud.KeyVersion{}, classify(op, err)
			}
			id = versionID(v.GetName())
		}
		p.view.count("UpdateCryptoKeyPrimaryVersion")
		if _, err := p.client.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: p.keyName(r), CryptoKeyVersionId: id}); err != nil {
			p.view.invalidate(r)
			return cloud.KeyVersion{}, classify(fmt.Sprintf("%s: make version %s primary (it exists, not primary; rotate again to make it the primary: keyward adopts it rather than make another)", op, id), err)
		}
	}
	p.view.invalidate(r)
	nd, err := p.view.cached(ctx, r)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	if err := p.setIntent(ctx, r, nd.key.GetLabels(), ""); err != nil {
		p.view.invalidate(r)
		return cloud.KeyVersion{}, classify(fmt.Sprintf("%s: version %s is the primary, but removing the label %s failed (rotate again to remove it; no other version is made)", op, id, labelRotating), err)
	}
	p.view.invalidate(r)
	return p.Get(ctx, r.String(), id)
}

// setIntent sets (or, with intent "", removes) the rotation label and
// leaves the key's other labels as they are.
func (p *Project) setIntent(ctx context.Context, r ref, labels map[string]string, intent string) error {
	l := maps.Clone(labels)
	if l == nil {
		l = map[string]string{}
	}
	if intent == "" {
		if _, ok := l[labelRotating]; !ok {
			return nil
		}
		delete(l, labelRotating)
	} else {
		l[labelRotating] = intent
	}
	p.view.count("UpdateCryptoKey")
	_, err := p.client.UpdateCryptoKey(ctx, &kmspb.UpdateCryptoKeyRequest{CryptoKey: &kmspb.CryptoKey{Name: p.keyName(r), Labels: l},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}})
	return err
}

// parseIntent reads a rotation label's "<primary>-<newest>".
func parseIntent(s string) (before string, newest int, ok bool) {
	before, n, found := strings.Cut(s, "-")
	newest, err := strconv.Atoi(n)
	if !found || err != nil || newest < 0 || before == "" {
		return "", 0, false
	}
	return before, newest, true
}

// newestID is the highest version ID of a key (0 without versions).
func newestID(vers []*kmspb.CryptoKeyVersion) int {
	n := 0
	for _, x := range vers {
		if id, err := strconv.Atoi(versionID(x.GetName())); err == nil && id > n {
			n = id
		}
	}
	return n
}

// adoptable is the newest version Google generated after a rotation's
// intent (ID above newest) that is ENABLED and not the primary: the one
// an interrupted rotation made ("" when there is none).
func adoptable(d *described, newest int) string {
	best, bestID := 0, ""
	for _, x := range d.versions {
		id, err := strconv.Atoi(versionID(x.GetName()))
		if err != nil || id <= newest || id <= best || x.GetState() != kmspb.CryptoKeyVersion_ENABLED ||
			x.GetImportJob() != "" || versionID(x.GetName()) == d.primaryID() {
			continue
		}
		best, bestID = id, versionID(x.GetName())
	}
	return bestID
}

// MakePrimary makes version the key's primary (UpdateCryptoKeyPrimaryVersion;
// symmetric keys only), leaving its labels alone.
func (p *Project) MakePrimary(ctx context.Context, name, version string) (cloud.KeyVersion, error) {
	return p.Update(ctx, name, version, cloud.Update{Tags: map[string]string{TagPrimary: "true"}})
}

// PrimaryTag is the tag of the primary version (TagPrimary).
func (p *Project) PrimaryTag() string { return TagPrimary }

var _ cloud.PrimaryMaker = (*Project)(nil)

// Update enables or disables a version, makes it the primary
// (gcp:primary=true) and replaces the key's labels (every tag but the
// gcp: attributes, which are read-only).
func (p *Project) Update(ctx context.Context, name, version string, u cloud.Update) (cloud.KeyVersion, error) {
	op := "update " + name
	if u.NotBefore != nil || u.Expires != nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrUnsupported, Op: op, Reason: "Cloud KMS versions have no activation or expiry date to set"}
	}
	r, d, err := p.key(ctx, op, name)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	cur, err := p.Get(ctx, r.String(), version)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	vname := p.keyName(r) + "/cryptoKeyVersions/" + cur.Version
	makePrimary := false
	if u.Tags != nil {
		for k, want := range u.Tags {
			if k == TagPrimary {
				makePrimary = want == "true" && cur.Tags[TagPrimary] != "true"
				continue
			}
			if strings.HasPrefix(k, "gcp:") && cur.Tags[k] != want {
				return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: fmt.Sprintf("%s is read-only (%s=true makes a version the primary; labels are the other tags)", k, TagPrimary)}
			}
		}
		labels, err := tagsToLabels(u.Tags)
		if err != nil {
			return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: err.Error()}
		}
		// Tags that are all gcp: attributes (--tag gcp:primary=true)
		// leave the labels alone; any other set replaces them.
		onlyAttrs := len(u.Tags) > 0 && len(labels) == 0
		if v, ok := d.key.GetLabels()[labelRotating]; ok && !onlyAttrs {
			labels[labelRotating] = v // an interrupted rotation's intent outlives a label edit
		}
		if !onlyAttrs && !sameLabels(labels, d.key.GetLabels()) {
			p.view.count("UpdateCryptoKey")
			if _, err := p.client.UpdateCryptoKey(ctx, &kmspb.UpdateCryptoKeyRequest{CryptoKey: &kmspb.CryptoKey{Name: p.keyName(r), Labels: labels},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}}); err != nil {
				return cloud.KeyVersion{}, classify(op+" labels", err)
			}
		}
	}
	if u.Enabled != nil {
		if _, err := p.setState(ctx, vname, *u.Enabled); err != nil {
			p.view.invalidate(r)
			return cloud.KeyVersion{}, classify(op+" version "+cur.Version, err)
		}
	}
	if makePrimary {
		if d.key.GetPurpose() != kmspb.CryptoKey_ENCRYPT_DECRYPT {
			return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrUnsupported, Op: op, Reason: fmt.Sprintf("only ENCRYPT_DECRYPT keys have a primary version (this key is %s)", d.key.GetPurpose())}
		}
		p.view.count("UpdateCryptoKeyPrimaryVersion")
		if _, err := p.client.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: p.keyName(r), CryptoKeyVersionId: cur.Version}); err != nil {
			p.view.invalidate(r)
			return cloud.KeyVersion{}, classify(op+": make version "+cur.Version+" primary", err)
		}
	}
	p.view.invalidate(r)
	return p.Get(ctx, r.String(), cur.Version)
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Delete schedules the destruction of every version that is not
// destroyed or already scheduled: Google never deletes a key, so this is
// how a key is retired. Each is destroyed when the key's
// destroy-scheduled duration ends; until then recover restores them.
func (p *Project) Delete(ctx context.Context, name string) (cloud.KeyVersion, error) {
	op := "schedule the destruction of " + name
	r, d, err := p.key(ctx, op, name)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	n := 0
	var found []string
	for _, x := range d.versions {
		switch x.GetState() {
		case kmspb.CryptoKeyVersion_ENABLED, kmspb.CryptoKeyVersion_DISABLED, kmspb.CryptoKeyVersion_IMPORT_FAILED:
		default:
			continue
		}
		if err := p.destroy(ctx, x.GetName(), &found); err != nil {
			p.view.invalidate(r)
			return cloud.KeyVersion{}, classify(fmt.Sprintf("%s: version %s (%d versions scheduled before it; delete again to schedule the rest)", op, versionID(x.GetName()), n), err)
		}
		n++
	}
	if n == 0 {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrConflict, Op: op, Reason: "no version is left to destroy (all destroyed or already scheduled)"}
	}
	p.view.invalidate(r)
	d, err = p.view.cached(ctx, r)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	kv, ok := d.keyVersion(r)
	if !ok || kv.Deleted == nil {
		return kv, &cloud.Error{Kind: cloud.ErrBadAnswer, Op: op, Reason: "Google did not show the versions as scheduled for destruction"}
	}
	kv.Recovered = lostNote("DestroyCryptoKeyVersion", found, "scheduled for destruction")
	return kv, nil
}

// lostNote says which versions' answers to rpc were lost and found done
// (settle's found): "" when none.
func lostNote(rpc string, found []string, done string) string {
	if len(found) == 0 {
		return ""
	}
	return fmt.Sprintf("the answer to %s was lost for version %s; keyward found it %s, and sent no second", rpc, strings.Join(found, ", "), done)
}

// Recover restores every version scheduled for destruction. Google
// leaves them DISABLED: keyward enables them again, and a symmetric key
// whose primary was scheduled gets its newest restored version as primary.
func (p *Project) Recover(ctx context.Context, name string) (cloud.KeyVersion, error) {
	op := "restore " + name
	r, d, err := p.key(ctx, op, name)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	var restored, found []string
	n := 0
	for _, x := range d.versions {
		if x.GetState() != kmspb.CryptoKeyVersion_DESTROY_SCHEDULED {
			continue
		}
		n++
		ok, err := p.restore(ctx, op, r, x, &found)
		if err != nil {
			return cloud.KeyVersion{}, err
		}
		if ok {
			restored = append(restored, versionID(x.GetName()))
		}
	}
	if n == 0 {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrConflict, Op: op, Reason: "no version is scheduled for destruction (a destroyed version cannot come back)"}
	}
	if err := p.primaryIfNone(ctx, op, r, d, restored); err != nil {
		return cloud.KeyVersion{}, err
	}
	p.view.invalidate(r)
	kv, err := p.Get(ctx, r.String(), "")
	kv.Recovered = lostNote("RestoreCryptoKeyVersion", found, "restored")
	return kv, err
}

// restore cancels one version's scheduled destruction and enables it
// again (Google leaves it DISABLED); enabled is false for a version whose
// import had failed, which stays as it is.
func (p *Project) restore(ctx context.Context, op string, r ref, x *kmspb.CryptoKeyVersion, found *[]string) (enabled bool, err error) {
	err = p.settle(ctx, "RestoreCryptoKeyVersion", x.GetName(), found, func(opt gax.CallOption) error {
		_, err := p.client.RestoreCryptoKeyVersion(ctx, &kmspb.RestoreCryptoKeyVersionRequest{Name: x.GetName()}, opt)
		return err
	}, func(st kmspb.CryptoKeyVersion_CryptoKeyVersionState) bool {
		return st != kmspb.CryptoKeyVersion_DESTROY_SCHEDULED && st != kmspb.CryptoKeyVersion_DESTROYED
	})
	if err != nil {
		p.view.invalidate(r)
		return false, classify(op+": version "+versionID(x.GetName()), err)
	}
	if x.GetImportFailureReason() != "" {
		return false, nil
	}
	if _, err := p.setState(ctx, x.GetName(), true); err != nil {
		p.view.invalidate(r)
		return false, classify(op+": enable the restored version "+versionID(x.GetName())+" (it is restored, disabled)", err)
	}
	return true, nil
}

// primaryIfNone makes the newest of the restored versions the primary of
// a symmetric key that has none.
func (p *Project) primaryIfNone(ctx context.Context, op string, r ref, d *described, restored []string) error {
	if d.key.GetPurpose() != kmspb.CryptoKey_ENCRYPT_DECRYPT || d.primaryID() != "" || len(restored) == 0 {
		return nil
	}
	id := restored[len(restored)-1]
	p.view.count("UpdateCryptoKeyPrimaryVersion")
	if _, err := p.client.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: p.keyName(r), CryptoKeyVersionId: id}); err != nil {
		p.view.invalidate(r)
		return classify(op+": make version "+id+" primary", err)
	}
	return nil
}

var _ cloud.VersionDestroyer = (*Project)(nil)

// destroy schedules the destruction of the version called name, once.
func (p *Project) destroy(ctx context.Context, name string, found *[]string) error {
	return p.settle(ctx, "DestroyCryptoKeyVersion", name, found, func(opt gax.CallOption) error {
		_, err := p.client.DestroyCryptoKeyVersion(ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: name}, opt)
		return err
	}, func(st kmspb.CryptoKeyVersion_CryptoKeyVersionState) bool {
		return st == kmspb.CryptoKeyVersion_DESTROY_SCHEDULED || st == kmspb.CryptoKeyVersion_DESTROYED
	})
}

// settleAttempts is how many times settle sends its call.
const settleAttempts = 3

// settle sends rpc, a call that moves the version called name out of the
// state it was read in (destroy, restore), without the client's own
// retries: Google refuses a second call for the state the first left, so
// a retry after a lost answer reported a failure for work done. When the
// answer is lost (Unavailable, DeadlineExceeded: what the client would
// retry), the version is read: in a state done accepts, the call did its
// work; otherwise it is sent again. send passes opt to its call.
//
// found, when not nil, gets the version's ID when its answer was lost and
// the call had done its work (lostNote says so to the administrator).
func (p *Project) settle(ctx context.Context, rpc, name string, found *[]string, send func(opt gax.CallOption) error, done func(kmspb.CryptoKeyVersion_CryptoKeyVersionState) bool) error {
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		p.view.count(rpc)
		err := send(gax.WithRetry(nil))
		if c := status.Code(err); err == nil || c != codes.Unavailable && c != codes.DeadlineExceeded || attempt == settleAttempts || ctx.Err() != nil {
			return err
		}
		p.view.count("GetCryptoKeyVersion")
		v, gerr := p.client.GetCryptoKeyVersion(ctx, &kmspb.GetCryptoKeyVersionRequest{Name: name})
		if gerr != nil {
			return err
		}
		if done(v.GetState()) {
			if found != nil {
				*found = append(*found, versionID(name))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// keyAndVersion reads a key fresh for an operation on its version id.
func (p *Project) keyAndVersion(ctx context.Context, op, name, id string) (ref, *described, *kmspb.CryptoKeyVersion, error) {
	r, d, err := p.key(ctx, op, name)
	if err != nil {
		return r, nil, nil, err
	}
	for _, x := range d.versions {
		if versionID(x.GetName()) == id {
			return r, d, x, nil
		}
	}
	return r, nil, nil, &cloud.Error{Kind: cloud.ErrNotFound, Op: op, Reason: fmt.Sprintf("the key has no version %q (keyward keys list --source SOURCE lists them)", id)}
}

// DeleteVersion schedules one version's destruction, the key's
// destroy-scheduled duration out. The primary version of a symmetric key
// is refused by keyward (Google would schedule it, and every Encrypt with
// the key would fail until another version is made primary): make
// another version primary first, or delete the whole key.
func (p *Project) DeleteVersion(ctx context.Context, name, version string) (cloud.KeyVersion, error) {
	op := "schedule the destruction of version " + version + " of " + name
	r, d, x, err := p.keyAndVersion(ctx, op, name, version)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	switch x.GetState() {
	case kmspb.CryptoKeyVersion_ENABLED, kmspb.CryptoKeyVersion_DISABLED, kmspb.CryptoKeyVersion_IMPORT_FAILED:
	default:
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrConflict, Op: op,
			Reason: fmt.Sprintf("the version is %s: only an enabled, disabled or failed-import version can be scheduled for destruction", x.GetState())}
	}
	if d.key.GetPurpose() == kmspb.CryptoKey_ENCRYPT_DECRYPT && d.primaryID() == version {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrConflict, Op: op,
			Reason: "it is the key's primary version, which Encrypt uses: make another version primary first (keyward key update SOURCE NAME --version N --tag gcp:primary=true), or delete the whole key"}
	}
	var found []string
	if err := p.destroy(ctx, x.GetName(), &found); err != nil {
		p.view.invalidate(r)
		return cloud.KeyVersion{}, classify(op, err)
	}
	p.view.invalidate(r)
	kv, err := p.Get(ctx, r.String(), version)
	kv.Recovered = lostNote("DestroyCryptoKeyVersion", found, "scheduled for destruction")
	return kv, err
}

// RecoverVersion restores one version scheduled for destruction and
// enables it again; a symmetric key without a primary gets it as primary.
func (p *Project) RecoverVersion(ctx context.Context, name, version string) (cloud.KeyVersion, error) {
	op := "restore version " + version + " of " + name
	r, d, x, err := p.keyAndVersion(ctx, op, name, version)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	if x.GetState() != kmspb.CryptoKeyVersion_DESTROY_SCHEDULED {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrConflict, Op: op,
			Reason: fmt.Sprintf("the version is %s: only a version scheduled for destruction can be restored (a destroyed one cannot come back)", x.GetState())}
	}
	var found []string
	ok, err := p.restore(ctx, op, r, x, &found)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	if ok {
		if err := p.primaryIfNone(ctx, op, r, d, []string{version}); err != nil {
			return cloud.KeyVersion{}, err
		}
	}
	p.view.invalidate(r)
	kv, err := p.Get(ctx, r.String(), version)
	kv.Recovered = lostNote("RestoreCryptoKeyVersion", found, "restored")
	return kv, err
}

// RotationPolicy is the key's automatic rotation period (RotateAfter).
func (p *Project) RotationPolicy(ctx context.Context, name string) (cloud.RotationPolicy, error) {
	_, d, err := p.lookup(ctx, "rotation of "+name, name, false)
	if err != nil {
		return cloud.RotationPolicy{}, err
	}
	var pol cloud.RotationPolicy
	if rp := d.key.GetRotationPeriod(); rp != nil {
		pol.RotateAfter = engine.Duration(rp.AsDuration())
	}
	return pol, nil
}

// SetRotationPolicy sets a symmetric key's rotation period (at least a
// day; the next rotation is one period from now), or turns it off.
func (p *Project) SetRotationPolicy(ctx context.Context, name string, pol cloud.RotationPolicy) (cloud.RotationPolicy, error) {
	op := "set rotation of " + name
	if err := pol.PeriodOnly(op, "Cloud KMS rotation has only a period (rotate-after); its versions have no expiry to rotate before or notify about"); err != nil {
		return cloud.RotationPolicy{}, err
	}
	r, d, err := p.key(ctx, op, name)
	if err != nil {
		return cloud.RotationPolicy{}, err
	}
	if d.key.GetPurpose() != kmspb.CryptoKey_ENCRYPT_DECRYPT {
		return cloud.RotationPolicy{}, &cloud.Error{Kind: cloud.ErrUnsupported, Op: op, Reason: fmt.Sprintf("Google rotates automatically only ENCRYPT_DECRYPT keys (this key is %s)", d.key.GetPurpose())}
	}
	k := &kmspb.CryptoKey{Name: p.keyName(r)}
	mask := []string{"rotation_period", "next_rotation_time"}
	if pol.RotateAfter > 0 {
		per := time.Duration(pol.RotateAfter)
		if per < 24*time.Hour {
			return cloud.RotationPolicy{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: fmt.Sprintf("Google rotates at most daily (got %s)", pol.RotateAfter)}
		}
		k.RotationSchedule = &kmspb.CryptoKey_RotationPeriod{RotationPeriod: durationpb.New(per)}
		k.NextRotationTime = timestamppb.New(time.Now().Add(per).UTC().Truncate(time.Second))
	}
	p.view.count("UpdateCryptoKey")
	if _, err := p.client.UpdateCryptoKey(ctx, &kmspb.UpdateCryptoKeyRequest{CryptoKey: k, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}}); err != nil {
		return cloud.RotationPolicy{}, classify(op, err)
	}
	p.view.invalidate(r)
	return p.RotationPolicy(ctx, r.String())
}
