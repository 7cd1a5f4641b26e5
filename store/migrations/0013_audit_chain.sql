-- The tamper-evident activity log (issue 17). Every event gets its place in
-- a hash chain: seq (1, 2, 3, … with no gaps), prev (the hash of the event
-- before it) and hash (audit.Link over seq, prev and the event's canonical
-- encoding). The Go half of this migration (store/audit.go, chainLegacy)
-- chains the events already here, in the order they were written, in this
-- same transaction.
ALTER TABLE events ADD COLUMN seq  INTEGER;
ALTER TABLE events ADD COLUMN prev BLOB;
ALTER TABLE events ADD COLUMN hash BLOB;
CREATE UNIQUE INDEX events_by_seq ON events(seq);

-- The chain's head and what the log vouches for.
CREATE TABLE audit_head (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    seq           INTEGER NOT NULL,           -- the last event's seq (0: none yet)
    hash          BLOB    NOT NULL,           -- its hash (32 zero bytes: none yet)
    last_id       INTEGER NOT NULL,           -- the last event id given (ids are never reused, even after pruning)
    chained_at    INTEGER NOT NULL,           -- when this migration ran (Unix ms)
    chained_upto  INTEGER NOT NULL,           -- events up to this seq were chained by the migration, not as they were written
    archived_seq  INTEGER NOT NULL DEFAULT 0, -- events up to this seq are in archive segments
    archived_hash BLOB    NOT NULL            -- the hash of event archived_seq (zero bytes: none)
);
INSERT INTO audit_head (id, seq, hash, last_id, chained_at, chained_upto, archived_hash)
    VALUES (1, 0, zeroblob(32), 0, 0, 0, zeroblob(32));

-- Signed checkpoints: the note (golang.org/x/mod/sumdb/note) as written.
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY, -- events in the chain (the seq of its last event)
    head BLOB    NOT NULL,
    time INTEGER NOT NULL,    -- Unix ms
    note TEXT    NOT NULL
);

-- Archive segments written before events were pruned.
CREATE TABLE audit_archives (
    name       TEXT PRIMARY KEY,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    last_hash  BLOB    NOT NULL,
    created    INTEGER NOT NULL
);

-- The chain cannot be bypassed by this program: an event is inserted only
-- as the head's successor (insertEvents computes it), never changed, and
-- deleted only once archived. (Whoever can edit the file can drop these
-- triggers too: that is what the hashes and the signed checkpoints catch.)
CREATE TRIGGER events_chain_bi BEFORE INSERT ON events
WHEN new.seq IS NOT (SELECT seq + 1 FROM audit_head) OR new.prev IS NOT (SELECT hash FROM audit_head)
     OR length(new.hash) IS NOT 32 OR new.id IS NOT (SELECT last_id + 1 FROM audit_head)
BEGIN
    SELECT RAISE(ABORT, 'activity events are written only through the audit chain');
END;
CREATE TRIGGER events_chain_ai AFTER INSERT ON events BEGIN
    UPDATE audit_head SET seq = new.seq, hash = new.hash, last_id = new.id;
END;
CREATE TRIGGER events_chain_bu BEFORE UPDATE ON events WHEN old.seq IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'activity events cannot be changed');
END;
CREATE TRIGGER events_chain_bd BEFORE DELETE ON events
WHEN old.seq IS NULL OR old.seq > (SELECT archived_seq FROM audit_head) BEGIN
    SELECT RAISE(ABORT, 'an activity event is deleted only after it is archived');
END;
