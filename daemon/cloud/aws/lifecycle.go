package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// Get reads one key by key ID, ARN or alias name, described afresh.
func (a *Account) Get(ctx context.Context, name, version string) (cloud.KeyVersion, error) {
	if version != "" && version != Version {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrNotFound, Op: "get " + name,
			Reason: fmt.Sprintf("AWS keys have one version in keyward (%q): KMS keeps rotated material inside the key", Version)}
	}
	if kv, ok := a.view.takeListed(name); ok {
		return kv, nil
	}
	return a.view.describe(ctx, keyRef(name), nil)
}

// Versions is the key's one version.
func (a *Account) Versions(ctx context.Context, name string) ([]cloud.KeyVersion, error) {
	v := a.view
	v.mu.Lock()
	d := v.cache[name]
	v.mu.Unlock()
	if d != nil && !d.stale {
		return []cloud.KeyVersion{d.kv}, nil
	}
	kv, err := v.describe(ctx, keyRef(name), nil)
	if err != nil {
		return nil, err
	}
	return []cloud.KeyVersion{kv}, nil
}

// customerKey reads a key and refuses AWS-managed ones, which only AWS
// may change.
func (a *Account) customerKey(ctx context.Context, op, name string) (cloud.KeyVersion, error) {
	kv, err := a.view.describe(ctx, keyRef(name), nil)
	if err != nil {
		return kv, err
	}
	if kv.Managed {
		return kv, &cloud.Error{Kind: cloud.ErrUnsupported, Op: op + " " + name,
			Reason: "an AWS-managed key (" + kv.Tags[TagAliases] + ") is read-only: AWS creates, rotates and deletes it"}
	}
	return kv, nil
}

// createSpec maps a create request onto a KMS key spec and usage.
func (a *Account) createSpec(r cloud.CreateRequest) (types.KeySpec, types.KeyUsageType, error) {
	bad := func(format string, args ...any) (types.KeySpec, types.KeyUsageType, error) {
		return "", "", &cloud.Error{Kind: cloud.ErrInvalid, Op: "create " + r.Name, Reason: fmt.Sprintf(format, args...)}
	}
	typ := strings.ToUpper(r.Type)
	if a.partition == PartitionChina && (typ == "RSA" || typ == "EC") {
		return bad("the aws-cn partition cannot create native asymmetric keys (AWS KMS in China offers symmetric and SM2 keys): create a symmetric (oct) or HMAC key")
	}
	usage := types.KeyUsageType(r.Tags[TagUsage])
	switch typ {
	case "OCT", "AES", "SYMMETRIC", "":
		if r.Size != 0 && r.Size != 256 {
			return bad("a symmetric AWS KMS key is 256 bits (got %d)", r.Size)
		}
		return types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt, nil
	case "HMAC":
		switch r.Size {
		case 224, 256, 384, 512:
			return types.KeySpec(fmt.Sprintf("HMAC_%d", r.Size)), types.KeyUsageTypeGenerateVerifyMac, nil
		}
		return bad("an HMAC key is 224, 256, 384 or 512 bits (got %d)", r.Size)
	case "RSA":
		switch r.Size {
		case 2048, 3072, 4096:
		default:
			return bad("an RSA key is 2048, 3072 or 4096 bits (got %d)", r.Size)
		}
		if usage == "" {
			usage = types.KeyUsageTypeEncryptDecrypt
		}
		if usage != types.KeyUsageTypeEncryptDecrypt && usage != types.KeyUsageTypeSignVerify {
			return bad("%s of an RSA key is ENCRYPT_DECRYPT or SIGN_VERIFY (got %q)", TagUsage, usage)
		}
		return types.KeySpec(fmt.Sprintf("RSA_%d", r.Size)), usage, nil
	case "EC":
		spec := map[string]types.KeySpec{"P-256": types.KeySpecEccNistP256, "P-384": types.KeySpecEccNistP384,
			"P-521": types.KeySpecEccNistP521, "P-256K": types.KeySpecEccSecgP256k1}[strings.ToUpper(r.Curve)]
		if spec == "" {
			return bad("curve %q is not P-256, P-384, P-521 or P-256K", r.Curve)
		}
		return spec, types.KeyUsageTypeSignVerify, nil
	}
	return bad("key type %q is not oct (symmetric), HMAC, RSA or EC", r.Type)
}

