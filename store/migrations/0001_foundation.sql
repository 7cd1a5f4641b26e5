-- Sources, the key inventory and the activity log.
CREATE TABLE sources (
    name      TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    address   TEXT NOT NULL DEFAULT '',
    health    TEXT NOT NULL DEFAULT 'unknown',
    since     INTEGER,
    reason    TEXT NOT NULL DEFAULT '',
    last_sync INTEGER
);

-- One row per key version. Times are Unix milliseconds (UTC). Never key material.
CREATE TABLE keys (
    id           TEXT PRIMARY KEY,
    source       TEXT NOT NULL REFERENCES sources(name) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    sort_name    TEXT NOT NULL,
    version      TEXT NOT NULL DEFAULT '',
    algorithm    TEXT NOT NULL DEFAULT '',
    length       INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL,
    application  TEXT NOT NULL DEFAULT '',
    fingerprint  TEXT NOT NULL DEFAULT '',
    created      INTEGER,
    activated    INTEGER,
    expires      INTEGER,
    deactivated  INTEGER,
    destroyed    INTEGER,
    deleted      INTEGER,
    purge_at     INTEGER,
    rotate_after INTEGER NOT NULL DEFAULT 0,
    tags         TEXT NOT NULL DEFAULT '',
    linked_to    TEXT NOT NULL DEFAULT '',
    updated      INTEGER NOT NULL
);
CREATE INDEX keys_by_name    ON keys(sort_name, id);
CREATE INDEX keys_by_source  ON keys(source, sort_name, id);
CREATE INDEX keys_by_state   ON keys(state, id);
CREATE INDEX keys_by_created ON keys(coalesce(created, 9223372036854775807), id);
CREATE INDEX keys_by_expires ON keys(coalesce(expires, 9223372036854775807), id);

CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    time      INTEGER NOT NULL,
    key_id    TEXT NOT NULL DEFAULT '',
    source    TEXT NOT NULL DEFAULT '',
    operation TEXT NOT NULL,
    actor     TEXT NOT NULL,
    origin    TEXT NOT NULL,
    severity  TEXT NOT NULL DEFAULT 'info',
    details   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_by_time ON events(time, id);
CREATE INDEX events_by_key  ON events(key_id, time);
