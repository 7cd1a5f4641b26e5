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
	store, _ := m.backups()
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
		ev := m.event(caller, engine.OpBackupDeleted, engine.SeverityWarn, fmt.Sprintf("backups of %s: kept the last %d copies kept at upload, deleted %s (a copy kept holds the same material)",
			name, keep, strings.Join(drop, ", ")))
		ev.KeyID, ev.Source = engine.KeyID(source, name, ""), source
		recorded, err := store.DeleteSealedRecorded(ctx, BackupKind, drop, ev)
		if err != nil {
			return fmt.Errorf("delete the copies %s of %s: %w", strings.Join(drop, ", "), name, err)
		}
		for _, id := range drop {
			ix.remove(id)
		}
		out.Deleted = drop
		if len(recorded) > 0 {
			out.Event = &recorded[0]
		}
		return nil
	})
	if errors.Is(err, errNoBackups) {
		return out, nil
	}
	return out, err
}
