package gcp

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

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/iterator"
	locationpb "google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
)

// Attribute tags: Cloud KMS attributes shown in the inventory as tags.
// Google labels cannot hold a colon, so the gcp: prefix never collides with
// a user's label. gcp:key-ring and gcp:purpose, gcp:algorithm and
// gcp:protection-level choose where and what a create or upload makes;
// gcp:primary=true on an update makes that version the primary.
const (
	TagKeyRing    = "gcp:key-ring"
	TagPurpose    = "gcp:purpose"
	TagAlgorithm  = "gcp:algorithm"
	TagProtection = "gcp:protection-level"
	TagState      = "gcp:state"
	TagPrimary    = "gcp:primary"
	TagRotation   = "gcp:rotation"
	TagImportOnly = "gcp:import-only"
	TagImportJob  = "gcp:import-job"
	TagFailure    = "gcp:import-failure"
	TagDestroyIn  = "gcp:destroy-scheduled-duration"
	// TagDeletion says on every row what deleting means at Google, so
	// every front end (key details in the TUI, keyward key show, the
	// socket's JSON) tells why a key or key ring never goes away.
	TagDeletion = "gcp:deletion"
)

// deletionNote is TagDeletion's value.
const deletionNote = "Google never deletes keys or key rings (their names stay taken forever): delete schedules each version's destruction"

// view is the project's key listing with the cost of a sync growing with
// what changed: Cloud KMS gives a key no modification time, so a key's
// versions are listed again (ListCryptoKeyVersions) only when it is new,
// its listed attributes moved (labels, rotation, primary version and its
// state), keyward changed it, or a full refresh is due (every fullEvery
// listings: a change to a version other than the primary moves nothing
// in the key's listing). Its Updated time is when keyward saw it change.
type view struct {
	p *Project
	// refresh says which listings describe every key again.
	refresh cloud.Refresh
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]*described // by location/ring/key
	// deleted is the last listing's keys whose every version is scheduled
	// for destruction, for ListDeleted right after ListKeys.
	deleted cloud.Deleted
	// calls counts Cloud KMS requests by RPC, for tests and benchmarks.
	calls cloud.Calls
}

type described struct {
	key      *kmspb.CryptoKey
	versions []*kmspb.CryptoKeyVersion
	fp       string
	updated  time.Time
	stale    bool
}

func newView(p *Project, fullEvery int) *view {
	return &view{p: p, refresh: cloud.Refresh{Every: fullEvery}, now: time.Now, cache: map[string]*described{}}
}

func (v *view) count(api string) { v.calls.Count(api) }

func (v *view) invalidate(r ref) {
	v.mu.Lock()
	if d := v.cache[r.String()]; d != nil {
		d.stale = true
	}
	v.mu.Unlock()
}

// maxListPages bounds one listing (of up to 1000 items a page); an hour
// of audit log, read as it comes (summed per hour, principal and key), may
// be longer.
const maxListPages = 200

var maxPages = map[string]int{"ListLogEntries": 5000}

// pages walks a Google iterator page by page, counting each page asked
// for as api; list makes the iterator with the context it is given. A
// listing that goes on past maxListPages pages (maxPages of api), names a
// page token it gave before, or gives 100 empty pages in a row fails as a
// bad answer instead of looping and holding every page: Google's iterators
// fetch again by themselves while a page comes back short or empty, so
// each request is checked where it is answered (guardPages, through the
// context), not here.
func pages[T any](ctx context.Context, v *view, api string, size int, list func(context.Context) iterator.Pageable, each func([]T) error) error {
	most := maxListPages
	if m := maxPages[api]; m > 0 {
		most = m
	}
	who := "Cloud KMS"
	if api == "ListLogEntries" {
		who = "Cloud Logging"
	}
	pg := iterator.NewPager(list(context.WithValue(ctx, pageGuardKey{}, cloud.NewPageGuard(who, api, most))), size, "")
	for {
		var items []T
		v.count(api)
		tok, err := pg.NextPage(&items)
		if errors.Is(err, iterator.Done) {
			return nil // an empty listing (Logging's client says so)
		}
		if err != nil {
			return err
		}
		if err := each(items); err != nil {
			return err
		}
		if tok == "" {
			return nil
		}
	}
}

// pageGuardKey carries a listing's cloud.PageGuard in the context of its
// requests, for guardPages.
type pageGuardKey struct{}

