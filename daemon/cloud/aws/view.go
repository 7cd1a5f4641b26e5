package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// Version is the one version keyward shows of an AWS key: KMS keeps the
// rotated key material inside the key, under the same key ID.
const Version = "current"

// Attribute tags: KMS attributes shown in the inventory as tags. AWS
// reserves the aws: prefix, so they cannot collide with a user's tag.
// aws:description and aws:aliases may be changed through update.
const (
	TagSpec        = "aws:key-spec"
	TagUsage       = "aws:usage"
	TagOrigin      = "aws:origin"
	TagState       = "aws:state"
	TagManager     = "aws:key-manager"
	TagDescription = "aws:description"
	TagAliases     = engine.TagAliases // the first names the key in front ends
	TagRotation    = "aws:rotation"
	TagMultiRegion = "aws:multi-region"
	// TagMaterial names the key material in use: AWS's identifier of it
	// (CurrentKeyMaterialId), never the material. It changes when AWS
	// rotates the key, on demand or automatically.
	TagMaterial = "aws:key-material"
)

// view is the account's key listing with the cost of a sync growing with
// what changed: KMS gives no modification time, so a key is described
// again (DescribeKey, ListResourceTags, GetKeyRotationStatus) only when
// it is new, its aliases moved, keyward changed it, or a full refresh is
// due (every fullEvery listings). Its Updated time is when keyward saw
// its attributes change.
type view struct {
	a *Account
	// refresh says which listings describe every key again.
	refresh cloud.Refresh
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]*described
	// deleted is the last listing's keys pending deletion, for
	// ListDeleted right after ListKeys.
	deleted cloud.Deleted
	// calls counts AWS requests by API, for tests and benchmarks.
	calls cloud.Calls
	// rotationsDue are keys whose rotation history the next ReadLog
	// reads: their material changed, or they were seen for the first
	// time with automatic rotation on.
	rotationsDue map[string]bool
	// selfRotated are keyward's own on-demand rotations, by key ID.
	selfRotated map[string][]time.Time
}

type described struct {
	kv      cloud.KeyVersion
	aliases string // the aliases the listing showed when described
	fp      string // the attributes, to tell a change
	stale   bool   // changed through keyward: describe again
	// listed: described by the listing in progress and not yet read by
	// name; the sync's read of a new key's type takes it without asking
	// AWS a second time.
	listed bool
}

func newView(a *Account, fullEvery int) *view {
	return &view{a: a, refresh: cloud.Refresh{Every: fullEvery}, now: time.Now, cache: map[string]*described{},
		rotationsDue: map[string]bool{}, selfRotated: map[string][]time.Time{}}
}

func (v *view) count(api string) { v.calls.Count(api) }

// Calls returns how many requests of each AWS API the account made.
func (a *Account) Calls() map[string]int { return a.view.calls.Counts() }

// invalidate makes the next listing describe keyID again.
func (v *view) invalidate(keyID string) {
	v.mu.Lock()
	if d := v.cache[keyID]; d != nil {
		d.stale = true
	}
	v.mu.Unlock()
}

// maxListPages bounds one listing: 10,000 pages (of 1,000 keys, 100
// aliases or tags) is far past any account's quotas.
const maxListPages = 10000

// aliases lists every alias of the account and region by target key.
func (v *view) aliases(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	p := kms.NewListAliasesPaginator(v.a.client, &kms.ListAliasesInput{Limit: sdkaws.Int32(100)})
	guard := cloud.NewPageGuard("AWS KMS", "list aliases", maxListPages)
	for p.HasMorePages() {
		v.count("ListAliases")
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("list aliases", err)
		}
		if err := guard.Page(len(page.Aliases), sdkaws.ToString(page.NextMarker)); err != nil {
			return nil, err
		}
		for _, al := range page.Aliases {
			if al.TargetKeyId == nil || al.AliasName == nil {
				continue
			}
			out[*al.TargetKeyId] = append(out[*al.TargetKeyId], strings.TrimPrefix(*al.AliasName, "alias/"))
		}
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out, nil
}

