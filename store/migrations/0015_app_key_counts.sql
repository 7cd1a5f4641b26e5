-- Keys of applications per application, source and state, kept by triggers
-- as the inventory changes, so the usage report's count of unused keys reads
-- a few rows instead of loading every key of every application (it grew
-- linearly with the inventory: 0.6-0.8 s at a million keys).
CREATE TABLE app_key_counts (
	application TEXT NOT NULL,
	source      TEXT NOT NULL,
	state       TEXT NOT NULL,
	n           INTEGER NOT NULL,
	PRIMARY KEY (application, source, state)
) WITHOUT ROWID;

INSERT INTO app_key_counts (application, source, state, n)
	SELECT application, source, state, count(*) FROM keys WHERE application != '' GROUP BY application, source, state;

CREATE TRIGGER app_key_counts_insert AFTER INSERT ON keys WHEN new.application != '' BEGIN
	INSERT INTO app_key_counts (application, source, state, n) VALUES (new.application, new.source, new.state, 1)
		ON CONFLICT (application, source, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER app_key_counts_delete AFTER DELETE ON keys WHEN old.application != '' BEGIN
	UPDATE app_key_counts SET n = n - 1 WHERE application = old.application AND source = old.source AND state = old.state;
	DELETE FROM app_key_counts WHERE application = old.application AND source = old.source AND state = old.state AND n <= 0;
END;

-- An upsert sets every column; only a real move counts.
CREATE TRIGGER app_key_counts_update AFTER UPDATE OF application, source, state ON keys
	WHEN old.application IS NOT new.application OR old.source IS NOT new.source OR old.state IS NOT new.state BEGIN
	UPDATE app_key_counts SET n = n - 1 WHERE old.application != ''
		AND application = old.application AND source = old.source AND state = old.state;
	DELETE FROM app_key_counts WHERE old.application != ''
		AND application = old.application AND source = old.source AND state = old.state AND n <= 0;
	INSERT INTO app_key_counts (application, source, state, n) SELECT new.application, new.source, new.state, 1 WHERE new.application != ''
		ON CONFLICT (application, source, state) DO UPDATE SET n = n + 1;
END;
