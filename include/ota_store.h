/*
 * SQLite store for tasks, (task, device) rows, devices and history. One
 * handle keeps the connection and every prepared statement; no SQL text is
 * built from message content. The schema is applied as numbered migrations
 * keyed by PRAGMA user_version.
 *
 * Calls return OTA_STORE_OK, OTA_STORE_NOT_FOUND or OTA_STORE_ERROR; after
 * an error, ota_store_error() returns the database path and SQLite's cause.
 */
#ifndef OTA_STORE_H
#define OTA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ota_protocol.h"
#include "ota_state.h"

enum {
	OTA_STORE_OK = 0,
	OTA_STORE_NOT_FOUND = 1,
	OTA_STORE_ERROR = -1,
};

enum ota_durability {
	OTA_DURABILITY_SYNC,  /* WAL, synchronous=NORMAL */
	OTA_DURABILITY_FULL,  /* WAL, synchronous=FULL */
	OTA_DURABILITY_BATCH, /* like sync, but the caller commits on the tick */
};

struct ota_store_options {
	const char *path;
	enum ota_durability durability;
	bool exclusive; /* PRAGMA locking_mode=EXCLUSIVE: faster, no other readers */
	int cache_kib;  /* page cache; 0: SQLite's default of 2,000 KiB */
	int checkpoint_pages; /* WAL length at which this connection checkpoints; 0: 1,000 */
	int row_cache;  /* device rows kept in memory (rounded up to a power of two) */
};

enum ota_task_state {
	OTA_TASK_SCHEDULED,
	OTA_TASK_RUNNING,
	OTA_TASK_FINISHED,
	OTA_TASK_CANCELLED,
	OTA_TASK_ABORTED,
	OTA_TASK_EXPIRED,
};

struct ota_task {
	int64_t id;
	char name[OTA_NAME_MAX + 1];
	char version[OTA_VERSION_MAX + 3]; /* JSON text */
	char url[OTA_URL_MAX + 1];
	char *extra;          /* JSON object text or NULL; owned by the struct */
	bool leading_slash;
	bool from_api;        /* created by createTask, not by an observed `set` */
	int state;            /* enum ota_task_state */
	int timeout_s;
	int max_retries;
	int retry_delay_s;
	int max_concurrent;   /* 0: no limit */
	int abort_failure_percent;
	int abort_min_finished;
	int64_t start_at;     /* 0: none */
	int64_t end_at;       /* 0: none */
	int64_t created_at;
	int64_t updated_at;
};

struct ota_device_row {
	int64_t task_id;
	char serial[OTA_SERIAL_MAX + 1];
	struct ota_row row;
	char message[OTA_MESSAGE_MAX + 1]; /* reason text of FAILED or STOP */
	int64_t due_at;                    /* 0: nothing due */
	int64_t updated_at;
};

struct ota_store;

/* Opens or creates the database and applies pending migrations. On failure
 * returns NULL and writes the path and cause into `err`. */
struct ota_store *ota_store_open(const struct ota_store_options *options,
	char *err, size_t err_size);
void ota_store_close(struct ota_store *store);

/* Returns "PATH: CAUSE" for the last failed call. */
const char *ota_store_error(const struct ota_store *store);

/* Copies a failure of the background checkpoints into `out` and returns
 * true, once per failure. Checkpoints then run on the calling thread. */
bool ota_store_take_failure(struct ota_store *store, char *out, size_t size);

int ota_store_begin(struct ota_store *store);
int ota_store_commit(struct ota_store *store);
void ota_store_rollback(struct ota_store *store);
bool ota_store_in_transaction(const struct ota_store *store);

int ota_store_task_get(struct ota_store *store, int64_t id,
	struct ota_task *out);
int ota_store_task_insert(struct ota_store *store, const struct ota_task *task);
int ota_store_task_set_state(struct ota_store *store, int64_t id, int state,
	int64_t now_ms);
/* Returns the largest task id so far, or 0. */
int ota_store_task_max_id(struct ota_store *store, int64_t *out);
void ota_task_clear(struct ota_task *task);

int ota_store_row_get(struct ota_store *store, int64_t task_id,
	const char *serial, struct ota_device_row *out);
/* Inserts the row or replaces the one with the same (task, serial). */
int ota_store_row_put(struct ota_store *store, const struct ota_device_row *row);
/* Updates an existing row; cheaper than ota_store_row_put. */
int ota_store_row_update(struct ota_store *store, const struct ota_device_row *row);
/* Updates every column of an existing row but due_at, which must not have
 * changed. */