// guardPages is the client interceptor that puts every page a listing's
// requests bring (pages put a guard in their context) past that guard.
func guardPages(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
		return err
	}
	g, _ := ctx.Value(pageGuardKey{}).(*cloud.PageGuard)
	page, ok := reply.(interface {
		proto.Message
		GetNextPageToken() string
	})
	if g == nil || !ok {
		return nil
	}
	entries := 0
	m := page.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		if f := fields.Get(i); f.IsList() {
			entries += m.Get(f).List().Len()
		}
	}
	return g.Page(entries, page.GetNextPageToken())
}

// rings lists the key rings to sync as refs without a key.
func (v *view) rings(ctx context.Context) ([]ref, error) {
	out, err := v.listRings(ctx)
	var ce *cloud.Error
	if errors.As(err, &ce) && ce.Kind == cloud.ErrUnreachable {
		if de := v.p.dials.get(); de != nil {
			ce.Reason += " (last connection attempt: " + de.Error() + ")"
		}
	}
	return out, err
}

// listRings lists the key rings of the synced locations.
func (v *view) listRings(ctx context.Context) ([]ref, error) {
	cfg := v.p.cfg
	var locs []string
	if cfg.AllLocations() {
		err := pages(ctx, v, "ListLocations", 100, func(ctx context.Context) iterator.Pageable {
			return v.p.client.ListLocations(ctx, &locationpb.ListLocationsRequest{Name: "projects/" + cfg.Project})
		}, func(ls []*locationpb.Location) error {
			for _, l := range ls {
				locs = append(locs, l.GetLocationId())
			}
			return nil
		})
		if err != nil {
			return nil, classify("list the locations of project "+cfg.Project, err)
		}
	} else {
		locs = cfg.Locations
	}
	var out []ref
	for _, loc := range locs {
		err := pages(ctx, v, "ListKeyRings", 1000, func(ctx context.Context) iterator.Pageable {
			return v.p.client.ListKeyRings(ctx, &kmspb.ListKeyRingsRequest{Parent: gcpname.LocationName(cfg.Project, loc), PageSize: 1000})
		}, func(krs []*kmspb.KeyRing) error {
			for _, kr := range krs {
				n, err := gcpname.ParseName(gcpname.KindKeyRing, kr.GetName())
				if err != nil {
					return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "list key rings", Reason: err.Error()}
				}
				if cfg.AllKeyRings() || slices.Contains(cfg.KeyRings, n.KeyRing) || slices.Contains(cfg.KeyRings, loc+"/"+n.KeyRing) {
					out = append(out, ref{loc: loc, ring: n.KeyRing})
				}
			}
			return nil
		})
		if err != nil {
			return nil, classify("list the key rings of "+loc, err)
		}
	}
	return out, nil
}

// ListKeys lists every crypto key with a usable version, one page of
// Google's listing at a time; keys whose every version is scheduled for
// destruction are kept for ListDeleted; keys with no version left
// (destroyed, or none yet) are not listed.
func (p *Project) ListKeys(ctx context.Context, page func([]cloud.KeyVersion) error) error {
	v := p.view
	rings, err := v.rings(ctx)
	if err != nil {
		return err
	}
	pass := v.refresh.Begin()
	for _, rg := range rings {
		err := pages(ctx, v, "ListCryptoKeys", 1000, func(ctx context.Context) iterator.Pageable {
			return p.client.ListCryptoKeys(ctx, &kmspb.ListCryptoKeysRequest{Parent: p.ringName(rg), PageSize: 1000})
		}, func(keys []*kmspb.CryptoKey) error {
			var live []cloud.KeyVersion
			for _, k := range keys {
				n, err := gcpname.ParseName(gcpname.KindCryptoKey, k.GetName())
				if err != nil {
					return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "list keys of " + rg.loc + "/" + rg.ring, Reason: err.Error()}
				}
				r := ref{rg.loc, rg.ring, n.CryptoKey}
				pass.See(r.String())
				d, err := v.current(ctx, r, k, pass.Full)
				if err != nil {
					if errors.Is(err, cloud.ErrNotFound) {
						continue
					}
					return err
				}
				if kv, ok := d.keyVersion(r); ok {
					live = pass.Add(live, kv)
				}
			}
			if len(live) == 0 {
				return nil
			}
			return page(live)
		})
		if err != nil {
			return classify("list the keys of "+rg.loc+"/"+rg.ring, err)
		}
	}
	cloud.EndPass(pass, &v.mu, v.cache, &v.deleted, v.now())
	return nil
}

