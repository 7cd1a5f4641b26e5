package kmip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/engine/keyring"
)

func (s *Source) sealName(app string) string { return s.cfg.Name + "/" + app }

func sealAAD(name string) []byte { return []byte("keyward/kmip-ring/v1\x00" + name) }

func (s *Source) persisting() bool {
	return s.deps.Persist && s.kek != nil && s.deps.Sealed != nil
}

// persist writes app's ring, wrapped under the KEK, or deletes the copy when
// the ring is empty (so destroyed or compromised keys never come back).
func (s *Source) persist(ctx context.Context, app string) error {
	if !s.persisting() {
		return nil
	}
	r, ok := s.deps.Rings.Ring(app)
	if !ok || len(r.Gens) == 0 {
		return s.deps.Sealed.DeleteSealed(ctx, SealedKind, s.sealName(app))
	}
	plain, err := s.deps.Rings.Seal(app)
	if err != nil {
		return err
	}
	return s.putSealed(ctx, app, plain)
}

// storeRing writes the ring a prepared change makes, before it is
// committed (see updateRing).
func (s *Source) storeRing(ctx context.Context, app string, ch *keyring.Change) error {
	if !s.persisting() {
		return nil
	}
	if ch.Empty() {
		return s.deps.Sealed.DeleteSealed(ctx, SealedKind, s.sealName(app))
	}
	return s.putSealed(ctx, app, ch.Seal())
}

// putSealed wraps a sealed ring's plaintext (zeroing it) and stores it.
func (s *Source) putSealed(ctx context.Context, app string, plain []byte) error {
	name := s.sealName(app)
	blob, err := s.kek.Wrap(plain, sealAAD(name))
	clear(plain)
	if err != nil {
		return fmt.Errorf("wrap ring %s: %w", name, err)
	}
	if err := s.deps.Sealed.PutSealed(ctx, SealedKind, name, blob); err != nil {
		return fmt.Errorf("store the wrapped ring %s: %w", name, err)
	}
	return nil
}

// restore fills the rings from their wrapped copies. With persistence off it
// removes any copy this source left earlier, so no material stays in the
// database against the configuration. A blob that does not open under the
// KEK stops the start, and nothing is written.
func (s *Source) restore(ctx context.Context) error {
	if s.deps.Sealed == nil {
		return nil
	}
	if !s.deps.Persist {
		blobs, err := s.deps.Sealed.Sealed(ctx, SealedKind)
		if err != nil {
			return fmt.Errorf("read wrapped rings: %w", err)
		}
		prefix := s.cfg.Name + "/"
		for name := range blobs {
			if strings.HasPrefix(name, prefix) {
				if err := s.deps.Sealed.DeleteSealed(ctx, SealedKind, name); err != nil {
					return fmt.Errorf("remove wrapped ring %s (keys.persist_material is off): %w", name, err)
				}
				s.log.Info("removed wrapped ring material: keys.persist_material is off", "ring", name)
			}
		}
		return nil
	}
	if s.kek == nil && s.kekPending {
		s.log.Warn("the KMS holding the key-encryption key is unreachable: the rings start empty and fill at the first good poll", "kek_name", s.cfg.KEKName)
		return nil
	}
	// Open every blob before touching any ring: all or nothing.
	plains, err := s.openSealed(ctx, s.kek)
	defer func() {
		for _, p := range plains {
			clear(p)
		}
	}()
	if err != nil {
		return err
	}
	for app, p := range plains {
		n, err := s.deps.Rings.Restore(app, p)
		if err != nil {
			return err
		}
		s.restored += n
		if n > 0 {
			s.log.Info("restored ring from the wrapped copy", "app", app, "generations", n)
		}
	}
	return nil
}

// openSealed unwraps this source's wrapped rings under k, by application,
// reading the database only. The caller zeroes what it returns, also on
// error.
func (s *Source) openSealed(ctx context.Context, k *kek.KEK) (map[string][]byte, error) {
	blobs, err := s.deps.Sealed.Sealed(ctx, SealedKind)
	if err != nil {
		return nil, fmt.Errorf("read wrapped rings: %w", err)
	}
	prefix := s.cfg.Name + "/"
	plains := map[string][]byte{}
	for _, a := range s.cfg.Applications {
		name := prefix + a.Name
		b, ok := blobs[name]
		if !ok {
			continue
		}
		if k == nil {
			return plains, fmt.Errorf("the database holds wrapped key rings for %s but no key-encryption key is configured (keys.kek_file); set it to the file they were sealed with, or set keys.persist_material = false to discard them", s.cfg.Name)
		}
		p, err := k.Unwrap(b, sealAAD(name))
		if err != nil {
			if errors.Is(err, kek.ErrWrongKEK) {
				return plains, fmt.Errorf("the wrapped key ring %s was sealed under a different key-encryption key than %s (id %s); use the KEK it was sealed with — nothing in the database was changed", name, s.kekOrigin(), k.ID())
			}
			return plains, fmt.Errorf("wrapped key ring %s: %w; nothing in the database was changed", name, err)
		}
		plains[a.Name] = p
	}
	return plains, nil
}

func (s *Source) kekOrigin() string {
	if s.deps.KEK == nil && s.cfg.KEKName != "" {
		return fmt.Sprintf("the KMS key %q", s.cfg.KEKName)
	}
	return "keys.kek_file"
}

// fetchKEK reads the key-encryption key named kek_name from the KMS: an
// exact-name Locate, the name and state re-checked, then a Get. The key must
// be a 256-bit AES key that is Active or Deactivated.
func (s *Source) fetchKEK(ctx context.Context) (*kek.KEK, error) {
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	var st PollStats
	found, err := s.locate(ctx, c, byName(s.cfg.KEKName), &st)
	if err != nil {
		return nil, err
	}
	metas, _, err := s.attributes(ctx, c, found[0], attrNames, &st)
	if err != nil {
		return nil, err
	}
	var uid string
	for _, id := range found[0] {
		if m := metas[id]; m != nil && slices.Contains(m.names, s.cfg.KEKName) && fromKMIPState(m.state).CanDecrypt() {
			if uid != "" {
				return nil, fmt.Errorf("the KMS holds more than one usable key named %q; the key-encryption key must be unique", s.cfg.KEKName)
			}
			uid = id
		}
	}
	if uid == "" {
		return nil, fmt.Errorf("the KMS holds no Active or Deactivated key named %q (kek_name)", s.cfg.KEKName)
	}
	mats, failed, err := s.getMaterial(ctx, c, []string{uid}, &st)
	if err != nil {
		return nil, err
	}
	if ferr := failed[uid]; ferr != nil {
		return nil, fmt.Errorf("key-encryption key %q: %w", s.cfg.KEKName, ferr)
	}
	m := mats[uid]
	if len(m) != kek.Size {
		clear(m)
		return nil, fmt.Errorf("key-encryption key %q is %d bits; it must be a 256-bit AES key", s.cfg.KEKName, 8*len(m))
	}
	s.kekUID = uid
	return kek.New(m) // zeroes m
}