// keywardTag reports a tag keyward shows but AWS does not store: the aws:
// attributes and the per-key capability limits.
func keywardTag(k string) bool {
	return strings.HasPrefix(k, "aws:") || strings.HasPrefix(k, engine.TagUnsupported) || k == TagCreateRequest
}

// userTags are the tags AWS stores: every tag but keyward's own.
func userTags(tags map[string]string) []types.Tag {
	var out []types.Tag
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if !keywardTag(k) {
			out = append(out, types.Tag{TagKey: sdkaws.String(k), TagValue: sdkaws.String(tags[k])})
		}
	}
	return out
}

// Create makes a customer-managed key and gives it the alias r.Name;
// aws:description and aws:usage tags set its description and usage.
func (a *Account) Create(ctx context.Context, r cloud.CreateRequest) (cloud.KeyVersion, error) {
	spec, usage, err := a.createSpec(r)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	if r.NotBefore != nil || r.Expires != nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrUnsupported, Op: "create " + r.Name, Reason: "AWS KMS keys have no activation or expiry date"}
	}
	in := &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Tags: userTags(r.Tags)}
	if d := r.Tags[TagDescription]; d != "" {
		in.Description = sdkaws.String(d)
	}
	id, recovered, err := a.createKey(ctx, "create "+r.Name, in)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	aliasRecovered, err := a.aliasNew(ctx, "create "+r.Name, id, r.Name)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	if r.Disabled {
		a.view.count("DisableKey")
		if _, err := a.client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: sdkaws.String(id)}); err != nil {
			return cloud.KeyVersion{}, classify("disable the new key "+id, err)
		}
	}
	kv, err := a.view.describe(ctx, id, nil)
	kv.Recovered = cloud.JoinRecovered(recovered, aliasRecovered)
	return kv, err
}

// Rotate rotates a symmetric key's material now (RotateKeyOnDemand).
func (a *Account) Rotate(ctx context.Context, name string) (cloud.KeyVersion, error) {
	kv, err := a.customerKey(ctx, "rotate", name)
	if err != nil {
		return kv, err
	}
	if kv.Type != "oct" || kv.Tags[TagOrigin] != string(types.OriginTypeAwsKms) {
		return kv, &cloud.Error{Kind: cloud.ErrUnsupported, Op: "rotate " + name,
			Reason: fmt.Sprintf("AWS rotates on demand only symmetric keys with AWS_KMS origin (this key is %s, %s)", kv.Tags[TagSpec], kv.Tags[TagOrigin])}
	}
	before, err := a.rotationMark(ctx, kv.Name, name)
	if err != nil {
		return kv, err
	}
	recovered := ""
	err = a.once(ctx, "rotate "+name, func(opt func(*kms.Options)) error {
		a.view.count("RotateKeyOnDemand")
		_, err := a.client.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: sdkaws.String(kv.Name)}, opt)
		return err
	}, func() (bool, error) {
		now, err := a.rotationMark(ctx, kv.Name, name)
		if err == nil && now != before {
			recovered = "the answer to RotateKeyOnDemand was lost; keyward found the key rotating (" + now + "), and asked no second rotation"
		}
		return now != before, err
	})
	if err != nil {
		return kv, err
	}
	a.view.mu.Lock()
	a.view.selfRotated[kv.Name] = append(a.view.selfRotated[kv.Name][max(0, len(a.view.selfRotated[kv.Name])-7):], a.view.now().UTC())
	a.view.mu.Unlock()
	a.view.invalidate(kv.Name)
	kv, err = a.view.describe(ctx, kv.Name, nil)
	kv.Recovered = recovered
	return kv, err
}

var _ cloud.RotationTracker = (*Account)(nil)

// RotationMark says how many on-demand rotations the key has had
// (ListKeyRotations) and whether one is in progress
// (GetKeyRotationStatus's OnDemandRotationStartDate): RotateKeyOnDemand
// returns before the rotation is made, so the key's material may not have
// changed yet when a daemon that asked for it is killed, and the mark is
// what shows the rotation was asked for.
func (a *Account) RotationMark(ctx context.Context, name string) (string, error) {
	kv, err := a.view.describe(ctx, keyRef(name), nil)
	if err != nil {
		return "", err
	}
	if kv.Type != "oct" || kv.Tags[TagOrigin] != string(types.OriginTypeAwsKms) {
		return "", nil // never rotated on demand
	}
	return a.rotationMark(ctx, kv.Name, name)
}