// ListDeleted lists the keys whose every version is scheduled for
// destruction, as the listing just made found them (or lists again).
func (p *Project) ListDeleted(ctx context.Context, page func([]cloud.KeyVersion) error) error {
	return p.view.deleted.Serve(ctx, p.view.now, p.ListKeys, page)
}

// current is the key as last described, its versions listed again when
// its listing moved (or a refresh is due).
func (v *view) current(ctx context.Context, r ref, k *kmspb.CryptoKey, full bool) (*described, error) {
	fp := keyFingerprint(k)
	v.mu.Lock()
	d := v.cache[r.String()]
	v.mu.Unlock()
	if d != nil && !full && !d.stale && d.fp == fp {
		return d, nil
	}
	return v.describe(ctx, r, k)
}

// describe lists a key's versions (and reads the key when k is nil), and
// records when what keyward shows of it changed.
func (v *view) describe(ctx context.Context, r ref, k *kmspb.CryptoKey) (*described, error) {
	name := v.p.keyName(r)
	if k == nil {
		v.count("GetCryptoKey")
		var err error
		k, err = v.p.client.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: name})
		if err != nil {
			return nil, classify("read "+r.String(), err)
		}
	}
	var vers []*kmspb.CryptoKeyVersion
	err := pages(ctx, v, "ListCryptoKeyVersions", 1000, func(ctx context.Context) iterator.Pageable {
		return v.p.client.ListCryptoKeyVersions(ctx, &kmspb.ListCryptoKeyVersionsRequest{Parent: name, PageSize: 1000})
	}, func(vs []*kmspb.CryptoKeyVersion) error {
		vers = append(vers, vs...)
		return nil
	})
	if err != nil {
		return nil, classify("list the versions of "+r.String(), err)
	}
	nd := &described{key: k, versions: vers, fp: keyFingerprint(k)}
	shown := shownFingerprint(k, vers)
	now := v.now().UTC().Truncate(time.Second)
	v.mu.Lock()
	defer v.mu.Unlock()
	if old := v.cache[r.String()]; old != nil && shownFingerprint(old.key, old.versions) == shown {
		nd.updated = old.updated
	} else {
		nd.updated = now
	}
	v.cache[r.String()] = nd
	return nd, nil
}

// cached returns the key's description, described afresh when unknown or
// changed through keyward.
func (v *view) cached(ctx context.Context, r ref) (*described, error) {
	v.mu.Lock()
	d := v.cache[r.String()]
	v.mu.Unlock()
	if d != nil && !d.stale {
		return d, nil
	}
	return v.describe(ctx, r, nil)
}

// keyFingerprint is what Google's key listing shows that can change.
func keyFingerprint(k *kmspb.CryptoKey) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s|%s|", k.GetPurpose(), k.GetVersionTemplate().GetAlgorithm(), k.GetVersionTemplate().GetProtectionLevel(),
		k.GetRotationPeriod().AsDuration(), k.GetNextRotationTime().AsTime().UTC().Format(time.RFC3339))
	if p := k.GetPrimary(); p != nil {
		fmt.Fprintf(&b, "%s %s|", p.GetName(), p.GetState())
	}
	for _, l := range slices.Sorted(maps.Keys(k.GetLabels())) {
		fmt.Fprintf(&b, "%q=%q;", l, k.GetLabels()[l])
	}
	return b.String()
}

// shownFingerprint is everything keyward shows of a key and its versions.
func shownFingerprint(k *kmspb.CryptoKey, vers []*kmspb.CryptoKeyVersion) string {
	var b strings.Builder
	b.WriteString(keyFingerprint(k))
	for _, x := range vers {
		fmt.Fprintf(&b, "\n%s %s %s %s %s", x.GetName(), x.GetState(), x.GetDestroyTime().AsTime().UTC().Format(time.RFC3339),
			x.GetDestroyEventTime().AsTime().UTC().Format(time.RFC3339), x.GetImportFailureReason())
	}
	return b.String()
}

