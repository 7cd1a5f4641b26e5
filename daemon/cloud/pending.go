package cloud

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/engine"
)

// PendingKind is the sealed-blob kind of pending upload copies: material
// sealed under the KEK before it is imported into a cloud that cannot
// export it, so a crash between the import and keeping the key's backup
// never leaves material in the cloud that keyward holds no copy of.
const PendingKind = "cloud-upload-pending"

// pendingRecord is what is sealed under the KEK for one upload under way:
// the request and its material (raw symmetric bytes, or PKCS#8 DER).
type pendingRecord struct {
	Info      BackupInfo        `json:"info"`
	NotBefore *time.Time        `json:"not_before,omitempty"`
	Expires   *time.Time        `json:"expires,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
	Symmetric bool              `json:"symmetric,omitempty"`
	Material  []byte            `json:"material"`
}

func pendingAAD(id string) []byte { return []byte("keyward pending upload\x00" + id) }

// pendingSkew is how much earlier than the pending copy a key found in
// the cloud may say it was made or changed and still be the upload's
// (clocks of keyward and the cloud differ).
const pendingSkew = 5 * time.Minute

// holdPending seals ir's material as the pending copy of an upload to
// source, before the import; "" when backups are not configured.
func (m *Manager) holdPending(ctx context.Context, caller Caller, source string, conn Connector, ir ImportRequest) (string, error) {
	store, kek := m.backups()
	if store == nil || kek == nil {
		return "", nil
	}
	rec := pendingRecord{NotBefore: ir.NotBefore, Expires: ir.Expires, Tags: ir.Tags}
	if ir.Symmetric != nil {
		rec.Symmetric, rec.Material = true, append([]byte(nil), ir.Symmetric...)
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(ir.Private)
		if err != nil {
			return "", fmt.Errorf("keep a copy of the material before the upload: %w", err)
		}
		rec.Material = der
	}
	defer clear(rec.Material)
	now := m.Now().UTC()
	id := newBackupID(now)
	rec.Info = BackupInfo{ID: id, Source: source, Kind: conn.Kind(), Geography: conn.Geography(), Key: ir.Name,
		Created: now, Size: len(rec.Material), Actor: actor(caller)}
	plain, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	defer clear(plain)
	sealed, err := kek.Wrap(plain, pendingAAD(id))
	if err != nil {
		return "", fmt.Errorf("seal the pending copy under the KEK: %w", err)
	}
	m.mu.Lock()
	if m.uploading == nil {
		m.uploading = map[string]bool{}
	}
	m.uploading[id] = true
	m.mu.Unlock()
	if err := store.PutSealed(ctx, PendingKind, id, sealed); err != nil {
		m.settled(id)
		return "", fmt.Errorf("store the pending copy: %w", err)
	}
	return id, nil
}

// settled says the upload of pending copy id is no longer under way.
func (m *Manager) settled(id string) {
	m.mu.Lock()
	delete(m.uploading, id)
	m.mu.Unlock()
}

// dropPending removes a pending copy once the upload is settled (kept as
// the key's backup, or refused by the cloud).
func (m *Manager) dropPending(ctx context.Context, id string) error {
	store, _ := m.backups()
	if id == "" || store == nil {
		return nil
	}
	return store.DeleteSealed(ctx, PendingKind, id)
}

func openPending(kek Wrapper, id string, sealed []byte) (*pendingRecord, error) {
	return openSealed[pendingRecord](kek, "pending upload copy", id, pendingAAD(id), sealed)
}

// check says why a pending record opened as id is not that upload's.
func (rec *pendingRecord) check(id string) error {
	if rec.Info.ID != id || len(rec.Material) == 0 {
		return errors.New("the record is not this upload's")
	}
	return nil
}

// drop zeroes the record's material.
func (rec *pendingRecord) drop() { clear(rec.Material) }

// request rebuilds the import request of a pending copy; the caller
// zeroes the record's material and the request's private key.
func (rec *pendingRecord) request() (ImportRequest, error) {
	ir := ImportRequest{Name: rec.Info.Key, NotBefore: rec.NotBefore, Expires: rec.Expires, Tags: rec.Tags}
	if rec.Symmetric {
		ir.Symmetric = rec.Material
		return ir, nil
	}
	priv, err := x509.ParsePKCS8PrivateKey(rec.Material)
	if err != nil {
		return ir, fmt.Errorf("pending upload copy %s: the material is not a PKCS#8 private key", rec.Info.ID)
	}
	ir.Private = priv
	return ir, nil
}

// pendingNote is what an unresolved pending copy says in the backup list.
func pendingNote(rec *pendingRecord, why string) string {
	return fmt.Sprintf("pending: the upload of %s to %s was interrupted (%s); keyward holds the material sealed: "+
		"if the key is in the cloud, keyward keeps this copy as its backup at the next listing; if not, upload again and delete this entry (keyward key delete-backup %s)",
		rec.Info.Key, rec.Info.Source, why, rec.Info.ID)
}

// ResolvePending settles the pending upload copies a crash left: a copy
// whose key is now in the cloud, made or changed since the upload began,
// becomes that key's backup (KeepMaterial with the key as the cloud now
// describes it); the others stay, described, for Backups to list. Each
// outcome is recorded as an activity event on the source.
func (m *Manager) ResolvePending(ctx context.Context) ([]BackupInfo, error) {
	store, kek := m.backups()
	if store == nil || kek == nil {
		return nil, nil
	}
	m.resolving.Lock()
	defer m.resolving.Unlock()
	all, err := store.Sealed(ctx, PendingKind)
	if err != nil {
		return nil, fmt.Errorf("list pending uploads: %w", err)
	}
	var left []BackupInfo
	var errs []error
	for id, sealed := range all {
		m.mu.RLock()
		busy := m.uploading[id]
		m.mu.RUnlock()
		if busy {
			continue // an upload under way, not a crash's
		}
		rec, err := openPending(kek, id, sealed)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		info, err := m.resolve(ctx, rec)
		clear(rec.Material)
		if err != nil {
			errs = append(errs, err)
		}
		if info != nil {
			left = append(left, *info)
		}
	}
	newestFirst(left)
	return left, errors.Join(errs...)
}

// resolve settles one pending copy; it answers the copy's listing entry
// when it stays pending.
func (m *Manager) resolve(ctx context.Context, rec *pendingRecord) (*BackupInfo, error) {
	info := rec.Info
	caller := Caller{User: info.Actor}
	s, err := m.source(info.Source, "")
	if err != nil {
		info.Pending = pendingNote(rec, "its source is no longer configured")
		return &info, nil
	}
	conn := s.Connector()
	keeper, ok := conn.(MaterialKeeper)
	if !ok {
		info.Pending = pendingNote(rec, "its source no longer keeps uploaded material")
		return &info, nil
	}
	kv, err := conn.Get(ctx, info.Key, "")
	switch {
	case errors.Is(err, ErrNotFound):
		info.Pending = pendingNote(rec, "the key is not in "+info.Source)
		m.noteOnce(ctx, s, info)
		return &info, nil
	case err != nil:
		info.Pending = pendingNote(rec, "cannot tell whether the key reached "+info.Source+": "+err.Error())
		return &info, nil
	}
	since := info.Created.Add(-pendingSkew)
	if kv.Created.Before(since) && kv.Updated.Before(since) {
		info.Pending = pendingNote(rec, fmt.Sprintf("%s holds a key %s made %s, before the upload", info.Source, info.Key, kv.Created.UTC().Format(time.RFC3339)))
		m.noteOnce(ctx, s, info)
		return &info, nil
	}
	name := cmp.Or(kv.Name, info.Key)
	store, _ := m.backups()
	ir, err := rec.request()
	if err != nil {
		return nil, err
	}
	defer zeroPrivate(ir.Private)
	blob, err := keeper.KeepMaterial(kv, ir)
	if err != nil {
		info.Pending = pendingNote(rec, "keeping it as the key's backup failed: "+err.Error())
		return &info, nil
	}
	defer clear(blob)
	// A crash after the backup was kept and before the pending copy was
	// dropped: the backup is there already. Only a backup that holds this
	// very copy counts — a newer backup of the key (a later upload of
	// other material into a Google key) does not, or this material would
	// be left in the cloud alone.
	held, err := m.holds(ctx, info.Source, name, sha256.Sum256(blob))
	if err != nil {
		info.Pending = pendingNote(rec, "cannot tell whether keyward keeps it as a backup already: "+err.Error())
		return &info, nil
	}
	if held {
		return nil, store.DeleteSealed(ctx, PendingKind, info.ID)
	}
	b, err := m.sealBackup(ctx, caller, info.Source, conn, name, 1, blob)
	if err != nil {
		info.Pending = pendingNote(rec, "keeping it as the key's backup failed: "+err.Error())
		return &info, nil
	}
	if err := store.DeleteSealed(ctx, PendingKind, info.ID); err != nil {
		return nil, fmt.Errorf("drop pending upload copy %s: %w", info.ID, err)
	}
	m.note(ctx, s, name, engine.SeverityWarn, fmt.Sprintf("the upload of %s begun %s was interrupted after the key reached %s; keyward now keeps its sealed copy of the material as backup %s",
		info.Key, info.Created.Format(time.RFC3339), info.Source, b.ID))
	return nil, nil
}

// noteOnce records the warning of a pending copy left unsettled, once
// per manager (each listing settles again, and says nothing new).
func (m *Manager) noteOnce(ctx context.Context, s *SyncSource, info BackupInfo) {
	m.mu.Lock()
	done := m.noted[info.ID]
	if m.noted == nil {
		m.noted = map[string]bool{}
	}
	m.noted[info.ID] = true
	m.mu.Unlock()
	if !done {
		m.note(ctx, s, info.Key, engine.SeverityWarn, info.Pending)
	}
}

// note records an activity event of the upload recovery on a key (best
// effort: a source not running yet records nothing).
func (m *Manager) note(ctx context.Context, s *SyncSource, name string, sev engine.Severity, details string) {
	ev := m.event(Caller{User: "keyward"}, engine.OpUploaded, sev, details)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink != nil {
		_, _, _ = s.recordOnly(ctx, name, ev)
	}
}
