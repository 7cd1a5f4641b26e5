package cloud

import (
	"context"
	"fmt"
)

// Current returns a key's current version as its vault reports it now
// (reading: no role needed). A schedule records it before rotating the key
// and compares after a restart, to tell whether its rotation was made.
func (m *Manager) Current(ctx context.Context, source, name string) (KeyVersion, error) {
	s, err := m.source(source, "")
	if err != nil {
		return KeyVersion{}, err
	}
	kv, err := s.Connector().Get(ctx, name, "")
	if err != nil {
		return kv, fmt.Errorf("read %s in %s: %w", name, source, err)
	}
	return kv, nil
}

// RotationMark is what tells rotations of a key apart beyond its current
// version, for connectors whose rotation shows late (RotationTracker;
// "" for the others, whose current version changes with the call).
func (m *Manager) RotationMark(ctx context.Context, source, name string) (string, error) {
	s, err := m.source(source, "")
	if err != nil {
		return "", err
	}
	rt, ok := s.Connector().(RotationTracker)
	if !ok {
		return "", nil
	}
	mark, err := rt.RotationMark(ctx, name)
	if err != nil {
		return "", fmt.Errorf("read the rotations of %s in %s: %w", name, source, err)
	}
	return mark, nil
}

// Capable says whether source is a cloud source of this manager (known)
// and whether its connector declares capability.
func (m *Manager) Capable(source, capability string) (known, capable bool) {
	m.mu.RLock()
	s, ok := m.sources[source]
	m.mu.RUnlock()
	if !ok {
		return false, false
	}
	return true, s.Connector().Capabilities().Has(capability)
}
