package kmip

import (
	"context"
	"errors"
	"fmt"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/keyward/keyward/engine/keyring"
)

// Rotation is what Rotate did on the KMS.
type Rotation struct {
	// Name and UID are the new generation's.
	Name, UID string
	// Existed: a generation of that name was already on the KMS (a rotation
	// whose answer was lost, say to a crash), so none was created; it was
	// activated if it was still Pre-Active.
	Existed bool
}

// NewestGeneration is the name of the newest generation of app the source
// has seen on the KMS (the one a rotation follows).
func (s *Source) NewestGeneration(app string) (string, error) {
	if _, err := s.application(app); err != nil {
		return "", err
	}
	s.pollMu.Lock()
	var names []string
	for _, k := range s.known {
		if k.row.Application == app && k.row.Name != "" {
			names = append(names, k.row.Name)
		}
	}
	s.pollMu.Unlock()
	if len(names) == 0 {
		return "", fmt.Errorf("application %q: source %s has seen no generation of it yet (its first poll has not worked?)", app, s.cfg.Name)
	}
	newest, _, err := keyring.NextName(names)
	if err != nil {
		return "", fmt.Errorf("application %q: %w", app, err)
	}
	return newest, nil
}

func (s *Source) application(app string) (pattern string, err error) {
	for _, a := range s.cfg.Applications {
		if a.Name == app {
			return a.Pattern, nil
		}
	}
	return "", fmt.Errorf("source %s has no application %q", s.cfg.Name, app)
}

// Rotate makes the generation of app that follows after (the newest
// generation's name, as NewestGeneration gave it before the call): a KMIP
// Create of an AES-256 key named with the next number in the
// application's scheme (acme.crm.key.5 → acme.crm.key.6), then Activate,
// and polls so the ring takes it and the proxy encrypts with it. It is
// idempotent given after: when the next name already exists on the KMS
// (the answer to an earlier call was lost), nothing is created and that
// key is activated if it is still Pre-Active. The caller checks the admin
// role and records the activity.
func (s *Source) Rotate(ctx context.Context, app, after string) (Rotation, error) {
	pattern, err := s.application(app)
	if err != nil {
		return Rotation{}, err
	}
	_, next, err := keyring.NextName([]string{after})
	if err != nil {
		return Rotation{}, fmt.Errorf("application %q: %w", app, err)
	}
	if !Match(pattern, next) {
		return Rotation{}, fmt.Errorf("application %q: the next generation's name %s does not match its pattern %s", app, next, pattern)
	}
	rot, err := s.createGeneration(ctx, next, after)
	if err != nil {
		return rot, fmt.Errorf("rotate application %q on %s (create %s): %w", app, s.cfg.Name, next, err)
	}
	if err := s.SyncNow(ctx); err != nil {
		s.log.Warn("the poll after a rotation failed; the next poll takes the new generation", "application", app, "err", err)
	}
	return rot, nil
}

func (s *Source) createGeneration(ctx context.Context, name, after string) (rot Rotation, err error) {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	s.pollStarted()
	defer s.pollEnded()
	defer s.answerPanic(&err)
	c, err := s.connect(ctx)
	if err != nil {
		return Rotation{}, err
	}
	var st PollStats
	found, err := s.locate(ctx, c, byName(name), &st)
	if err != nil {
		s.closeClient()
		return Rotation{}, err
	}
	rot = Rotation{Name: name}
	if len(found) > 0 && len(found[0]) > 0 {
		if len(found[0]) > 1 {
			return rot, fmt.Errorf("the KMS holds %d objects named %s; remove the extra ones", len(found[0]), name)
		}
		rot.UID, rot.Existed = found[0][0], true
		metas, failed, err := s.attributes(ctx, c, []string{rot.UID}, stateAttr, &st)
		if err != nil {
			return rot, err
		}
		if e := failed[rot.UID]; e != nil {
			return rot, e
		}
		if m := metas[rot.UID]; m != nil && m.state != kmip.StatePreActive {
			return rot, nil
		}
	} else {
		create, err := c.Create().AES(256, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).WithName(name).Build()
		if err != nil {
			return rot, err
		}
		s.once.Store(true) // a lost answer is not a Create to send again
		cr, err := one[*payloads.CreateResponsePayload](ctx, s, c, create, &st)
		s.once.Store(false)
		if errors.Is(err, errNotResent) {
			s.closeClient()
			return rot, fmt.Errorf("%w; rotate again from %s: the retry finds the key of that name the KMS made and activates it, or creates it", err, after)
		}
		if err != nil {
			s.closeClient()
			return rot, err
		}
		if cr.UniqueIdentifier == "" {
			return rot, &answerError{kms: s.answerer(), what: "answered the Create with no identifier: find the key named " + name + " on the KMS (it may exist) and rotate again"}
		}
		rot.UID = cr.UniqueIdentifier
	}
	activate, err := c.Activate(rot.UID).Build()
	if err != nil {
		return rot, err
	}
	if _, err := one[*payloads.ActivateResponsePayload](ctx, s, c, activate, &st); err != nil {
		return rot, fmt.Errorf("activate %s (%s): %w", name, rot.UID, err)
	}
	return rot, nil
}

// one sends one request and returns its answer's payload, which must be
// of type R: a refusal is the KMS's error, another payload (or none) an
// answerError.
func one[R kmip.OperationPayload](ctx context.Context, s *Source, c *kmipclient.Client, pl kmip.OperationPayload, st *PollStats) (R, error) {
	var zero R
	res, err := s.batch(ctx, c, []kmip.OperationPayload{pl}, st)
	if err != nil {
		return zero, err
	}
	if err := itemErr(res[0]); err != nil {
		return zero, err
	}
	r, ok := res[0].ResponsePayload.(R)
	if !ok || any(r) == any(zero) {
		return zero, &answerError{kms: s.answerer(), what: fmt.Sprintf("answered %s (%s) with %T, not %T", ttlv.EnumStr(pl.Operation()), subjects([]kmip.OperationPayload{pl}), res[0].ResponsePayload, zero)}
	}
	return r, nil
}