// rotationMark is RotationMark of the key whose ID is keyID.
func (a *Account) rotationMark(ctx context.Context, keyID, name string) (string, error) {
	id := sdkaws.String(keyID)
	a.view.count("GetKeyRotationStatus")
	rs, err := a.client.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
	if err != nil {
		return "", classify("rotation status of "+name, err)
	}
	n := 0
	history, err := a.view.rotations(ctx, keyID)
	if err != nil {
		return "", classify("list the rotations of "+name, err)
	}
	for _, r := range history {
		if r.RotationType == types.RotationTypeOnDemand {
			n++
		}
	}
	mark := fmt.Sprintf("on-demand %d", n)
	if t := rs.OnDemandRotationStartDate; t != nil {
		mark += ", one in progress since " + t.UTC().Format(time.RFC3339)
	}
	return mark, nil
}

// Update enables or disables a key and replaces its tags; aws:description
// and aws:aliases change the description and the aliases, the other aws:
// attributes are read-only.
func (a *Account) Update(ctx context.Context, name, version string, u cloud.Update) (cloud.KeyVersion, error) {
	op := "update " + name
	if version != "" && version != Version {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrNotFound, Op: op, Reason: fmt.Sprintf("AWS keys have one version in keyward (%q)", Version)}
	}
	if u.NotBefore != nil || u.Expires != nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrUnsupported, Op: op, Reason: "AWS KMS keys have no activation or expiry date to set"}
	}
	kv, err := a.customerKey(ctx, "update", name)
	if err != nil {
		return kv, err
	}
	id := kv.Name
	ref := sdkaws.String(id)
	if u.Tags != nil {
		for k, want := range u.Tags {
			if keywardTag(k) && k != TagDescription && k != TagAliases && kv.Tags[k] != want {
				return kv, &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: fmt.Sprintf("%s is read-only (only %s and %s can be changed)", k, TagDescription, TagAliases)}
			}
		}
		if err := a.updateTags(ctx, id, kv.Tags, u.Tags); err != nil {
			return kv, err
		}
	}
	if u.Enabled != nil {
		var err error
		if *u.Enabled {
			a.view.count("EnableKey")
			_, err = a.client.EnableKey(ctx, &kms.EnableKeyInput{KeyId: ref})
		} else {
			a.view.count("DisableKey")
			_, err = a.client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: ref})
		}
		if err != nil {
			return kv, classify(op, err)
		}
	}
	a.view.invalidate(id)
	return a.view.describe(ctx, id, nil)
}

func (a *Account) updateTags(ctx context.Context, id string, have, want map[string]string) error {
	op := "update " + id
	ref := sdkaws.String(id)
	if d, ok := want[TagDescription]; ok && d != have[TagDescription] {
		a.view.count("UpdateKeyDescription")
		if _, err := a.client.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: ref, Description: sdkaws.String(d)}); err != nil {
			return classify(op+" description", err)
		}
	}
	if al, ok := want[TagAliases]; ok && al != have[TagAliases] {
		split := func(s string) []string {
			var out []string
			for _, x := range strings.Split(s, ",") {
				if x = strings.TrimPrefix(strings.TrimSpace(x), "alias/"); x != "" {
					out = append(out, x)
				}
			}
			return out
		}
		old, nw := split(have[TagAliases]), split(al)
		for _, x := range nw {
			if strings.HasPrefix(x, "aws/") {
				return &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: fmt.Sprintf("alias/%s: the alias/aws/ prefix is reserved for AWS-managed keys", x)}
			}
		}
		for _, x := range nw {
			if !slices.Contains(old, x) {
				a.view.count("CreateAlias")
				if _, err := a.client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: sdkaws.String("alias/" + x), TargetKeyId: ref}); err != nil {
					return classify(op+": add alias/"+x, err)
				}
			}
		}
		for _, x := range old {
			if !slices.Contains(nw, x) {
				a.view.count("DeleteAlias")
				if _, err := a.client.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: sdkaws.String("alias/" + x)}); err != nil {
					return classify(op+": remove alias/"+x, err)
				}
			}
		}
	}
	var add []types.Tag
	for _, t := range userTags(want) {
		if v, ok := have[*t.TagKey]; !ok || v != *t.TagValue {
			add = append(add, t)
		}
	}
	var remove []string
	for k := range have {
		if _, ok := want[k]; !ok && !keywardTag(k) {
			remove = append(remove, k)
		}
	}
	slices.Sort(remove)
	if len(add) > 0 {
		a.view.count("TagResource")
		if _, err := a.client.TagResource(ctx, &kms.TagResourceInput{KeyId: ref, Tags: add}); err != nil {
			return classify(op+" tags", err)
		}
	}
	if len(remove) > 0 {
		a.view.count("UntagResource")
		if _, err := a.client.UntagResource(ctx, &kms.UntagResourceInput{KeyId: ref, TagKeys: remove}); err != nil {
			return classify(op+" tags", err)
		}
	}
	return nil
}

