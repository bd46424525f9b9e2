-- Initial schema: tasks, one row per (task, device), the devices' installed
-- versions, and the history of accepted transitions.
--
-- Versions are stored as JSON text (1.2 or "1.2") so that a push repeats the
-- type the operator wrote. Times are milliseconds since the Unix epoch.

CREATE TABLE task (
	id INTEGER PRIMARY KEY,
	name TEXT,
	version TEXT NOT NULL,
	url TEXT NOT NULL,
	extra TEXT,                        -- JSON object added to pushes
	leading_slash INTEGER NOT NULL,    -- topic form of the task's messages
	origin TEXT NOT NULL,              -- 'set' (observed) or 'api'
	state TEXT NOT NULL,               -- scheduled, running, finished, ...
	timeout_s INTEGER NOT NULL,        -- 0: no timeout
	max_retries INTEGER NOT NULL DEFAULT 0,
	retry_delay_s INTEGER NOT NULL DEFAULT 60,
	max_concurrent INTEGER NOT NULL DEFAULT 0,   -- 0: no limit
	abort_failure_percent INTEGER NOT NULL DEFAULT 0, -- 0: never abort
	abort_min_finished INTEGER NOT NULL DEFAULT 0,
	start_at INTEGER,
	end_at INTEGER,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE task_device (
	task_id INTEGER NOT NULL REFERENCES task(id) ON DELETE CASCADE,
	serial TEXT NOT NULL,
	status INTEGER NOT NULL,
	progress INTEGER NOT NULL DEFAULT 0,
	reason INTEGER NOT NULL DEFAULT 0,
	message TEXT,
	attempts INTEGER NOT NULL DEFAULT 0,
	announced INTEGER NOT NULL DEFAULT 0,
	due_at INTEGER,                    -- timeout or retry deadline
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (task_id, serial)
) WITHOUT ROWID;

-- The tick reads only rows whose deadline has come.
CREATE INDEX task_device_due ON task_device(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX task_device_serial ON task_device(serial);
CREATE INDEX task_device_status ON task_device(task_id, status);

CREATE TABLE device (
	serial TEXT PRIMARY KEY,
	installed_version TEXT,            -- JSON text, as last reported
	leading_slash INTEGER,             -- topic form the device last used
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE history (
	id INTEGER PRIMARY KEY,
	task_id INTEGER NOT NULL,
	serial TEXT NOT NULL,
	status INTEGER NOT NULL,
	progress INTEGER,
	message TEXT,
	at INTEGER NOT NULL
);

CREATE INDEX history_device ON history(serial, id);
CREATE INDEX history_task ON history(task_id, id);