// ListKeys lists the live keys (every state but pending deletion), one
// page of KMS's listing at a time, and keeps those pending deletion for
// ListDeleted.
func (a *Account) ListKeys(ctx context.Context, page func([]cloud.KeyVersion) error) error {
	v := a.view
	als, err := v.aliases(ctx)
	if err != nil {
		return err
	}
	pass := v.refresh.Begin()
	list := func() *kms.ListKeysPaginator {
		return kms.NewListKeysPaginator(a.client, &kms.ListKeysInput{Limit: sdkaws.Int32(1000)})
	}
	p, restarts := list(), 0
	guard := cloud.NewPageGuard("AWS KMS", "list keys", maxListPages)
	for p.HasMorePages() {
		v.count("ListKeys")
		out, err := p.NextPage(ctx)
		var marker *types.InvalidMarkerException
		if errors.As(err, &marker) && restarts < 3 {
			// The key the next page started at was removed since the
			// last page: list again from the start (seen skips the keys
			// already listed).
			p, restarts = list(), restarts+1
			guard = cloud.NewPageGuard("AWS KMS", "list keys", maxListPages)
			continue
		}
		if err != nil {
			return classify("list keys", err)
		}
		if err := guard.Page(len(out.Keys), sdkaws.ToString(out.NextMarker)); err != nil {
			return err
		}
		var live []cloud.KeyVersion
		for _, e := range out.Keys {
			if e.KeyId == nil {
				return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "list keys", Reason: "a listed key has no key ID"}
			}
			id := *e.KeyId
			if !pass.See(id) {
				continue
			}
			keyAliases := als[id]
			if keyAliases == nil {
				keyAliases = []string{} // listed without aliases: none to look up
			}
			kv, err := v.current(ctx, id, keyAliases, pass.Full)
			if err != nil {
				if errors.Is(err, cloud.ErrNotFound) {
					continue // deleted since the listing
				}
				return err
			}
			live = pass.Add(live, kv)
		}
		if len(live) > 0 {
			if err := page(live); err != nil {
				return err
			}
		}
	}
	cloud.EndPass(pass, &v.mu, v.cache, &v.deleted, v.now())
	return nil
}

// ListDeleted lists the keys pending deletion that the listing just made
// found (or lists again if none was made in the last minute).
func (a *Account) ListDeleted(ctx context.Context, page func([]cloud.KeyVersion) error) error {
	return a.view.deleted.Serve(ctx, a.view.now, a.ListKeys, page)
}

// current is the key as last described, described again when needed.
func (v *view) current(ctx context.Context, id string, aliases []string, full bool) (cloud.KeyVersion, error) {
	joined := strings.Join(aliases, ",")
	v.mu.Lock()
	d := v.cache[id]
	v.mu.Unlock()
	if d != nil && !full && !d.stale && d.aliases == joined {
		return d.kv, nil
	}
	kv, err := v.describe(ctx, id, aliases)
	if err == nil {
		v.mu.Lock()
		if d := v.cache[kv.Name]; d != nil {
			d.listed = true
		}
		v.mu.Unlock()
	}
	return kv, err
}

// takeListed returns a key the listing in progress just described, once.
func (v *view) takeListed(id string) (cloud.KeyVersion, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.cache[id]
	if d == nil || !d.listed || d.stale {
		return cloud.KeyVersion{}, false
	}
	d.listed = false
	return d.kv, true
}

