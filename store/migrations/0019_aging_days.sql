-- Aging buckets counted without a scan. The bucket of a key moves with the
-- clock, so the counts themselves cannot be kept; the dates that decide
-- them can. aging_days holds, per source and UTC day, how many usable keys
-- (not retired) have a date of each kind on that day:
--   kind 0: the expiry (expired and expiring-Nd are ranges of it);
--   kind 1: the day the key becomes rotation-overdue (its rotation due);
--   kind 2: the day it stops being rotation-overdue because it enters the
--           largest expiring window (expires - that window).
-- A bucket's count at any instant is then a sum over whole days plus an
-- exact count of the keys whose date falls in the partial hour at its edge
-- (store.AgingCountsKept). Kinds 1 and 2 depend on the default rotation
-- period and the largest window, recorded in aging_params: a daemon
-- started with other thresholds rebuilds the table (store.PrepareAging).
-- The triggers on keys that keep it are created by this migration's Go
-- step (store/aging.go), which writes them and the build from one template.
CREATE TABLE aging_params (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    period          INTEGER NOT NULL, -- default rotation period, ms (0: none)
    expiring_window INTEGER NOT NULL  -- the largest expiring window, ms (0: none)
);
INSERT INTO aging_params (id, period, expiring_window) VALUES (1, 31536000000, 7776000000);

-- Kinds 3, 4 and 5 count the same dates per block of 64 days, kinds 6, 7
-- and 8 per hour (unit is then the block's or the hour's number), so a sum
-- over everything before an instant reads a few dozen blocks, the days of
-- one block and the hours of one day, and only the keys of one hour are
-- counted one by one.
CREATE TABLE aging_days (
    kind   INTEGER NOT NULL,
    unit   INTEGER NOT NULL, -- kinds 0-2: Unix day (UTC), floor(ms / 86400000)
    source TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (kind, unit, source)
) WITHOUT ROWID;
