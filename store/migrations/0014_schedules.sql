-- Schedules (issue 15): what runs by itself, each run written before it
-- starts and finished after, and each key's step of a run recorded before
-- and after its remote call, so a restarted daemon resumes a run without
-- doing anything twice.
CREATE TABLE schedules (
	name     TEXT PRIMARY KEY,
	spec     TEXT NOT NULL,              -- schedule.Spec as JSON
	origin   TEXT NOT NULL,              -- config | api
	paused   INTEGER NOT NULL DEFAULT 0,
	next_due INTEGER,                    -- the next nominal occurrence (ms); NULL: none left
	created  INTEGER NOT NULL,
	updated  INTEGER NOT NULL
);

CREATE TABLE schedule_runs (
	id       INTEGER PRIMARY KEY,
	schedule TEXT NOT NULL,
	due      INTEGER NOT NULL,           -- the occurrence it runs (ms); a manual run: when it was asked
	trigger  TEXT NOT NULL,              -- schedule | manual
	actor    TEXT NOT NULL,
	started  INTEGER NOT NULL,
	finished INTEGER,
	status   TEXT NOT NULL,              -- running | done | partial | failed | skipped
	late     INTEGER NOT NULL DEFAULT 0, -- started after a missed occurrence (the daemon was down)
	resumed  INTEGER NOT NULL DEFAULT 0, -- taken up again after the daemon stopped in the middle
	summary  TEXT NOT NULL DEFAULT ''
);
-- One run of an occurrence, ever.
CREATE UNIQUE INDEX schedule_runs_once ON schedule_runs(schedule, due) WHERE trigger = 'schedule';
-- Runs of one schedule never overlap.
CREATE UNIQUE INDEX schedule_runs_one_running ON schedule_runs(schedule) WHERE status = 'running';
CREATE INDEX schedule_runs_by_schedule ON schedule_runs(schedule, id);

CREATE TABLE schedule_steps (
	run     INTEGER NOT NULL REFERENCES schedule_runs(id) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,           -- the order the run takes its targets in
	target  TEXT NOT NULL,              -- a cloud key (source/name), a KMIP application (source/app), a source, a report
	key_id  TEXT NOT NULL DEFAULT '',   -- the inventory key that selected it
	status  TEXT NOT NULL,              -- pending | calling | done | skipped | failed
	before  TEXT NOT NULL DEFAULT '',   -- the target's version before the remote call
	after   TEXT NOT NULL DEFAULT '',
	reason  TEXT NOT NULL DEFAULT '',
	updated INTEGER NOT NULL,
	PRIMARY KEY (run, target)
) WITHOUT ROWID;