// describe reads a key's attributes, tags and rotation status, and
// records when they changed.
func (v *view) describe(ctx context.Context, ref string, aliases []string) (cloud.KeyVersion, error) {
	v.count("DescribeKey")
	out, err := v.a.client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: sdkaws.String(ref)})
	if err != nil {
		return cloud.KeyVersion{}, classify("describe "+ref, err)
	}
	md := out.KeyMetadata
	if md == nil || md.KeyId == nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "describe " + ref, Reason: "DescribeKey answered without key metadata"}
	}
	id := *md.KeyId
	customer := md.KeyManager != types.KeyManagerTypeAws
	tags := map[string]string{}
	if customer {
		p := kms.NewListResourceTagsPaginator(v.a.client, &kms.ListResourceTagsInput{KeyId: sdkaws.String(id)})
		guard := cloud.NewPageGuard("AWS KMS", "list tags of "+id, maxListPages)
		for p.HasMorePages() {
			v.count("ListResourceTags")
			page, err := p.NextPage(ctx)
			if err != nil {
				return cloud.KeyVersion{}, classify("list tags of "+id, err)
			}
			if err := guard.Page(len(page.Tags), sdkaws.ToString(page.NextMarker)); err != nil {
				return cloud.KeyVersion{}, err
			}
			for _, t := range page.Tags {
				if t.TagKey != nil && t.TagValue != nil && !keywardTag(*t.TagKey) {
					tags[*t.TagKey] = *t.TagValue
				}
			}
		}
	}
	if aliases == nil {
		// Read by name (not from a listing): this key's aliases.
		v.count("ListAliases")
		al, err := v.a.client.ListAliases(ctx, &kms.ListAliasesInput{KeyId: sdkaws.String(id)})
		if err != nil {
			return cloud.KeyVersion{}, classify("list aliases of "+id, err)
		}
		for _, x := range al.Aliases {
			if x.AliasName != nil {
				aliases = append(aliases, strings.TrimPrefix(*x.AliasName, "alias/"))
			}
		}
		slices.Sort(aliases)
	}
	rotation := ""
	if customer && md.KeySpec == types.KeySpecSymmetricDefault && md.Origin == types.OriginTypeAwsKms && md.KeyState != types.KeyStatePendingDeletion {
		v.count("GetKeyRotationStatus")
		rs, err := v.a.client.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: sdkaws.String(id)})
		if err != nil {
			return cloud.KeyVersion{}, classify("rotation status of "+id, err)
		}
		rotation = rotationText(rs)
	} else if !customer {
		rotation = "yearly (AWS-managed)"
	}
	kv := keyVersion(md, tags, aliases, rotation)
	if rotation != "" && customer {
		// When the key last rotated: aging counts from it. Read again
		// only when its material is not the one last seen.
		v.mu.Lock()
		d := v.cache[id]
		v.mu.Unlock()
		if d != nil && d.kv.Tags[TagMaterial] == kv.Tags[TagMaterial] {
			kv.Rotated = copyTime(d.kv.Rotated)
		} else if kv.Rotated, err = v.lastRotation(ctx, id); err != nil {
			return cloud.KeyVersion{}, err
		}
	}
	fp := fingerprint(kv)
	now := v.now().UTC().Truncate(time.Second)
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.cache[id]
	switch mat := kv.Tags[TagMaterial]; {
	case d == nil && strings.HasPrefix(rotation, "on"):
		v.rotationsDue[id] = true
	case d != nil && mat != "" && d.kv.Tags[TagMaterial] != "" && mat != d.kv.Tags[TagMaterial]:
		v.rotationsDue[id] = true
	}
	switch {
	case d == nil:
		kv.Updated = now
	case d.fp == fp:
		kv.Updated = d.kv.Updated
		if kv.Deleted != nil && d.kv.Deleted != nil {
			kv.Deleted = d.kv.Deleted
		}
	default:
		kv.Updated = now
	}
	if kv.Deleted != nil && kv.Deleted.IsZero() {
		kv.Deleted = &now
	}
	v.cache[id] = &described{kv: kv, aliases: strings.Join(aliases, ","), fp: fp}
	return kv, nil
}

// lastRotation is the date of the key's newest rotation in its rotation
// history (ListKeyRotations), automatic or on demand; nil when it never
// rotated.
func (v *view) lastRotation(ctx context.Context, id string) (*time.Time, error) {
	rs, err := v.rotations(ctx, id)
	if err != nil {
		return nil, classify("rotation history of "+id, err)
	}
	var last *time.Time
	for _, r := range rs {
		if r.RotationDate != nil && (last == nil || r.RotationDate.After(*last)) {
			t := r.RotationDate.UTC()
			last = &t
		}
	}
	return last, nil
}