// live reports whether a version state still counts as a usable version.
func live(s kmspb.CryptoKeyVersion_CryptoKeyVersionState) bool {
	switch s {
	case kmspb.CryptoKeyVersion_ENABLED, kmspb.CryptoKeyVersion_DISABLED, kmspb.CryptoKeyVersion_PENDING_GENERATION,
		kmspb.CryptoKeyVersion_PENDING_IMPORT:
		return true
	}
	return false
}

// knownState reports whether s is a state of Cloud KMS's enum as keyward
// knows it (not unspecified).
func knownState(s kmspb.CryptoKeyVersion_CryptoKeyVersionState) bool {
	_, ok := kmspb.CryptoKeyVersion_CryptoKeyVersionState_name[int32(s)]
	return ok && s != kmspb.CryptoKeyVersion_CRYPTO_KEY_VERSION_STATE_UNSPECIFIED
}

// primaryID is the key's primary version ID ("" for keys without one).
func (d *described) primaryID() string {
	if p := d.key.GetPrimary(); p != nil {
		return versionID(p.GetName())
	}
	return ""
}

func versionID(name string) string {
	_, id, _ := strings.Cut(name, "/cryptoKeyVersions/")
	return id
}

// keyVersion is the key's entry in a listing: its primary version (or its
// newest live one), marked deleted when every version that is not
// destroyed is scheduled for destruction. ok is false for a key with no
// version left to show.
func (d *described) keyVersion(r ref) (kv cloud.KeyVersion, ok bool) {
	all := d.all(r)
	if len(all) == 0 {
		return kv, false
	}
	anyLive, anyScheduled := false, false
	var purge *time.Time
	for i, x := range d.versions {
		switch {
		case live(x.GetState()) || x.GetState() == kmspb.CryptoKeyVersion_IMPORT_FAILED || !knownState(x.GetState()):
			// A state keyward does not know (newer than its client, or a
			// bad answer) is not a destroyed version: the key stays.
			anyLive = true
		case x.GetState() == kmspb.CryptoKeyVersion_DESTROY_SCHEDULED:
			anyScheduled = true
			if p := all[i].PurgeAt; p != nil && (purge == nil || p.After(*purge)) {
				purge = p
			}
		}
	}
	if !anyLive && !anyScheduled {
		return kv, false // every version destroyed: the key is gone
	}
	pick := len(all) - 1
	if id := d.primaryID(); id != "" {
		for i := range all {
			if all[i].Version == id {
				pick = i
			}
		}
	} else {
		for i := len(d.versions) - 1; i >= 0; i-- {
			if live(d.versions[i].GetState()) {
				pick = i
				break
			}
		}
	}
	kv = all[pick]
	if !anyLive {
		del := all[pick].Deleted
		if del == nil {
			t := d.updated
			del = &t
		}
		kv.Deleted, kv.PurgeAt = del, purge
	}
	return kv, true
}

// all maps every version onto a cloud key version.
func (d *described) all(r ref) []cloud.KeyVersion {
	out := make([]cloud.KeyVersion, 0, len(d.versions))
	primary := d.primaryID()
	for _, x := range d.versions {
		kv := versionOf(r, d.key, x, primary, d.updated)
		unsupportedTags(d.key, d.versions, kv.Tags)
		out = append(out, kv)
	}
	return out
}

// versionOf maps one Cloud KMS version onto a cloud key version.
func versionOf(r ref, k *kmspb.CryptoKey, x *kmspb.CryptoKeyVersion, primary string, updated time.Time) cloud.KeyVersion {
	typ, curve, size := algorithmOf(x.GetAlgorithm())
	id := versionID(x.GetName())
	tags := labelsToTags(k.GetLabels())
	set := func(k, v string) {
		if v != "" {
			tags[k] = v
		}
	}
	set(TagKeyRing, r.loc+"/"+r.ring)
	set(TagPurpose, k.GetPurpose().String())
	set(TagAlgorithm, x.GetAlgorithm().String())
	set(TagProtection, x.GetProtectionLevel().String())
	set(TagState, x.GetState().String())
	set(TagRotation, rotationText(k))
	set(TagImportJob, x.GetImportJob())
	set(TagFailure, x.GetImportFailureReason())
	set(TagDestroyIn, durationText(k.GetDestroyScheduledDuration().AsDuration()))
	set(TagDeletion, deletionNote)
	if id == primary {
		tags[TagPrimary] = "true"
	}
	if k.GetImportOnly() {
		tags[TagImportOnly] = "true"
	}
	kv := cloud.KeyVersion{Name: r.String(), Version: id, Type: typ, Curve: curve, Size: size,
		Enabled: x.GetState() == kmspb.CryptoKeyVersion_ENABLED, Updated: updated, Tags: tags}
	if x.GetCreateTime() != nil {
		kv.Created = x.GetCreateTime().AsTime().UTC()
	}
	if p := k.GetPrimary(); p.GetCreateTime() != nil {
		t := p.GetCreateTime().AsTime().UTC()
		kv.Rotated = &t // the key last rotated when its primary version was made
	}
	switch x.GetState() {
	case kmspb.CryptoKeyVersion_DESTROY_SCHEDULED:
		purge := x.GetDestroyTime().AsTime().UTC()
		del := purge.Add(-k.GetDestroyScheduledDuration().AsDuration())
		kv.Deleted, kv.PurgeAt = &del, &purge
	case kmspb.CryptoKeyVersion_DESTROYED:
		t := x.GetDestroyEventTime().AsTime().UTC()
		if x.GetDestroyEventTime() == nil {
			t = x.GetDestroyTime().AsTime().UTC()
		}
		kv.Destroyed = &t
	}
	return kv
}

