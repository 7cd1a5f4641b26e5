package kmip

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ovh/kmip-go"

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

func (s *Source) createGeneration(ctx context.Context, name, after string) (Rotation, error) {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	s.pollStarted()
	defer s.pollEnded()
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
	rot := Rotation{Name: name}
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
		rctx, cancel := context.WithTimeout(ctx, time.Duration(s.cfg.Timeout))
		s.once.Store(true) // a lost answer is not a Create to send again
		resp, err := c.Create().AES(256, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).WithName(name).ExecContext(rctx)
		s.once.Store(false)
		cancel()
		if errors.Is(err, errNotResent) {
			s.closeClient()
			return rot, fmt.Errorf("%w; rotate again from %s: the retry finds the key of that name the KMS made and activates it, or creates it", err, after)
		}
		if err != nil {
			s.closeClient()
			return rot, err
		}
		rot.UID = resp.UniqueIdentifier
	}
	rctx, cancel := context.WithTimeout(ctx, time.Duration(s.cfg.Timeout))
	defer cancel()
	if _, err := c.Activate(rot.UID).ExecContext(rctx); err != nil {
		return rot, fmt.Errorf("activate %s (%s): %w", name, rot.UID, err)
	}
	return rot, nil
}