// rotations is a key's rotation history (ListKeyRotations), every page;
// its error is the SDK's, for the caller to classify.
func (v *view) rotations(ctx context.Context, id string) ([]types.RotationsListEntry, error) {
	var out []types.RotationsListEntry
	p := kms.NewListKeyRotationsPaginator(v.a.client, &kms.ListKeyRotationsInput{KeyId: sdkaws.String(id)})
	guard := cloud.NewPageGuard("AWS KMS", "rotation history of "+id, maxListPages)
	for p.HasMorePages() {
		v.count("ListKeyRotations")
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		if err := guard.Page(len(page.Rotations), sdkaws.ToString(page.NextMarker)); err != nil {
			return nil, err
		}
		out = append(out, page.Rotations...)
	}
	return out, nil
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func rotationText(rs *kms.GetKeyRotationStatusOutput) string {
	if !rs.KeyRotationEnabled {
		return "off"
	}
	s := "on"
	if rs.RotationPeriodInDays != nil {
		s += ", every " + strconv.Itoa(int(*rs.RotationPeriodInDays)) + " days"
	}
	if rs.NextRotationDate != nil {
		s += ", next " + rs.NextRotationDate.UTC().Format(time.DateOnly)
	}
	return s
}

// keyVersion maps KMS key metadata onto a cloud key version.
func keyVersion(md *types.KeyMetadata, tags map[string]string, aliases []string, rotation string) cloud.KeyVersion {
	typ, curve, size := specOf(md.KeySpec)
	kv := cloud.KeyVersion{Name: *md.KeyId, Version: Version, Type: typ, Curve: curve, Size: size,
		Enabled: md.KeyState == types.KeyStateEnabled, Managed: md.KeyManager == types.KeyManagerTypeAws, Tags: tags}
	if md.CreationDate != nil {
		kv.Created = md.CreationDate.UTC()
	}
	if md.ValidTo != nil {
		t := md.ValidTo.UTC()
		kv.Expires = &t // imported material's expiry
	}
	set := func(k, v string) {
		if v != "" {
			tags[k] = v
		}
	}
	set(TagSpec, string(md.KeySpec))
	set(TagUsage, string(md.KeyUsage))
	set(TagOrigin, string(md.Origin))
	set(TagState, string(md.KeyState))
	set(TagManager, string(md.KeyManager))
	set(TagDescription, sdkaws.ToString(md.Description))
	set(TagAliases, strings.Join(aliases, ","))
	set(TagRotation, rotation)
	set(TagMaterial, sdkaws.ToString(md.CurrentKeyMaterialId))
	unsupportedTags(md.Origin, tags)
	if md.MultiRegion != nil && *md.MultiRegion {
		role := "multi-Region"
		if md.MultiRegionConfiguration != nil && md.MultiRegionConfiguration.MultiRegionKeyType != "" {
			role = strings.ToLower(string(md.MultiRegionConfiguration.MultiRegionKeyType))
		}
		set(TagMultiRegion, role)
	}
	if md.KeyState == types.KeyStatePendingDeletion || md.KeyState == types.KeyStatePendingReplicaDeletion {
		deleted := time.Time{}
		if md.DeletionDate != nil {
			purge := md.DeletionDate.UTC()
			kv.PurgeAt = &purge
			if md.PendingDeletionWindowInDays != nil {
				deleted = purge.AddDate(0, 0, -int(*md.PendingDeletionWindowInDays))
			}
		}
		kv.Deleted = &deleted // zero: describe sets when it saw it
	}
	return kv
}

// shape is keyward's type, curve and size of a key.
type shape struct {
	typ, curve string
	size       int
}

// fixedSpecs are the KMS key specs whose name does not carry the size.
var fixedSpecs = map[types.KeySpec]shape{
	types.KeySpecSymmetricDefault:    {"oct", "", 256},
	types.KeySpecEccNistP256:         {"EC", "P-256", 256},
	types.KeySpecEccNistP384:         {"EC", "P-384", 384},
	types.KeySpecEccNistP521:         {"EC", "P-521", 521},
	types.KeySpecEccSecgP256k1:       {"EC", "P-256K", 256},
	types.KeySpecEccNistEdwards25519: {"EC", "Ed25519", 256},
	types.KeySpecSm2:                 {"EC", "SM2", 256},
}

// sizedSpecs are the KMS key spec families named PREFIX_SIZE, by the
// type keyward shows them as.
var sizedSpecs = []struct{ prefix, typ string }{
	{"RSA_", "RSA"}, {"HMAC_", "HMAC"}, {"ML_DSA_", "ML-DSA"}, {"ML_KEM_", "ML-KEM"},
}

// specOf maps a KMS key spec onto keyward's type, curve and size.
func specOf(spec types.KeySpec) (typ, curve string, size int) {
	if f, ok := fixedSpecs[spec]; ok {
		return f.typ, f.curve, f.size
	}
	s := string(spec)
	for _, f := range sizedSpecs {
		if n, ok := strings.CutPrefix(s, f.prefix); ok {
			size, _ := strconv.Atoi(n)
			return f.typ, "", size
		}
	}
	return s, "", 0
}

// fingerprint is what the inventory shows of a key, to tell a change.
func fingerprint(kv cloud.KeyVersion) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%t|%s|%s|%d|", kv.Enabled, kv.Type, kv.Curve, kv.Size)
	for _, t := range []*time.Time{kv.Expires, kv.PurgeAt} {
		if t != nil {
			b.WriteString(t.UTC().Format(time.RFC3339))
		}
		b.WriteByte('|')
	}
	for _, k := range slices.Sorted(maps.Keys(kv.Tags)) {
		fmt.Fprintf(&b, "%q=%q;", k, kv.Tags[k])
	}
	return b.String()
}
