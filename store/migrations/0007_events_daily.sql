-- Activity per day, kept by triggers, so the activity report's sparkline
-- reads one row per day and group instead of every event of the range.
CREATE TABLE events_daily (
    day       INTEGER NOT NULL, -- Unix day (UTC)
    source    TEXT    NOT NULL,
    origin    TEXT    NOT NULL,
    operation TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (day, source, origin, operation)
) WITHOUT ROWID;
CREATE TRIGGER events_daily_ai AFTER INSERT ON events BEGIN
    INSERT INTO events_daily (day, source, origin, operation, count)
    VALUES (new.time / 86400000, new.source, new.origin, new.operation, 1)
    ON CONFLICT (day, source, origin, operation) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER events_daily_ad AFTER DELETE ON events BEGIN
    UPDATE events_daily SET count = count - 1
    WHERE day = old.time / 86400000 AND source = old.source AND origin = old.origin AND operation = old.operation;
END;
INSERT INTO events_daily (day, source, origin, operation, count)
    SELECT time / 86400000, source, origin, operation, count(*) FROM events GROUP BY 1, 2, 3, 4;
-- The usage report's candidates: keys that belong to an application's ring.
CREATE INDEX keys_by_application ON keys(application, id) WHERE application != '';