// Delete schedules the key's deletion deletion_window_days out.
func (a *Account) Delete(ctx context.Context, name string) (cloud.KeyVersion, error) {
	kv, err := a.customerKey(ctx, "delete", name)
	if err != nil {
		return kv, err
	}
	var out *kms.ScheduleKeyDeletionOutput
	recovered := ""
	err = a.once(ctx, "schedule deletion of "+name, func(opt func(*kms.Options)) (err error) {
		a.view.count("ScheduleKeyDeletion")
		out, err = a.client.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: sdkaws.String(kv.Name), PendingWindowInDays: sdkaws.Int32(a.cfg.DeletionWindow())}, opt)
		return err
	}, func() (bool, error) {
		a.view.invalidate(kv.Name)
		now, err := a.view.describe(ctx, kv.Name, nil)
		if err == nil && now.Deleted != nil {
			recovered = "the answer to ScheduleKeyDeletion was lost; keyward found the key pending deletion"
		}
		return now.Deleted != nil, err
	})
	if err != nil {
		return kv, err
	}
	a.view.invalidate(kv.Name)
	got, err := a.view.describe(ctx, kv.Name, nil)
	if err != nil {
		return got, err
	}
	if out != nil && out.DeletionDate != nil {
		purge := out.DeletionDate.UTC()
		got.PurgeAt = &purge
	}
	if got.Deleted == nil || got.Deleted.IsZero() {
		now := time.Now().UTC()
		got.Deleted = &now
	}
	got.Recovered = recovered
	return got, nil
}

// Recover cancels a scheduled deletion. AWS leaves the key disabled.
func (a *Account) Recover(ctx context.Context, name string) (cloud.KeyVersion, error) {
	// CancelKeyDeletion takes a key ID or ARN, not an alias.
	kv, err := a.customerKey(ctx, "recover", name)
	if err != nil {
		return kv, err
	}
	recovered := ""
	err = a.once(ctx, "cancel the deletion of "+name, func(opt func(*kms.Options)) error {
		a.view.count("CancelKeyDeletion")
		_, err := a.client.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: sdkaws.String(kv.Name)}, opt)
		return err
	}, func() (bool, error) {
		a.view.invalidate(kv.Name)
		now, err := a.view.describe(ctx, kv.Name, nil)
		if err == nil && now.Deleted == nil {
			recovered = "the answer to CancelKeyDeletion was lost; keyward found the deletion cancelled"
		}
		return now.Deleted == nil, err
	})
	if err != nil {
		return kv, err
	}
	a.view.invalidate(kv.Name)
	kv, err = a.view.describe(ctx, kv.Name, nil)
	kv.Recovered = recovered
	return kv, err
}

// RotationPolicy is the key's automatic rotation period (RotateAfter; 0:
// off).
func (a *Account) RotationPolicy(ctx context.Context, name string) (cloud.RotationPolicy, error) {
	// GetKeyRotationStatus takes a key ID or ARN, not an alias.
	id := name
	if !isKeyID(name) && !strings.HasPrefix(name, "arn:") && !strings.HasPrefix(name, "mrk-") {
		kv, err := a.view.describe(ctx, keyRef(name), nil)
		if err != nil {
			return cloud.RotationPolicy{}, err
		}
		id = kv.Name
	}
	a.view.count("GetKeyRotationStatus")
	rs, err := a.client.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: sdkaws.String(id)})
	if err != nil {
		return cloud.RotationPolicy{}, classify("rotation status of "+name, err)
	}
	var p cloud.RotationPolicy
	if rs.KeyRotationEnabled {
		days := int32(365) // AWS's default when it does not say
		if rs.RotationPeriodInDays != nil {
			days = *rs.RotationPeriodInDays
		}
		p.RotateAfter = engine.Duration(time.Duration(days) * 24 * time.Hour)
	}
	return p, nil
}

