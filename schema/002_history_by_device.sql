-- History keyed by device: one B-tree insert per transition instead of a
-- table insert plus two index inserts, because every accepted reply adds a
-- history row. The id is the plugin's own counter, increasing within a
-- device, so getDevice still reads a device's history newest first. A
-- task's history is deleted through its rows' serial numbers.

CREATE TABLE history_by_device (
	serial TEXT NOT NULL,
	id INTEGER NOT NULL,
	task_id INTEGER NOT NULL,
	status INTEGER NOT NULL,
	progress INTEGER,
	message TEXT,
	at INTEGER NOT NULL,
	PRIMARY KEY (serial, id)
) WITHOUT ROWID;

INSERT INTO history_by_device (serial, id, task_id, status, progress, message, at)
	SELECT serial, id, task_id, status, progress, message, at FROM history;

DROP TABLE history;
ALTER TABLE history_by_device RENAME TO history;
