package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyward/keyward/daemon/cloud"
)

// TagCreateRequest marks every key keyward creates with a request ID of
// its own, so that a CreateKey whose answer is lost can be found again
// (CreateKey has no idempotency token). It stays on the key in AWS (the
// console shows which keyward request made it); keyward does not show it
// as one of the key's tags, nor remove it when tags are edited.
const TagCreateRequest = "keyward:create-request"

// createKey sends CreateKey once, as once does: its answer lost (a 5xx,
// no answer), keyward looks for the key the lost call made — among the
// keys it has not seen, the one carrying this request's TagCreateRequest
// — and adopts it instead of creating a second; only when there is none
// is CreateKey sent again, with the same mark. recovered says what was
// found, for the administrator; "" when the answer came.
func (a *Account) createKey(ctx context.Context, op string, in *kms.CreateKeyInput) (id, recovered string, err error) {
	mark, err := requestMark()
	if err != nil {
		return "", "", err
	}
	in.Tags = append(in.Tags, types.Tag{TagKey: sdkaws.String(TagCreateRequest), TagValue: sdkaws.String(mark)})
	known := a.view.knownIDs()
	lost := false
	err = a.once(ctx, op, func(opt func(*kms.Options)) error {
		a.view.count("CreateKey")
		out, err := a.client.CreateKey(ctx, in, opt)
		if err != nil {
			lost = lost || answerLost(err)
			return err
		}
		if out.KeyMetadata == nil || out.KeyMetadata.KeyId == nil {
			return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: op, Reason: "CreateKey answered without the new key's ID"}
		}
		id = *out.KeyMetadata.KeyId
		return nil
	}, func() (bool, error) {
		found, err := a.findMarked(ctx, op, mark, known)
		if found != "" {
			id = found
			recovered = fmt.Sprintf("the answer to CreateKey was lost; keyward found the key it made: %s (tag %s=%s), and made no second", found, TagCreateRequest, mark)
		}
		return found != "", err
	})
	if err != nil && lost {
		return "", "", fmt.Errorf("%w (an answer to CreateKey was lost and keyward could not tell whether AWS made the key: look for a key tagged %s=%s in this account and region, and name it with keyward key update --tag %s=NAME or schedule its deletion)", err, TagCreateRequest, mark, TagAliases)
	}
	return id, recovered, err
}

// requestMark is a fresh request ID for TagCreateRequest.
func requestMark() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a create request ID: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// knownIDs are the keys the view has described: a key a lost CreateKey
// made is none of them.
func (v *view) knownIDs() map[string]bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]bool, len(v.cache))
	for id := range v.cache {
		out[id] = true
	}
	return out
}

// findMarked lists the account's keys and reads the tags of those not in
// known (one ListResourceTags each: after a daemon start, before the
// first sync, every key) for TagCreateRequest = mark. "" when no key
// carries it.
func (a *Account) findMarked(ctx context.Context, op, mark string, known map[string]bool) (string, error) {
	p := kms.NewListKeysPaginator(a.client, &kms.ListKeysInput{Limit: sdkaws.Int32(1000)})
	guard := cloud.NewPageGuard("AWS KMS", op+": list keys to find the key a lost CreateKey made", maxListPages)
	for p.HasMorePages() {
		a.view.count("ListKeys")
		out, err := p.NextPage(ctx)
		if err != nil {
			return "", classify(op+": list keys to find the key a lost CreateKey made", err)
		}
		if err := guard.Page(len(out.Keys), sdkaws.ToString(out.NextMarker)); err != nil {
			return "", err
		}
		for _, e := range out.Keys {
			if e.KeyId == nil || known[*e.KeyId] {
				continue
			}
			a.view.count("ListResourceTags")
			tags, err := a.client.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: e.KeyId})
			var nf *types.NotFoundException
			if errors.As(err, &nf) {
				continue // deleted since the listing
			}
			if err != nil {
				return "", classify(op+": read the tags of "+*e.KeyId, err)
			}
			for _, t := range tags.Tags {
				if sdkaws.ToString(t.TagKey) == TagCreateRequest && sdkaws.ToString(t.TagValue) == mark {
					return *e.KeyId, nil
				}
			}
		}
	}
	return "", nil
}