// SetRotationPolicy turns automatic rotation on with a period of 90 to
// 2560 whole days (RotateAfter), or off (RotateAfter 0).
func (a *Account) SetRotationPolicy(ctx context.Context, name string, p cloud.RotationPolicy) (cloud.RotationPolicy, error) {
	op := "set rotation of " + name
	if err := p.PeriodOnly(op, "AWS KMS rotation has only a period (rotate-after); its keys have no expiry to rotate before or notify about"); err != nil {
		return cloud.RotationPolicy{}, err
	}
	kv, err := a.customerKey(ctx, "set rotation of", name)
	if err != nil {
		return cloud.RotationPolicy{}, err
	}
	ref := sdkaws.String(kv.Name)
	if p.RotateAfter == 0 {
		a.view.count("DisableKeyRotation")
		if _, err := a.client.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: ref}); err != nil {
			return cloud.RotationPolicy{}, classify(op, err)
		}
	} else {
		d := time.Duration(p.RotateAfter)
		days := d / (24 * time.Hour)
		if d%(24*time.Hour) != 0 || days < 90 || days > 2560 {
			return cloud.RotationPolicy{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op,
				Reason: fmt.Sprintf("AWS rotates every 90 to 2560 whole days (got %s)", p.RotateAfter)}
		}
		a.view.count("EnableKeyRotation")
		if _, err := a.client.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: ref, RotationPeriodInDays: sdkaws.Int32(int32(days))}); err != nil {
			return cloud.RotationPolicy{}, classify(op, err)
		}
	}
	a.view.invalidate(kv.Name)
	return a.RotationPolicy(ctx, kv.Name)
}

var _ cloud.SpecChecker = (*Account)(nil)

var _ cloud.SpecLister = (*Account)(nil)

// CreateSpecs: symmetric, RSA, NIST EC and HMAC keys (createSpec); the
// aws-cn partition creates no native asymmetric keys.
func (a *Account) CreateSpecs() []string {
	specs := []string{"oct"}
	if a.partition != PartitionChina {
		specs = append(specs, "RSA 2048", "RSA 3072", "RSA 4096", "EC P-256", "EC P-384", "EC P-521")
	}
	return append(specs, "HMAC 224", "HMAC 256", "HMAC 384", "HMAC 512")
}

// CheckSpec judges a create request's type, size and curve (and the
// partition's rules) before any request is sent.
func (a *Account) CheckSpec(r cloud.CreateRequest) error {
	_, _, err := a.createSpec(r)
	return err
}

// onceAttempts is how many times once sends a request, as the SDK's
// retryer would (config.WithRetryMaxAttempts).
const onceAttempts = 5

// once sends a request that must not take effect twice — a second
// RotateKeyOnDemand rotates again (or is refused as a conflict although
// the first did it), a second ScheduleKeyDeletion or CancelKeyDeletion is
// refused for the state the first left — without the SDK's blind retries.
// A throttled request is sent again after a backoff; one whose answer was
// lost (no answer, a 5xx, which may come after AWS did the work) is sent
// again only when took, which reads the key, says it did not take effect.
// send passes opt to its SDK call.
func (a *Account) once(ctx context.Context, op string, send func(opt func(*kms.Options)) error, took func() (bool, error)) error {
	noRetry := func(o *kms.Options) { o.RetryMaxAttempts = 1 }
	delay := time.Second
	for attempt := 1; ; attempt++ {
		err := send(noRetry)
		if err == nil {
			return nil
		}
		ce := classify(op, err)
		throttled := errors.Is(ce, cloud.ErrThrottled)
		if attempt == onceAttempts || ctx.Err() != nil || !throttled && !answerLost(err) {
			return ce
		}
		if !throttled {
			if done, rerr := took(); rerr != nil {
				return ce
			} else if done {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ce
		case <-time.After(delay):
		}
		delay = min(2*delay, 20*time.Second)
	}
}

// answerLost reports whether err leaves open whether AWS did what was
// asked: no answer came, or a server error. A refusal (4xx) means it did
// not.
func answerLost(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode() >= 500
	}
	return !errors.Is(err, context.Canceled)
}
