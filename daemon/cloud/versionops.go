package cloud

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/engine"
)

// VersionDestroyer is implemented by a connector whose cloud deletes one
// version of a key, not only the whole key (Google Cloud KMS schedules a
// version's destruction and restores it). The connector declares it as
// engine.CapVersionDelete and engine.CapVersionRecover; without those,
// delete and recover with a version are refused as unsupported.
type VersionDestroyer interface {
	// DeleteVersion schedules one version's destruction (or soft-deletes
	// it); the answer is that version.
	DeleteVersion(ctx context.Context, name, version string) (KeyVersion, error)
	// RecoverVersion brings one deleted version back.
	RecoverVersion(ctx context.Context, name, version string) (KeyVersion, error)
}

func (m *Manager) versionDestroyer(source, capability, op, name string) (*SyncSource, VersionDestroyer, error) {
	s, err := m.source(source, "")
	if err != nil {
		return nil, nil, err
	}
	vd, ok := s.Connector().(VersionDestroyer)
	if !ok || !s.Connector().Capabilities().Has(capability) {
		return nil, nil, &Error{Kind: ErrUnsupported, Op: op + " " + name,
			Reason: fmt.Sprintf("%s source %q deletes and recovers whole keys, not single versions (leave out the version)", s.Kind(), source)}
	}
	return s, vd, nil
}

// DeleteVersion deletes one version of a key (Google: schedules its
// destruction); confirmName must repeat the key's name.
func (m *Manager) DeleteVersion(ctx context.Context, caller Caller, source, name, version, confirmName string) (*KeyResult, error) {
	s, vd, err := m.versionDestroyer(source, engine.CapVersionDelete, "delete a version of", name)
	if err != nil {
		return nil, err
	}
	if err := confirm("delete", name, confirmName); err != nil {
		return nil, err
	}
	return m.apply(ctx, caller, s, "delete version "+version+" of "+name, name, func(Connector) (change, error) {
		kv, err := vd.DeleteVersion(ctx, name, version)
		return change{op: engine.OpDeleted, severity: engine.SeverityWarn, details: "version " + version + " deleted via keyward" + purgeNote(kv), keyID: engine.KeyID(source, name, version), recovered: kv.Recovered}, err
	})
}

// RecoverVersion brings one deleted version of a key back.
func (m *Manager) RecoverVersion(ctx context.Context, caller Caller, source, name, version string) (*KeyResult, error) {
	s, vd, err := m.versionDestroyer(source, engine.CapVersionRecover, "recover a version of", name)
	if err != nil {
		return nil, err
	}
	return m.apply(ctx, caller, s, "recover version "+version+" of "+name, name, func(Connector) (change, error) {
		kv, err := vd.RecoverVersion(ctx, name, version)
		return change{op: engine.OpRecovered, severity: engine.SeverityInfo, details: "version " + version + " recovered via keyward", keyID: engine.KeyID(source, name, version), recovered: kv.Recovered}, err
	})
}

// PrimaryMaker is implemented by a connector whose keys have a primary
// version, the one that encrypts, that can be chosen (Google Cloud KMS
// symmetric keys); it declares engine.CapVersionPrimary.
type PrimaryMaker interface {
	// MakePrimary makes version the primary of the key; the answer is
	// that version.
	MakePrimary(ctx context.Context, name, version string) (KeyVersion, error)
	// PrimaryTag is the tag set to "true" on the primary version's row,
	// announced so front ends can show which version is the primary.
	PrimaryTag() string
}

// MakePrimary makes one version of a key its primary (the one new data is
// encrypted with).
func (m *Manager) MakePrimary(ctx context.Context, caller Caller, source, name, version string) (*KeyResult, error) {
	op := "make version " + version + " of " + name + " primary"
	if version == "" {
		op = "make a version of " + name + " primary"
		return nil, &Error{Kind: ErrInvalid, Op: op, Reason: `name the version to make primary ("version": "N")`}
	}
	s, err := m.source(source, "")
	if err != nil {
		return nil, err
	}
	pm, ok := s.Connector().(PrimaryMaker)
	if !ok || !s.Connector().Capabilities().Has(engine.CapVersionPrimary) {
		return nil, &Error{Kind: ErrUnsupported, Op: op,
			Reason: fmt.Sprintf("%s source %q has no primary version to choose (its newest version is the one in use)", s.Kind(), source)}
	}
	if _, err := pm.MakePrimary(ctx, name, version); err != nil {
		return nil, fmt.Errorf("make version %s of %s in %s primary: %w", version, name, source, err)
	}
	ev := m.event(caller, engine.OpEdited, engine.SeverityInfo, "version "+version+" made primary via keyward")
	ev.KeyID = engine.KeyID(source, name, version)
	return m.recorded(ctx, s, name, nil, false, ev)
}
