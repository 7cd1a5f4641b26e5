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

// migrateSortDisplay writes sort_name again for the keys whose display name
// is not their name (those with an alias tag); the others' is unchanged.
func migrateSortDisplay(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, name, tags, sort_name FROM keys WHERE tags LIKE ?`, `%"`+engine.TagAliases+`"%`)
	if err != nil {
		return err
	}
	type change struct{ id, sortName string }
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
		if v := sortName(k); v != old {
			changes = append(changes, change{k.ID, v})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range changes {
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET sort_name = ? WHERE id = ?`, c.sortName, c.id); err != nil {
			return err
		}
	}
	return nil
}
