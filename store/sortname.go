package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyward/keyward/engine"
)

// sortDisplayVersion is the migration from which sort_name is the display
// name's (sortName).
const sortDisplayVersion = 20

// displaySearchVersion is the migration from which display_name holds the
// display name of the keys shown by another name (displayName) and the
// "/" filter searches it.
const displaySearchVersion = 21

// allAliasesVersion is the migration from which display_name holds every
// alias of a key, not only its first (displayName).
const allAliasesVersion = 23

// migrateAllAliases writes display_name again for the keys with an alias
// tag: those with more than one alias gain the others.
func migrateAllAliases(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	return rewriteAliased(ctx, tx, "display_name", displayName)
}

// migrateSortDisplay writes sort_name again for the keys whose display name
// is not their name (those with an alias tag); the others' is unchanged.
func migrateSortDisplay(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	return rewriteAliased(ctx, tx, "sort_name", sortName)
}

// migrateDisplaySearch fills display_name for the keys with an alias tag
// (the others' stays ""); its trigger indexes them for the "/" filter.
func migrateDisplaySearch(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	return rewriteAliased(ctx, tx, "display_name", displayName)
}

// rewriteAliased sets column to value(key) for the keys with an alias tag,
// the only ones whose display name is not their name, where it differs.
func rewriteAliased(ctx context.Context, tx *sql.Tx, column string, value func(engine.Key) string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, name, tags, `+column+` FROM keys WHERE tags LIKE ?`, `%"`+engine.TagAliases+`"%`)
	if err != nil {
		return err
	}
	type change struct{ id, value string }
	var changes []change
	for rows.Next() {
		var k engine.Key
		var tags, old string
		if err := rows.Scan(&k.ID, &k.Name, &tags, &old); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(tags), &k.Tags); err != nil {
			rows.Close()
			return fmt.Errorf("key %s: tags: %w", k.ID, err)
		}
		if v := value(k); v != old {
			changes = append(changes, change{k.ID, v})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range changes {
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET `+column+` = ? WHERE id = ?`, c.value, c.id); err != nil {
			return err
		}
	}
	return nil
}
