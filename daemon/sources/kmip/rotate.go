package kmip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/keyward/keyward/engine"
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
	// Finished: that generation was still Pre-Active and this rotation
	// activated it (the rotation a lost answer or a killed daemon left
	// half done is finished, not repeated).
	Finished bool
}

// NewestGeneration is the name of the generation of app a rotation
// follows (Rotate's after): the newest the source has seen on the KMS —
// unless that one is still Pre-Active. A Pre-Active newest generation that
// is exactly what keyward makes next (the name after the generation before
// it, an AES-256 key) is a rotation half done: a Create whose answer was
// lost, or a daemon killed between Create and Activate. Then the generation
// before it is answered, so that Rotate finishes it (activates it) instead
// of creating yet another. A Pre-Active newest generation keyward would not
// have made is left alone: the answer is an ErrForeignPreActive naming it.
func (s *Source) NewestGeneration(app string) (string, error) {
	if _, err := s.application(app); err != nil {
		return "", err
	}
	s.pollMu.Lock()
	var names []string
	rows := map[string][]knownKey{}
	for _, k := range s.known {
		if k.row.Application == app && k.row.Name != "" {
			names = append(names, k.row.Name)
			rows[k.row.Name] = append(rows[k.row.Name], knownKey{uid: k.uid, row: k.row})
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
	var pre *engine.Key
	uid := ""
	for _, k := range rows[newest] {
		if k.row.State == engine.StatePreActive {
			pre, uid = &k.row, k.uid
		}
	}
	if pre == nil {
		return newest, nil
	}
	rest := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == newest })
	prev, want := "", ""
	if len(rest) > 0 {
		prev, want, _ = keyring.NextName(rest)
	}
	var why string
	switch {
	case len(rows[newest]) > 1:
		why = fmt.Sprintf("the KMS holds %d objects named %s", len(rows[newest]), newest)
	case prev == "":
		why = "no earlier generation precedes it"
	case want != newest:
		why = fmt.Sprintf("after %s keyward makes %s, not %s", prev, want, newest)
	case !keywardMakes(pre.Algorithm, pre.Length):
		why = fmt.Sprintf("it is %s, and keyward makes %s", algLength(pre.Algorithm, pre.Length), algLength(madeAlgorithm, madeLength))
	default:
		return prev, nil
	}
	return "", fmt.Errorf("%w: application %q on %s: %s (identifier %s) is Pre-Active and is not a generation keyward would have made (%s); keyward leaves it alone and does not rotate past it: activate it, or revoke or destroy it, on the KMS, then rotate again",
		ErrForeignPreActive, app, s.cfg.Name, newest, uid, why)
}

// ErrForeignPreActive: an application's newest generation on the KMS is a
// Pre-Active key keyward would not have made, so a rotation does not guess
// whether to activate it or to make another.
var ErrForeignPreActive = errors.New("a Pre-Active key keyward did not make blocks the rotation")

// What Rotate creates: the generations keyward makes are AES-256 keys.
const madeLength = 256

var madeAlgorithm = ttlv.EnumStr(kmip.CryptographicAlgorithmAES)

func keywardMakes(alg string, length int) bool {
	return strings.EqualFold(alg, madeAlgorithm) && length == madeLength
}

func algLength(alg string, length int) string {
	if alg == "" {
		alg = "an unknown algorithm"
	}
	if length == 0 {
		return alg + " of unknown length"
	}
	return fmt.Sprintf("%s-%d", alg, length)
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
// key is activated if it is still Pre-Active (Finished) — unless it is not
// what keyward makes (another algorithm or length): then nothing is done
// and the error, an ErrForeignPreActive, names it. The caller checks the
// admin role and records the activity.
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
		metas, failed, err := s.attributes(ctx, c, []string{rot.UID}, finishAttrs, &st)
		if err != nil {
			return rot, err
		}
		if e := failed[rot.UID]; e != nil {
			return rot, e
		}
		m := metas[rot.UID]
		if m != nil && m.state != kmip.StatePreActive {
			return rot, nil
		}
		if m != nil && !keywardMakes(algName(m), int(m.length)) {
			return rot, fmt.Errorf("%w: %s (identifier %s) is Pre-Active and is %s, not the %s keyward makes; keyward leaves it alone: activate it, or revoke or destroy it, on the KMS, then rotate again",
				ErrForeignPreActive, name, rot.UID, algLength(algName(m), int(m.length)), algLength(madeAlgorithm, madeLength))
		}
		rot.Finished = true
	} else {
		create, err := c.Create().AES(madeLength, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).WithName(name).Build()
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

// finishAttrs are read of a generation a rotation finds already made: a
// Pre-Active one is activated only if it is what keyward makes.
var finishAttrs = []kmip.AttributeName{kmip.AttributeNameState, kmip.AttributeNameCryptographicAlgorithm, kmip.AttributeNameCryptographicLength}

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