int ota_store_row_update_keep_due(struct ota_store *store, const struct ota_device_row *row);
/* Updates only the progress and updated_at of an existing row. */
int ota_store_row_update_progress(struct ota_store *store, const struct ota_device_row *row);

/* Per-status row counts of one task. */
struct ota_task_counts {
	int64_t total;
	int64_t await;
	int64_t send;
	int64_t upgrading;
	int64_t success;
	int64_t failed;
	int64_t stopped;
	int64_t offline;  /* of stopped: waiting for the device */
	int64_t retrying; /* of failed: waiting for an automatic retry */
};

struct ota_history_entry {
	int64_t task_id;
	int status;
	int progress; /* -1: none */
	char message[OTA_MESSAGE_MAX + 1];
	int64_t at;
};

/*
 * Reads up to `limit` rows of a task ordered by serial number, after
 * `after_serial` ("" for the start) and skipping `offset` rows, only those
 * with `status` unless it is -1. Returns the count and a new array in
 * `out` (free it), or OTA_STORE_ERROR.
 */
int ota_store_rows_page(struct ota_store *store, int64_t task_id, int status,
	const char *after_serial, int offset, int limit, struct ota_device_row **out);
/* Reads the rows of running tasks that wait for `serial` to come online. */
int ota_store_rows_waiting_for(struct ota_store *store, const char *serial,
	struct ota_device_row **out);
/* Finds another scheduled or running task in which the device still takes
 * part. Returns OTA_STORE_OK with its id, or OTA_STORE_NOT_FOUND. */
int ota_store_device_busy(struct ota_store *store, const char *serial,
	int64_t task_id, int64_t *busy_task);
int ota_store_task_counts(struct ota_store *store, int64_t task_id,
	struct ota_task_counts *out);
/* Lists task ids, newest first, in `state` unless it is -1. Returns the
 * count and a new array in `out`, or OTA_STORE_ERROR. */
int ota_store_task_list(struct ota_store *store, int state, int offset, int limit,
	int64_t **out);
/* Reads a device's history, newest first. */
int ota_store_history_of_device(struct ota_store *store, const char *serial,
	int offset, int limit, struct ota_history_entry **out);

/* Calls `fn` for up to `limit` rows whose due_at is at or before `now_ms`,
 * oldest deadline first. Returns the number of rows, or OTA_STORE_ERROR. */
int ota_store_rows_due(struct ota_store *store, int64_t now_ms, int limit,
	void (*fn)(const struct ota_device_row *row, void *arg), void *arg);

/* Writes the earliest deadline of any row, or 0 when none is set. */
int ota_store_next_due(struct ota_store *store, int64_t *out);

int ota_store_history_add(struct ota_store *store, int64_t task_id,
	const char *serial, int status, int progress, const char *message,
	int64_t at_ms);

/* Records the version a device reported as installed, and its topic form. */
int ota_store_device_set_version(struct ota_store *store, const char *serial,
	const char *version_json, int64_t now_ms);
int ota_store_device_set_form(struct ota_store *store, const char *serial,
	bool leading_slash, int64_t now_ms);
/* Writes the installed version (JSON text) or "" when none is known. */
int ota_store_device_get_version(struct ota_store *store, const char *serial,
	char *out, size_t out_size);

struct ota_device {
	char installed_version[OTA_VERSION_MAX + 3]; /* JSON text, or "" */
	int leading_slash; /* topic form last seen, or -1 when unknown */
	int64_t updated_at;
};

int ota_store_device_get(struct ota_store *store, const char *serial,
	struct ota_device *out);
/* Lists every task id in ascending order. */
int ota_store_task_ids(struct ota_store *store, int64_t **out);

int ota_store_task_count(struct ota_store *store, int64_t *out);
/* Counts scheduled and running tasks. */
int ota_store_task_count_live(struct ota_store *store, int64_t *out);
/* Lists up to `limit` ended tasks (finished, cancelled, aborted, expired)
 * last updated before `before_ms`, oldest first. */
int ota_store_tasks_ended_before(struct ota_store *store, int64_t before_ms,
	int limit, int64_t **out);
/* Deletes a task with its rows and history. */
int ota_store_task_delete(struct ota_store *store, int64_t id);

/* Task state names as used on the wire: "running", "finished", ... */
const char *ota_task_state_name(int state);
int ota_task_state_parse(const char *name);

#endif
