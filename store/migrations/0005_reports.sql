-- Indexes for the Key Aging report: each dated milestone can be scanned in
-- date order, so the first page of the report reads only what it shows.
CREATE INDEX keys_by_deactivated ON keys(deactivated, id) WHERE deactivated IS NOT NULL;
CREATE INDEX keys_by_destroyed   ON keys(destroyed, id)   WHERE destroyed IS NOT NULL;
CREATE INDEX keys_by_deleted     ON keys(deleted, id)     WHERE deleted IS NOT NULL;
CREATE INDEX keys_by_purge_at    ON keys(purge_at, id)    WHERE purge_at IS NOT NULL;
CREATE INDEX keys_by_rotation_override ON keys(created + rotate_after, id) WHERE rotate_after > 0 AND created IS NOT NULL;
-- Activity per day and by origin (the comparison view).
CREATE INDEX events_by_origin ON events(origin, id);