func rotationText(k *kmspb.CryptoKey) string {
	rp := k.GetRotationPeriod()
	if rp == nil {
		if k.GetPurpose() == kmspb.CryptoKey_ENCRYPT_DECRYPT {
			return "off"
		}
		return ""
	}
	s := "every " + durationText(rp.AsDuration())
	if k.GetNextRotationTime() != nil {
		s += ", next " + k.GetNextRotationTime().AsTime().UTC().Format(time.DateOnly)
	}
	return s
}

func durationText(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

// algorithmShapes are Cloud KMS algorithm families by name prefix, in the
// order they are tried, with keyward's type, curve and size (RSA's size
// is read from the name).
var algorithmShapes = []struct {
	prefix, typ, curve string
	size               int
}{
	{"GOOGLE_SYMMETRIC_ENCRYPTION", "oct", "", 256},
	{"EXTERNAL_SYMMETRIC_ENCRYPTION", "oct", "", 256},
	{"AES_128", "oct", "", 128},
	{"AES_256", "oct", "", 256},
	{"RSA_", "RSA", "", 0},
	{"EC_SIGN_P256", "EC", "P-256", 256},
	{"EC_SIGN_P384", "EC", "P-384", 384},
	{"EC_SIGN_SECP256K1", "EC", "P-256K", 256},
	{"EC_SIGN_ED25519", "EC", "Ed25519", 256},
}

// algorithmOf maps a Cloud KMS algorithm onto keyward's type, curve and size.
func algorithmOf(a kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) (typ, curve string, size int) {
	n := a.String()
	for _, f := range algorithmShapes {
		if !strings.HasPrefix(n, f.prefix) {
			continue
		}
		if f.typ == "RSA" {
			for _, b := range []int{2048, 3072, 4096} {
				if strings.Contains(n, "_"+strconv.Itoa(b)) {
					return "RSA", "", b
				}
			}
		}
		return f.typ, f.curve, f.size
	}
	if sha, ok := strings.CutPrefix(n, "HMAC_SHA"); ok {
		sz, _ := strconv.Atoi(sha)
		if sz == 1 {
			sz = 160
		}
		return "HMAC", "", sz
	}
	return n, "", 0
}

// Get reads one version ("" = the primary, or the newest live one).
func (p *Project) Get(ctx context.Context, name, version string) (cloud.KeyVersion, error) {
	r, d, err := p.lookup(ctx, "get "+name, name, false)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	if version == "" {
		kv, ok := d.keyVersion(r)
		if !ok {
			return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrNotFound, Op: "get " + name, Reason: "the key has no version left (every version destroyed, or none imported yet)"}
		}
		return kv, nil
	}
	for _, kv := range d.all(r) {
		if kv.Version == version {
			return kv, nil
		}
	}
	return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrNotFound, Op: "get " + name, Reason: fmt.Sprintf("%s has no version %s", r, version)}
}

// Versions is every version of a key, destroyed ones included.
func (p *Project) Versions(ctx context.Context, name string) ([]cloud.KeyVersion, error) {
	r, d, err := p.lookup(ctx, "list the versions of "+name, name, false)
	if err != nil {
		return nil, err
	}
	return d.all(r), nil
}
