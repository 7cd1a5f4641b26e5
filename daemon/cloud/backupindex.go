package cloud

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// backupIndex is what the manager knows of the stored backups without
// opening them again: each one's description (never its material), by ID
// and by key. It is read from the store once (each sealed backup opened
// once, its material zeroed) and kept up to date by the manager's own
// writes, so a schedule's check of one key's backups is one lookup
// instead of opening every stored backup. The store stays the truth: a
// new manager, or a new store (SetBackups), reads it again.
type backupIndex struct {
	mu     sync.Mutex
	loaded bool
	byID   map[string]BackupInfo
	byKey  map[string]map[string]bool // source\x00key → IDs
	broken map[string]error           // backups that do not open, by ID
	// sums is what each backup restores, as the SHA-256 of its blob
	// (never the blob): two backups of one key with the same sum restore
	// the same thing (TrimKept).
	sums map[string][32]byte
}

func keyOf(source, key string) string { return source + "\x00" + key }

// load reads the store once; the caller holds ix.mu.
func (ix *backupIndex) load(ctx context.Context, store SealedStore, kek Wrapper) error {
	if ix.loaded {
		return nil
	}
	all, err := store.Sealed(ctx, BackupKind)
	if err != nil {
		return fmt.Errorf("list backups: %w", err)
	}
	ix.byID, ix.byKey, ix.broken, ix.sums = map[string]BackupInfo{}, map[string]map[string]bool{}, map[string]error{}, map[string][32]byte{}
	ix.loaded = true
	for id, sealed := range all {
		rec, err := openBackup(kek, id, sealed)
		if err != nil {
			ix.broken[id] = err
			continue
		}
		sum := sha256.Sum256(rec.Blob)
		clear(rec.Blob)
		ix.add(rec.Info, sum)
	}
	return nil
}

func (ix *backupIndex) add(b BackupInfo, sum [32]byte) {
	if !ix.loaded {
		return // read whole at first use
	}
	ix.byID[b.ID] = b
	ix.sums[b.ID] = sum
	k := keyOf(b.Source, b.Key)
	if ix.byKey[k] == nil {
		ix.byKey[k] = map[string]bool{}
	}
	ix.byKey[k][b.ID] = true
}

func (ix *backupIndex) remove(id string) {
	delete(ix.broken, id)
	delete(ix.sums, id)
	b, ok := ix.byID[id]
	if !ok {
		return
	}
	delete(ix.byID, id)
	k := keyOf(b.Source, b.Key)
	delete(ix.byKey[k], id)
	if len(ix.byKey[k]) == 0 {
		delete(ix.byKey, k)
	}
}

func (ix *backupIndex) reset() {
	ix.mu.Lock()
	ix.loaded, ix.byID, ix.byKey, ix.broken, ix.sums = false, nil, nil, nil, nil
	ix.mu.Unlock()
}

// newestFirst sorts backups newest first (ties: the greater ID first).
func newestFirst(out []BackupInfo) {
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID > out[j].ID
	})
}

// errNoBackups says backups are not configured (no store or no KEK).
var errNoBackups = errors.New("backups need keys.kek_file in keyward.toml")

// indexed runs fn on the loaded index (errNoBackups when backups are not
// configured).
func (m *Manager) indexed(ctx context.Context, fn func(ix *backupIndex) error) error {
	store, kek := m.backups()
	if store == nil || kek == nil {
		return errNoBackups
	}
	ix := &m.bidx
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ix.load(ctx, store, kek); err != nil {
		return err
	}
	return fn(ix)
}

// brokenErr joins why the backups that do not open do not.
func (ix *backupIndex) brokenErr() error {
	var errs []error
	for _, err := range ix.broken {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// BackupsOf lists the stored backups of one key, newest first: one lookup
// in the manager's index, whatever the number of backups stored.
func (m *Manager) BackupsOf(ctx context.Context, source, key string) ([]BackupInfo, error) {
	var out []BackupInfo
	err := m.indexed(ctx, func(ix *backupIndex) error {
		for id := range ix.byKey[keyOf(source, key)] {
			out = append(out, ix.byID[id])
		}
		return nil
	})
	if errors.Is(err, errNoBackups) {
		return nil, nil
	}
	newestFirst(out)
	return out, err
}

// holds says whether a stored backup of the key restores exactly blob, by
// its SHA-256 (the digest the index took of each backup).
func (m *Manager) holds(ctx context.Context, source, key string, sum [32]byte) (bool, error) {
	found := false
	err := m.indexed(ctx, func(ix *backupIndex) error {
		for id := range ix.byKey[keyOf(source, key)] {
			if s, ok := ix.sums[id]; ok && s == sum {
				found = true
			}
		}
		return nil
	})
	return found, err
}
