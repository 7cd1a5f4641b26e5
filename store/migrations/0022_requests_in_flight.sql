-- A state-changing socket request is noted here, durably, before its
-- handler runs, and the note is removed in the transaction that writes the
-- request's activity events. A note left over is a request the daemon
-- stopped inside (kill -9, power loss): the next start turns each into one
-- activity event naming the caller, outcome unknown, in the transaction
-- that removes it. Who asked, what and when only: never a body.
CREATE TABLE requests_in_flight (
    id      TEXT PRIMARY KEY,
    time    INTEGER NOT NULL,
    caller  TEXT NOT NULL,
    uid     INTEGER NOT NULL,
    role    TEXT NOT NULL,
    method  TEXT NOT NULL,
    pattern TEXT NOT NULL,
    path    TEXT NOT NULL
);
