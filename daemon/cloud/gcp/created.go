package gcp

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keyward/keyward/daemon/cloud"
)

// answerLost reports whether err leaves open whether Google did what was
// asked: what the client would retry (Unavailable, DeadlineExceeded).
func answerLost(err error) bool {
	c := status.Code(err)
	return c == codes.Unavailable || c == codes.DeadlineExceeded
}

// createKey sends CreateCryptoKey without the client's retries, which
// after a lost answer got AlreadyExists for the key the first call made
// and reported a failure. A lost answer (and an AlreadyExists after one)
// reads the key back: the key asked for (purpose, algorithm, protection
// level, import-only, labels) is the one the lost call made, adopted, and
// recovered says so; another key is a conflict naming what exists; no key
// sends the call again (settleAttempts in all). An AlreadyExists with no
// answer lost before is someone else's key, as before.
func (p *Project) createKey(ctx context.Context, op string, r ref, req *kmspb.CreateCryptoKeyRequest) (k *kmspb.CryptoKey, recovered string, err error) {
	delay := 500 * time.Millisecond
	lost := false
	for attempt := 1; ; attempt++ {
		p.view.count("CreateCryptoKey")
		k, err = p.client.CreateCryptoKey(ctx, req, gax.WithRetry(nil))
		switch {
		case err == nil:
			return k, recovered, nil
		case answerLost(err):
			lost = true
		case status.Code(err) == codes.AlreadyExists && lost:
		default:
			return nil, "", classify(op, err)
		}
		p.view.count("GetCryptoKey")
		got, gerr := p.client.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: p.keyName(r)})
		switch {
		case gerr == nil:
			if diff := keyDiff(req.GetCryptoKey(), got); diff != "" {
				return nil, "", &cloud.Error{Kind: cloud.ErrConflict, Op: op,
					Reason: fmt.Sprintf("the answer to CreateCryptoKey was lost, and %s now exists as %s, not as asked (%s): another administrator may have made it; keyward took it for none of its own and changed nothing", r, describeKey(got), diff)}
			}
			made := ""
			if t := got.GetCreateTime(); t != nil {
				made = ", created " + t.AsTime().UTC().Format(time.RFC3339)
			}
			return got, fmt.Sprintf("the answer to CreateCryptoKey was lost; keyward found the key it made: %s (%s%s), and made no second", r, describeKey(got), made), nil
		case status.Code(gerr) != codes.NotFound:
			return nil, "", fmt.Errorf("%w (the answer was lost and reading the key back failed: %v; keyward key show %s says whether it was made)", classify(op, err), classify("read "+r.String(), gerr), r)
		}
		if attempt == settleAttempts || ctx.Err() != nil {
			return nil, "", classify(op, err)
		}
		select {
		case <-ctx.Done():
			return nil, "", classify(op, err)
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// describeKey is a key's purpose, algorithm and protection level.
func describeKey(k *kmspb.CryptoKey) string {
	s := fmt.Sprintf("%s %s %s", k.GetPurpose(), k.GetVersionTemplate().GetAlgorithm(), k.GetVersionTemplate().GetProtectionLevel())
	if k.GetImportOnly() {
		s += " import-only"
	}
	return s
}

// keyDiff says how got differs from the key asked for ("" when it is the
// one).
func keyDiff(asked, got *kmspb.CryptoKey) string {
	switch {
	case asked.GetPurpose() != got.GetPurpose(),
		asked.GetVersionTemplate().GetAlgorithm() != got.GetVersionTemplate().GetAlgorithm(),
		asked.GetVersionTemplate().GetProtectionLevel() != got.GetVersionTemplate().GetProtectionLevel(),
		asked.GetImportOnly() != got.GetImportOnly():
		return "asked " + describeKey(asked)
	case !sameLabels(asked.GetLabels(), got.GetLabels()):
		return fmt.Sprintf("asked labels %v, it has %v", asked.GetLabels(), got.GetLabels())
	}
	return ""
}

// importVersion sends ImportCryptoKeyVersion (which the client does not
// retry) and, its answer lost, looks among the key's versions for the one
// made with this upload's import job (a job of its own: activeJob):
// found, it is adopted and recovered says so; none, the call is sent
// again (settleAttempts in all). A second version of the same material
// is what blindly uploading again made.
func (p *Project) importVersion(ctx context.Context, r ref, req *kmspb.ImportCryptoKeyVersionRequest) (v *kmspb.CryptoKeyVersion, recovered string, err error) {
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		p.view.count("ImportCryptoKeyVersion")
		v, err = p.client.ImportCryptoKeyVersion(ctx, req, gax.WithRetry(nil))
		if err == nil || !answerLost(err) {
			return v, "", err
		}
		found, ferr := p.versionOfJob(ctx, r, req.GetImportJob())
		if ferr != nil {
			return nil, "", err
		}
		if found != nil {
			return found, fmt.Sprintf("the answer to ImportCryptoKeyVersion was lost; keyward found the version it imported: %s, and imported no second", versionID(found.GetName())), nil
		}
		if attempt == settleAttempts || ctx.Err() != nil {
			return nil, "", err
		}
		select {
		case <-ctx.Done():
			return nil, "", err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// versionOfJob is the version of the key r made with import job job (nil
// when none).
func (p *Project) versionOfJob(ctx context.Context, r ref, job string) (*kmspb.CryptoKeyVersion, error) {
	var found *kmspb.CryptoKeyVersion
	err := pages(ctx, p.view, "ListCryptoKeyVersions", 1000, func(ctx context.Context) iterator.Pageable {
		return p.client.ListCryptoKeyVersions(ctx, &kmspb.ListCryptoKeyVersionsRequest{Parent: p.keyName(r), PageSize: 1000})
	}, func(vs []*kmspb.CryptoKeyVersion) error {
		for _, v := range vs {
			if v.GetImportJob() == job {
				found = v
			}
		}
		return nil
	})
	return found, err
}
