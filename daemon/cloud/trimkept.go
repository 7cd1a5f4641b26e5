package cloud

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/engine"
)

// Trimmed is what TrimKept did to one key's copies kept at upload.
type Trimmed struct {
	// Deleted are the copies deleted: each restored exactly what a copy
	// that stays restores.
	Deleted []string
	// Only are the copies older than the newest keep that stay because
	// no other copy holds their material: restoring it needs them.
	Only []string
	// Event is the backup-deleted event recorded with the deletions (in
	// their transaction), when there were any: the caller publishes it.
	Event *engine.Event
}

// TrimKept applies a schedule's "keep the newest keep" to the copies of
// key name in source kept at upload, for a cloud that cannot export key
// material (a MaterialKeeper: AWS, Google), where those copies are the
// key's backups. The newest keep copies stay; an older one is deleted
// only when a copy that stays restores exactly the same thing (the same
// sealed content: key, material and settings, compared by the digest the
// backup index took when it opened or stored the copy), so every material
// keyward uploaded stays restorable whatever keep says — a copy that is
// the only one of its material (a Google key's older uploaded version)
// stays and is named in Only. A cloud that exports keys (its backups are
// the schedule's own, trimmed by it) is left alone. The copies are
// compared and deleted under the backup index's lock, so no other
// deletion or new backup interleaves. The deletions and the backup-deleted
// event that records them (done by caller) are one store transaction: a
// kill leaves every copy and no event, or the copies deleted and the event
// naming them.
func (m *Manager) TrimKept(ctx context.Context, caller Caller, source, name string, keep int) (Trimmed, error) {
	var out Trimmed
	s, err := m.source(source, "")
	if err != nil {
		return out, err
	}
	if _, ok := s.Connector().(MaterialKeeper); !ok || keep < 1 {
		return out, nil
	}
	err = m.indexed(ctx, func(ix *backupIndex) error {
		var copies []BackupInfo
		for id := range ix.byKey[keyOf(source, name)] {
			copies = append(copies, ix.byID[id])
		}
		if len(copies) <= keep {
			return nil
		}
		newestFirst(copies)
		staying := map[[32]byte]bool{}
		var drop []string
		for i, b := range copies {
			sum := ix.sums[b.ID]
			if i < keep || !staying[sum] {
				if i >= keep {
					out.Only = append(out.Only, b.ID)
				}
				staying[sum] = true
				continue
			}
			drop = append(drop, b.ID)
		}
		if len(drop) == 0 {
			return nil
		}
		ev, err := m.deleteRecorded(ctx, ix, caller, source, name, drop,
			fmt.Sprintf("kept the last %d copies kept at upload, deleted %s (a copy kept holds the same material)", keep, strings.Join(drop, ", ")))
		if err != nil {
			return fmt.Errorf("delete the copies %s of %s: %w", strings.Join(drop, ", "), name, err)
		}
		out.Deleted, out.Event = drop, ev
		return nil
	})
	if errors.Is(err, errNoBackups) {
		return out, nil
	}
	return out, err
}

// DeleteBackups deletes the backups ids of the key name in source (a
// schedule's older ones, past its keep) and records one backup-deleted
// event naming them, with why, in one store transaction: a kill leaves
// every backup and no event, or the backups gone and the event. Backups
// already gone are left out; the answer is the event recorded, nil when
// nothing was deleted.
func (m *Manager) DeleteBackups(ctx context.Context, caller Caller, source, name string, ids []string, why string) (*engine.Event, error) {
	var ev *engine.Event
	err := m.indexed(ctx, func(ix *backupIndex) error {
		var drop []string
		for _, id := range ids {
			if _, ok := ix.byID[id]; ok {
				drop = append(drop, id)
			}
		}
		if len(drop) == 0 {
			return nil
		}
		var err error
		ev, err = m.deleteRecorded(ctx, ix, caller, source, name, drop, why+", deleted "+strings.Join(drop, ", "))
		if err != nil {
			return fmt.Errorf("delete the backups %s of %s: %w", strings.Join(drop, ", "), name, err)
		}
		return nil
	})
	if errors.Is(err, errNoBackups) {
		return nil, fmt.Errorf("delete the backups of %s: %w", name, ErrNotFound)
	}
	return ev, err
}

// deleteRecorded deletes the backups drop of the key name in source and
// records their backup-deleted event (details after "backups of NAME: ")
// in one transaction, then drops them from the index ix (its lock held).
func (m *Manager) deleteRecorded(ctx context.Context, ix *backupIndex, caller Caller, source, name string, drop []string, details string) (*engine.Event, error) {
	store, _ := m.backups()
	ev := m.event(caller, engine.OpBackupDeleted, engine.SeverityWarn, "backups of "+name+": "+details)
	ev.KeyID, ev.Source = engine.KeyID(source, name, ""), source
	recorded, err := store.DeleteSealedRecorded(ctx, BackupKind, drop, ev)
	if err != nil {
		return nil, err
	}
	for _, id := range drop {
		ix.remove(id)
	}
	if len(recorded) == 0 {
		return nil, nil
	}
	return &recorded[0], nil
}
