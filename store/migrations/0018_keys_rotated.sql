-- When a key was last rotated (its current material or version made), for
-- cloud keys that rotate themselves: rotation aging counts from it, and
-- from the creation when it is NULL (engine.Key.AgedFrom). The aging
-- report's rotation-due milestones walk these indexes in date order.
ALTER TABLE keys ADD COLUMN rotated INTEGER;
DROP INDEX keys_by_rotation_override;
CREATE INDEX keys_by_rotation_override ON keys(coalesce(rotated, created) + rotate_after, id)
    WHERE rotate_after > 0 AND coalesce(rotated, created) IS NOT NULL;
CREATE INDEX keys_by_aged_from ON keys(coalesce(rotated, created, 9223372036854775807), id);
