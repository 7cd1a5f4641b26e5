package cloud

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/engine"
)

// VersionDestroyer is implemented by a connector whose cloud deletes one
// version of a key, not only the whole key (Google Cloud KMS schedules a
// version's destruction and restores it). Without it, delete and recover
// with a version are refused as unsupported.
type VersionDestroyer interface {
	// DeleteVersion schedules one version's destruction (or soft-deletes
	// it); the answer is that version.
	DeleteVersion(ctx context.Context, name, version string) (KeyVersion, error)
	// RecoverVersion brings one deleted version back.
	RecoverVersion(ctx context.Context, name, version string) (KeyVersion, error)
}

func (m *Manager) versionDestroyer(source, capability, op, name string) (*SyncSource, VersionDestroyer, error) {
	s, err := m.source(source, capability)
	if err != nil {
		return nil, nil, err
	}
	vd, ok := s.Connector().(VersionDestroyer)
	if !ok {
		return nil, nil, &Error{Kind: ErrUnsupported, Op: op + " " + name,
			Reason: fmt.Sprintf("%s source %q deletes and recovers whole keys, not single versions (leave out the version)", s.Kind(), source)}
	}
	return s, vd, nil
}

// DeleteVersion deletes one version of a key (Google: schedules its
// destruction); confirmName must repeat the key's name.
func (m *Manager) DeleteVersion(ctx context.Context, caller Caller, source, name, version, confirmName string) (*KeyResult, error) {
	s, vd, err := m.versionDestroyer(source, engine.CapDelete, "delete a version of", name)
	if err != nil {
		return nil, err
	}
	if err := confirm("delete", name, confirmName); err != nil {
		return nil, err
	}
	kv, err := vd.DeleteVersion(ctx, name, version)
	if err != nil {
		return nil, fmt.Errorf("delete version %s of %s in %s: %w", version, name, source, err)
	}
	ev := m.event(caller, engine.OpDeleted, engine.SeverityWarn, "version "+version+" deleted via keyward"+purgeNote(kv))
	ev.KeyID = engine.KeyID(source, name, version)
	return m.recorded(ctx, s, name, nil, false, ev)
}

// RecoverVersion brings one deleted version of a key back.
func (m *Manager) RecoverVersion(ctx context.Context, caller Caller, source, name, version string) (*KeyResult, error) {
	s, vd, err := m.versionDestroyer(source, engine.CapRecover, "recover a version of", name)
	if err != nil {
		return nil, err
	}
	if _, err := vd.RecoverVersion(ctx, name, version); err != nil {
		return nil, fmt.Errorf("recover version %s of %s in %s: %w", version, name, source, err)
	}
	ev := m.event(caller, engine.OpRecovered, engine.SeverityInfo, "version "+version+" recovered via keyward")
	ev.KeyID = engine.KeyID(source, name, version)
	return m.recorded(ctx, s, name, nil, false, ev)
}
