-- Keys per source and state, kept by triggers as the inventory changes, so
-- the status's counts and the totals of source/state filters read a few
-- rows instead of counting every key (a full count took seconds at a
-- million keys, and the first status after a start waited for it).
CREATE TABLE key_counts (
	source TEXT NOT NULL,
	state  TEXT NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (source, state)
) WITHOUT ROWID;

INSERT INTO key_counts (source, state, n) SELECT source, state, count(*) FROM keys GROUP BY source, state;

CREATE TRIGGER key_counts_insert AFTER INSERT ON keys BEGIN
	INSERT INTO key_counts (source, state, n) VALUES (new.source, new.state, 1)
		ON CONFLICT (source, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER key_counts_delete AFTER DELETE ON keys BEGIN
	UPDATE key_counts SET n = n - 1 WHERE source = old.source AND state = old.state;
	DELETE FROM key_counts WHERE source = old.source AND state = old.state AND n <= 0;
END;

-- An upsert sets every column; only a real move of source or state counts.
CREATE TRIGGER key_counts_update AFTER UPDATE OF source, state ON keys
	WHEN old.source IS NOT new.source OR old.state IS NOT new.state BEGIN
	UPDATE key_counts SET n = n - 1 WHERE source = old.source AND state = old.state;
	DELETE FROM key_counts WHERE source = old.source AND state = old.state AND n <= 0;
	INSERT INTO key_counts (source, state, n) VALUES (new.source, new.state, 1)
		ON CONFLICT (source, state) DO UPDATE SET n = n + 1;
END;
