/*
 * SQLite store. Every statement is prepared once in ota_store_open() and
 * reused with bind, step and reset, so the per-message path compiles no
 * SQL. The connection runs in WAL mode; durability picks synchronous=NORMAL
 * or FULL, and batching is the caller's choice of when to commit.
 */
#include "ota_store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "schema.h"

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_TASK_GET,
	ST_TASK_INSERT,
	ST_TASK_SET_STATE,
	ST_TASK_MAX_ID,
	ST_ROW_GET,
	ST_ROW_PUT,
	ST_ROW_UPDATE,
	ST_ROW_UPDATE_PROGRESS,
	ST_ROW_UPDATE_KEEP_DUE,
	ST_ROWS_DUE,
	ST_NEXT_DUE,
	ST_ROWS_PAGE_ANY,
	ST_ROWS_PAGE_STATUS,
	ST_ROWS_OF_DEVICE,
	ST_DEVICE_BUSY,
	ST_TASK_COUNTS,
	ST_TASK_LIST,
	ST_TASK_LIST_STATE,
	ST_HISTORY_OF_DEVICE,
	ST_HISTORY_ADD,
	ST_DEVICE_SET_VERSION,
	ST_DEVICE_SET_FORM,
	ST_DEVICE_GET_VERSION,
	ST_DEVICE_GET,
	ST_TASK_IDS_ALL,
	ST_TASK_COUNT_ALL,
	ST_TASK_COUNT_LIVE,
	ST_TASKS_ENDED_BEFORE,
	ST_TASK_DELETE,
	ST_HISTORY_DELETE_TASK,
	ST_HISTORY_MAX_ID,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_TASK_GET] =
		"SELECT id, name, version, url, extra, leading_slash, origin, state,"
		" timeout_s, max_retries, retry_delay_s, max_concurrent,"
		" abort_failure_percent, abort_min_finished, start_at, end_at,"
		" created_at, updated_at FROM task WHERE id = ?1",
	[ST_TASK_INSERT] =
		"INSERT INTO task (id, name, version, url, extra, leading_slash,"
		" origin, state, timeout_s, max_retries, retry_delay_s,"
		" max_concurrent, abort_failure_percent, abort_min_finished,"
		" start_at, end_at, created_at, updated_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
		" ?14, ?15, ?16, ?17, ?18)",
	[ST_TASK_SET_STATE] =
		"UPDATE task SET state = ?2, updated_at = ?3 WHERE id = ?1",
	[ST_TASK_MAX_ID] = "SELECT max(id) FROM task",
	[ST_ROW_GET] =
		"SELECT status, progress, reason, message, attempts, announced,"
		" due_at, updated_at FROM task_device"
		" WHERE task_id = ?1 AND serial = ?2",
	/* An upsert, not INSERT OR REPLACE: updating in place touches only the
	 * indexes whose columns changed. */
	[ST_ROW_PUT] =
		"INSERT INTO task_device (task_id, serial, status, progress, reason,"
		" message, attempts, announced, due_at, updated_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
		" ON CONFLICT(task_id, serial) DO UPDATE SET status = excluded.status,"
		" progress = excluded.progress, reason = excluded.reason,"
		" message = excluded.message, attempts = excluded.attempts,"
		" announced = excluded.announced, due_at = excluded.due_at,"
		" updated_at = excluded.updated_at",
	[ST_ROW_UPDATE] =
		"UPDATE task_device SET status = ?3, progress = ?4, reason = ?5,"
		" message = ?6, attempts = ?7, announced = ?8, due_at = ?9,"
		" updated_at = ?10 WHERE task_id = ?1 AND serial = ?2",
	/* Names only the columns a progress report changes, because SQLite
	 * rewrites every index on a column named in SET. */
	/* Leaves due_at out, so that the deadline index is not rewritten when a
	 * row enters REPLY with the deadline it had in SEND. */
	[ST_ROW_UPDATE_KEEP_DUE] =
		"UPDATE task_device SET status = ?3, progress = ?4, reason = ?5,"
		" message = ?6, attempts = ?7, announced = ?8, updated_at = ?10"
		" WHERE task_id = ?1 AND serial = ?2",
	[ST_ROW_UPDATE_PROGRESS] =
		"UPDATE task_device SET progress = ?2, updated_at = ?3"
		" WHERE task_id = ?1 AND serial = ?4",
	[ST_ROWS_DUE] =
		"SELECT task_id, serial, status, progress, reason, message,"
		" attempts, announced, due_at, updated_at FROM task_device"
		" WHERE due_at IS NOT NULL AND due_at <= ?1"
		" ORDER BY due_at LIMIT ?2",
	[ST_NEXT_DUE] =
		"SELECT min(due_at) FROM task_device WHERE due_at IS NOT NULL",
	[ST_ROWS_PAGE_ANY] =
		"SELECT task_id, serial, status, progress, reason, message,"
		" attempts, announced, due_at, updated_at FROM task_device"
		" WHERE task_id = ?1 AND serial > ?3 ORDER BY serial LIMIT ?4 OFFSET ?5",
	[ST_ROWS_PAGE_STATUS] =
		"SELECT task_id, serial, status, progress, reason, message,"
		" attempts, announced, due_at, updated_at FROM task_device"
		" WHERE task_id = ?1 AND status = ?2 AND serial > ?3"
		" ORDER BY serial LIMIT ?4 OFFSET ?5",
	/* Rows of a device in live tasks that wait for it to come online. */
	[ST_ROWS_OF_DEVICE] =
		"SELECT td.task_id, td.serial, td.status, td.progress, td.reason,"
		" td.message, td.attempts, td.announced, td.due_at, td.updated_at"
		" FROM task_device td JOIN task t ON t.id = td.task_id"
		" WHERE td.serial = ?1 AND t.state = 'running'"
		" AND td.status = 5 AND td.reason = 1",
	/* A row that still takes part in another live task. */
	[ST_DEVICE_BUSY] =
		"SELECT td.task_id FROM task_device td JOIN task t ON t.id = td.task_id"
		" WHERE td.serial = ?1 AND td.task_id != ?2"
		" AND t.state IN ('scheduled', 'running')"
		" AND (td.status IN (0, 1, 2) OR (td.status = 5 AND td.reason = 1)"
		" OR (td.status = 4 AND td.due_at IS NOT NULL)) LIMIT 1",
	[ST_TASK_COUNTS] =
		"SELECT status, reason, due_at IS NOT NULL, count(*) FROM task_device"
		" WHERE task_id = ?1 GROUP BY 1, 2, 3",
	[ST_TASK_LIST] =
		"SELECT id FROM task ORDER BY id DESC LIMIT ?1 OFFSET ?2",
	[ST_TASK_LIST_STATE] =
		"SELECT id FROM task WHERE state = ?3 ORDER BY id DESC LIMIT ?1 OFFSET ?2",
	[ST_HISTORY_OF_DEVICE] =
		"SELECT task_id, status, progress, message, at FROM history"
		" WHERE serial = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3",
	[ST_HISTORY_ADD] =
		"INSERT INTO history (task_id, serial, status, progress, message,"
		" at, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_DEVICE_SET_VERSION] =
		"INSERT INTO device (serial, installed_version, updated_at)"
		" VALUES (?1, ?2, ?3) ON CONFLICT(serial) DO UPDATE SET"
		" installed_version = excluded.installed_version,"
		" updated_at = excluded.updated_at"
		" WHERE installed_version IS NOT excluded.installed_version",
	[ST_DEVICE_SET_FORM] =
		"INSERT INTO device (serial, leading_slash, updated_at)"
		" VALUES (?1, ?2, ?3) ON CONFLICT(serial) DO UPDATE SET"
		" leading_slash = excluded.leading_slash,"
		" updated_at = excluded.updated_at"
		" WHERE leading_slash IS NOT excluded.leading_slash",
	[ST_DEVICE_GET_VERSION] =
		"SELECT installed_version FROM device WHERE serial = ?1",
	[ST_DEVICE_GET] =
		"SELECT installed_version, leading_slash, updated_at FROM device"
		" WHERE serial = ?1",
	[ST_TASK_IDS_ALL] = "SELECT id FROM task ORDER BY id",
	[ST_TASK_COUNT_ALL] = "SELECT count(*) FROM task",
	[ST_TASK_COUNT_LIVE] =
		"SELECT count(*) FROM task WHERE state IN ('scheduled', 'running')",
	[ST_TASKS_ENDED_BEFORE] =
		"SELECT id FROM task WHERE state IN ('finished', 'cancelled', 'aborted',"
		" 'expired') AND updated_at < ?1 ORDER BY updated_at LIMIT ?2",
	[ST_TASK_DELETE] = "DELETE FROM task WHERE id = ?1",
	[ST_HISTORY_DELETE_TASK] =
		"DELETE FROM history WHERE task_id = ?1 AND serial IN"
		" (SELECT serial FROM task_device WHERE task_id = ?1)",
	[ST_HISTORY_MAX_ID] = "SELECT max(id) FROM history",
};

/*
 * A copy of recently read or written device rows, so that a reply does not
 * read its row back from SQLite. Each slot contains the last row whose key
 * hashes to it. Every statement that writes task_device keeps its slot
 * current. A rollback or a task's deletion empties the whole cache by
 * moving to the next generation, because their effect on rows is not known
 * here. Memory is allocated once and touched as slots fill.
 */
struct row_slot {
	uint64_t generation; /* 0: never filled */
	struct ota_device_row row;
};

/* The topic form last written for a device, so that a `set` in the form
 * the device row already has costs no statement. Same slots and
 * generations as the row cache. */
struct form_slot {
	uint64_t generation;
	bool leading_slash;
	char serial[OTA_SERIAL_MAX + 1];
};

/*
 * Checkpoints copy WAL pages into the database file and fsync both, which
 * stalls the connection that runs them for milliseconds. Unless the lock
 * is exclusive, a thread with its own connection runs them instead, on
 * another core. The thread calls SQLite only, never the broker.
 */
struct checkpointer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t idle; /* signalled when a pass ends */
	sqlite3 *db;        /* the thread's own connection */
	bool requested;     /* a pass is wanted */
	bool busy;          /* a pass is running */
	int copied;         /* WAL frames the last pass left copied */
	bool stop;
	bool failed;        /* the thread stopped checkpointing after an error */
	char error[256];
};

struct ota_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	char *path;
	char error[512];
	int64_t next_history_id; /* ids increase across all devices */
	struct row_slot *rows;   /* row cache, row_slot_count slots */
	struct form_slot *forms; /* topic form cache, row_slot_count slots */
	size_t row_slot_count;   /* a power of two, or 0 for no cache */
	uint64_t generation;     /* slots of older generations are empty */
	struct checkpointer *checkpointer; /* NULL: checkpoints on this connection */
	int checkpoint_pages;
	char failure[800];       /* the checkpoint thread's failure, "" for none */
	bool failure_pending;    /* failure not yet taken by ota_store_take_failure */
};

/* FNV-1a over the task id and the serial number. */
static uint64_t slot_hash(int64_t task_id, const char *serial)
{
	uint64_t hash = 14695981039346656037ULL;
	uint64_t id = (uint64_t)task_id;

	for(int i = 0; i < 8; i++){
		hash = (hash ^ ((id >> (i * 8)) & 0xff)) * 1099511628211ULL;
	}
	for(const unsigned char *c = (const unsigned char *)serial; *c; c++){
		hash = (hash ^ *c) * 1099511628211ULL;
	}
	return hash;
}

static struct row_slot *row_slot(struct ota_store *store, int64_t task_id,
	const char *serial)
{
	if(store->row_slot_count == 0){
		return NULL;
	}
	return &store->rows[slot_hash(task_id, serial) & (store->row_slot_count - 1)];
}

static struct form_slot *form_slot(struct ota_store *store, const char *serial)
{
	if(store->row_slot_count == 0){
		return NULL;
	}
	return &store->forms[slot_hash(0, serial) & (store->row_slot_count - 1)];
}

static void row_cache_put(struct ota_store *store, const struct ota_device_row *row)
{
	struct row_slot *slot = row_slot(store, row->task_id, row->serial);

	if(slot){
		slot->generation = store->generation;
		slot->row = *row;
	}
}

static void row_cache_clear(struct ota_store *store)
{
	store->generation++;
}

static const char *const task_state_names[] = {
	[OTA_TASK_SCHEDULED] = "scheduled",
	[OTA_TASK_RUNNING] = "running",
	[OTA_TASK_FINISHED] = "finished",
	[OTA_TASK_CANCELLED] = "cancelled",
	[OTA_TASK_ABORTED] = "aborted",
	[OTA_TASK_EXPIRED] = "expired",
};

#define TASK_STATE_COUNT (int)(sizeof(task_state_names) / sizeof(task_state_names[0]))

const char *ota_task_state_name(int state)
{
	if(state < 0 || state >= TASK_STATE_COUNT){
		return "unknown";
	}
	return task_state_names[state];
}

int ota_task_state_parse(const char *name)
{
	for(int i = 0; i < TASK_STATE_COUNT; i++){
		if(strcmp(task_state_names[i], name) == 0){
			return i;
		}
	}
	return -1;
}

/* Records "PATH: CAUSE (what)" and returns OTA_STORE_ERROR. */
static int fail(struct ota_store *store, const char *what)
{
	snprintf(store->error, sizeof(store->error), "%s: %s (%s)",
		store->path, sqlite3_errmsg(store->db), what);
	return OTA_STORE_ERROR;
}

const char *ota_store_error(const struct ota_store *store)
{
	return store->error;
}

/* Runs a statement that returns no rows, then resets it. */
static int step_done(struct ota_store *store, enum stmt_id id, const char *what)
{
	sqlite3_stmt *stmt = store->stmt[id];
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if(rc != SQLITE_DONE){
		return fail(store, what);
	}
	return OTA_STORE_OK;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text)
{
	if(text && text[0]){
		sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
	}else{
		sqlite3_bind_null(stmt, index);
	}
}

static void bind_int64_or_null(sqlite3_stmt *stmt, int index, int64_t value)
{
	if(value){
		sqlite3_bind_int64(stmt, index, value);
	}else{
		sqlite3_bind_null(stmt, index);
	}
}

static void copy_column(sqlite3_stmt *stmt, int column, char *out, size_t size)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);

	snprintf(out, size, "%s", text ? (const char *)text : "");
}

/* ===================================================================== */
/* Opening and migrations                                                */
/* ===================================================================== */

static int exec(struct ota_store *store, const char *sql, const char *what)
{
	char *msg = NULL;

	if(sqlite3_exec(store->db, sql, NULL, NULL, &msg) != SQLITE_OK){
		snprintf(store->error, sizeof(store->error), "%s: %s (%s)",
			store->path, msg ? msg : sqlite3_errmsg(store->db), what);
		sqlite3_free(msg);
		return OTA_STORE_ERROR;
	}
	return OTA_STORE_OK;
}

static int read_user_version(struct ota_store *store, int *version)
{
	sqlite3_stmt *stmt;
	int rc;

	if(sqlite3_prepare_v2(store->db, "PRAGMA user_version", -1, &stmt, NULL)
			!= SQLITE_OK){
		return fail(store, "reading user_version");
	}
	rc = sqlite3_step(stmt);
	if(rc == SQLITE_ROW){
		*version = sqlite3_column_int(stmt, 0);
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? OTA_STORE_OK : fail(store, "reading user_version");
}

/* Applies each migration above the database's user_version in its own
 * transaction, so a failed one leaves the database at the previous one. */
static int migrate(struct ota_store *store)
{
	int version = 0;
	char what[64];
	char pragma[64];

	if(read_user_version(store, &version)){
		return OTA_STORE_ERROR;
	}
	if(version > ota_schema_migration_count){
		snprintf(store->error, sizeof(store->error),
			"%s: schema version %d is newer than this plugin's %d;"
			" upgrade the plugin or use another database file",
			store->path, version, ota_schema_migration_count);
		return OTA_STORE_ERROR;
	}
	for(int i = version; i < ota_schema_migration_count; i++){
		snprintf(what, sizeof(what), "applying migration %d", i + 1);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", i + 1);
		if(exec(store, "BEGIN IMMEDIATE", what)){
			return OTA_STORE_ERROR;
		}
		if(exec(store, ota_schema_migrations[i], what)
				|| exec(store, pragma, what)
				|| exec(store, "COMMIT", what)){
			sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
			return OTA_STORE_ERROR;
		}
	}
	return OTA_STORE_OK;
}

static int configure(struct ota_store *store, const struct ota_store_options *options)
{
	const char *sync = options->durability == OTA_DURABILITY_FULL
		? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
	char pragma[64];

	sqlite3_busy_timeout(store->db, 2000);
	if(options->exclusive
			&& exec(store, "PRAGMA locking_mode=EXCLUSIVE", "setting locking mode")){
		return OTA_STORE_ERROR;
	}
	/* Small pages make each commit's WAL frames small; the setting takes
	 * effect only when the database is created. */
	if(exec(store, "PRAGMA page_size=1024", "setting the page size")
			|| exec(store, "PRAGMA journal_mode=WAL", "enabling WAL")
			|| exec(store, sync, "setting synchronous")
			|| exec(store, "PRAGMA foreign_keys=ON", "enabling foreign keys")){
		return OTA_STORE_ERROR;
	}
	/* Pages that miss the cache cost a read system call on the broker's
	 * thread, but callgrind counts per-transaction work in SQLite that
	 * grows with the pages cached (docs/benchmarks.md). */
	if(options->cache_kib > 0){
		snprintf(pragma, sizeof(pragma), "PRAGMA cache_size=-%d", options->cache_kib);
		if(exec(store, pragma, "setting the cache size")){
			return OTA_STORE_ERROR;
		}
	}
	if(options->checkpoint_pages > 0){
		snprintf(pragma, sizeof(pragma), "PRAGMA wal_autocheckpoint=%d",
			options->checkpoint_pages);
		if(exec(store, pragma, "setting the checkpoint size")){
			return OTA_STORE_ERROR;
		}
	}
	return OTA_STORE_OK;
}

static void *checkpoint_main(void *arg)
{
	struct checkpointer *c = arg;

	pthread_mutex_lock(&c->lock);
	while(!c->stop){
		int log_frames = 0;
		int copied = 0;
		int rc;

		if(!c->requested){
			pthread_cond_wait(&c->wake, &c->lock);
			continue;
		}
		c->requested = false;
		c->busy = true;
		pthread_mutex_unlock(&c->lock);
		rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
			&log_frames, &copied);
		pthread_mutex_lock(&c->lock);
		c->busy = false;
		pthread_cond_broadcast(&c->idle);
		if(rc == SQLITE_OK){
			c->copied = copied;
		}else if(rc != SQLITE_BUSY && rc != SQLITE_LOCKED){
			/* NOTE: no test makes a checkpoint fail, so this hand-over to the
			 * broker's thread has only been read, not run. */
			snprintf(c->error, sizeof(c->error), "%s", sqlite3_errmsg(c->db));
			c->failed = true;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/*
 * Runs after each commit of the main connection, with the WAL's length in
 * frames. Every quarter of checkpoint_pages it requests a pass from the thread.
 * At checkpoint_pages this connection copies what the passes left behind:
 * while it writes, the thread never copies the last frames, and only a
 * WAL copied to its end starts over at the next write instead of growing.
 */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct ota_store *store = arg;
	struct checkpointer *c = store->checkpointer;
	int step = store->checkpoint_pages / 4;
	bool failed;

	pthread_mutex_lock(&c->lock);
	failed = c->failed;
	if(c->copied > frames){
		c->copied = 0; /* the WAL started over */
	}
	if(!failed && !c->busy && frames < store->checkpoint_pages
			&& frames >= c->copied + step){
		c->requested = true;
		pthread_cond_signal(&c->wake);
	}
	/* Twice the limit: the passes fell behind, so wait for the one running
	 * rather than let the WAL grow. */
	if(frames >= 2 * store->checkpoint_pages){
		c->requested = false;
		while(c->busy){
			pthread_cond_wait(&c->idle, &c->lock);
		}
	}
	pthread_mutex_unlock(&c->lock);

	if(frames >= store->checkpoint_pages){
		/* SQLITE_BUSY while a pass runs: the next commit tries again. */
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	}
	if(failed && !store->failure[0]){
		snprintf(store->failure, sizeof(store->failure),
			"%s: checkpoint thread stopped, checkpoints run on the broker's thread: %s",
			store->path, c->error);
		store->failure_pending = true;
	}
	return SQLITE_OK;
}

static void stop_checkpointer(struct ota_store *store)
{
	struct checkpointer *c = store->checkpointer;

	if(!c){
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	sqlite3_wal_hook(store->db, NULL, NULL);
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->idle);
	free(c);
	store->checkpointer = NULL;
}

/* Starts the checkpoint thread, unless the lock is exclusive: then no
 * other connection may open the database, and checkpoints stay here. */
static int start_checkpointer(struct ota_store *store, const struct ota_store_options *options)
{
	struct checkpointer *c;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	store->checkpoint_pages = options->checkpoint_pages > 0 ? options->checkpoint_pages : 1000;
	if(options->exclusive){
		return OTA_STORE_OK;
	}
	c = calloc(1, sizeof(*c));
	if(!c){
		snprintf(store->error, sizeof(store->error), "%s: out of memory (starting checkpoints)",
			store->path);
		return OTA_STORE_ERROR;
	}
	if(sqlite3_open_v2(store->path, &c->db, flags, NULL) != SQLITE_OK
			|| sqlite3_exec(c->db, options->durability == OTA_DURABILITY_FULL
				? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
				NULL, NULL, NULL) != SQLITE_OK){
		snprintf(store->error, sizeof(store->error), "%s: %s (opening the checkpoint connection)",
			store->path, sqlite3_errmsg(c->db));
		sqlite3_close(c->db);
		free(c);
		return OTA_STORE_ERROR;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->idle, NULL);
	if(pthread_create(&c->thread, NULL, checkpoint_main, c) != 0){
		snprintf(store->error, sizeof(store->error), "%s: cannot start the checkpoint thread",
			store->path);
		sqlite3_close(c->db);
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->wake);
		pthread_cond_destroy(&c->idle);
		free(c);
		return OTA_STORE_ERROR;
	}
	store->checkpointer = c;
	/* Replaces the automatic checkpoint, which is also a WAL hook. */
	sqlite3_wal_hook(store->db, on_wal_commit, store);
	return OTA_STORE_OK;
}

bool ota_store_take_failure(struct ota_store *store, char *out, size_t size)
{
	if(!store->failure_pending){
		return false;
	}
	snprintf(out, size, "%s", store->failure);
	store->failure_pending = false;
	return true;
}

static int prepare_all(struct ota_store *store)
{
	for(int i = 0; i < ST_COUNT; i++){
		if(sqlite3_prepare_v3(store->db, stmt_sql[i], -1,
				SQLITE_PREPARE_PERSISTENT, &store->stmt[i], NULL) != SQLITE_OK){
			return fail(store, "preparing statements");
		}
	}
	return OTA_STORE_OK;
}

static int read_next_history_id(struct ota_store *store)
{
	sqlite3_stmt *stmt = store->stmt[ST_HISTORY_MAX_ID];
	int rc = sqlite3_step(stmt);

	if(rc == SQLITE_ROW){
		store->next_history_id = sqlite3_column_int64(stmt, 0) + 1;
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? OTA_STORE_OK : fail(store, "reading history ids");
}

struct ota_store *ota_store_open(const struct ota_store_options *options,
	char *err, size_t err_size)
{
	struct ota_store *store = calloc(1, sizeof(*store));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	if(!store || !(store->path = strdup(options->path))){
		snprintf(err, err_size, "%s: out of memory", options->path);
		free(store);
		return NULL;
	}
	if(options->row_cache > 0){
		store->row_slot_count = 1;
		while(store->row_slot_count < (size_t)options->row_cache){
			store->row_slot_count <<= 1;
		}
		store->rows = calloc(store->row_slot_count, sizeof(*store->rows));
		store->forms = calloc(store->row_slot_count, sizeof(*store->forms));
		if(!store->rows || !store->forms){
			snprintf(err, err_size, "%s: out of memory for a row cache of %zu slots",
				options->path, store->row_slot_count);
			free(store->rows);
			free(store->forms);
			free(store->path);
			free(store);
			return NULL;
		}
		store->generation = 1;
	}
	if(sqlite3_open_v2(options->path, &store->db, flags, NULL) != SQLITE_OK){
		/* The OS error is left out: SQLite retries read-only after a failed
		 * read-write open, so it often names the retry's error. */
		snprintf(store->error, sizeof(store->error), "%s: %s (opening)",
			options->path, sqlite3_errmsg(store->db));
		goto fail;
	}
	if(configure(store, options) || migrate(store) || prepare_all(store)
			|| read_next_history_id(store) || start_checkpointer(store, options)){
		goto fail;
	}
	return store;

fail:
	snprintf(err, err_size, "%s", store->error);
	ota_store_close(store);
	return NULL;
}

void ota_store_close(struct ota_store *store)
{
	if(!store){
		return;
	}
	if(store->db && !sqlite3_get_autocommit(store->db)){
		sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
	}
	/* First, so that the main connection closes last and checkpoints the
	 * rest of the WAL. */
	stop_checkpointer(store);
	for(int i = 0; i < ST_COUNT; i++){
		sqlite3_finalize(store->stmt[i]);
	}
	sqlite3_close(store->db);
	free(store->rows);
	free(store->forms);
	free(store->path);
	free(store);
}

/* ===================================================================== */
/* Transactions                                                          */
/* ===================================================================== */

int ota_store_begin(struct ota_store *store)
{
	return step_done(store, ST_BEGIN, "beginning a transaction");
}

int ota_store_commit(struct ota_store *store)
{
	return step_done(store, ST_COMMIT, "committing");
}

void ota_store_rollback(struct ota_store *store)
{
	row_cache_clear(store);
	if(!sqlite3_get_autocommit(store->db)){
		sqlite3_step(store->stmt[ST_ROLLBACK]);
		sqlite3_reset(store->stmt[ST_ROLLBACK]);
	}
}

bool ota_store_in_transaction(const struct ota_store *store)
{
	return !sqlite3_get_autocommit(store->db);
}

/* ===================================================================== */
/* Tasks                                                                 */
/* ===================================================================== */

void ota_task_clear(struct ota_task *task)
{
	free(task->extra);
	task->extra = NULL;
}

int ota_store_task_get(struct ota_store *store, int64_t id, struct ota_task *out)
{
	sqlite3_stmt *stmt = store->stmt[ST_TASK_GET];
	int rc;

	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if(rc == SQLITE_ROW){
		const unsigned char *extra = sqlite3_column_text(stmt, 4);

		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(stmt, 0);
		copy_column(stmt, 1, out->name, sizeof(out->name));
		copy_column(stmt, 2, out->version, sizeof(out->version));
		copy_column(stmt, 3, out->url, sizeof(out->url));
		out->extra = extra ? strdup((const char *)extra) : NULL;
		out->leading_slash = sqlite3_column_int(stmt, 5);
		out->from_api = strcmp((const char *)sqlite3_column_text(stmt, 6), "api") == 0;
		out->state = ota_task_state_parse((const char *)sqlite3_column_text(stmt, 7));
		out->timeout_s = sqlite3_column_int(stmt, 8);
		out->max_retries = sqlite3_column_int(stmt, 9);
		out->retry_delay_s = sqlite3_column_int(stmt, 10);
		out->max_concurrent = sqlite3_column_int(stmt, 11);
		out->abort_failure_percent = sqlite3_column_int(stmt, 12);
		out->abort_min_finished = sqlite3_column_int(stmt, 13);
		out->start_at = sqlite3_column_int64(stmt, 14);
		out->end_at = sqlite3_column_int64(stmt, 15);
		out->created_at = sqlite3_column_int64(stmt, 16);
		out->updated_at = sqlite3_column_int64(stmt, 17);
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if(rc == SQLITE_ROW){
		return OTA_STORE_OK;
	}
	return rc == SQLITE_DONE ? OTA_STORE_NOT_FOUND : fail(store, "reading a task");
}

int ota_store_task_insert(struct ota_store *store, const struct ota_task *task)
{
	sqlite3_stmt *stmt = store->stmt[ST_TASK_INSERT];

	sqlite3_bind_int64(stmt, 1, task->id);
	bind_text_or_null(stmt, 2, task->name);
	sqlite3_bind_text(stmt, 3, task->version, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, task->url, -1, SQLITE_STATIC);
	bind_text_or_null(stmt, 5, task->extra);
	sqlite3_bind_int(stmt, 6, task->leading_slash);
	sqlite3_bind_text(stmt, 7, task->from_api ? "api" : "set", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 8, ota_task_state_name(task->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 9, task->timeout_s);
	sqlite3_bind_int(stmt, 10, task->max_retries);
	sqlite3_bind_int(stmt, 11, task->retry_delay_s);
	sqlite3_bind_int(stmt, 12, task->max_concurrent);
	sqlite3_bind_int(stmt, 13, task->abort_failure_percent);
	sqlite3_bind_int(stmt, 14, task->abort_min_finished);
	bind_int64_or_null(stmt, 15, task->start_at);
	bind_int64_or_null(stmt, 16, task->end_at);
	sqlite3_bind_int64(stmt, 17, task->created_at);
	sqlite3_bind_int64(stmt, 18, task->updated_at);
	return step_done(store, ST_TASK_INSERT, "inserting a task");
}

int ota_store_task_set_state(struct ota_store *store, int64_t id, int state,
	int64_t now_ms)
{
	sqlite3_stmt *stmt = store->stmt[ST_TASK_SET_STATE];

	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_text(stmt, 2, ota_task_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, now_ms);
	return step_done(store, ST_TASK_SET_STATE, "updating a task");
}

int ota_store_task_max_id(struct ota_store *store, int64_t *out)
{
	sqlite3_stmt *stmt = store->stmt[ST_TASK_MAX_ID];
	int rc = sqlite3_step(stmt);

	if(rc == SQLITE_ROW){
		*out = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? OTA_STORE_OK : fail(store, "reading task ids");
}

/* ===================================================================== */
/* Device rows                                                           */
/* ===================================================================== */

/* Reads the row columns starting at `first`, in ST_ROW_GET's order. */
static void read_row(sqlite3_stmt *stmt, int first, struct ota_device_row *out)
{
	out->row.status = sqlite3_column_int(stmt, first);
	out->row.progress = sqlite3_column_int(stmt, first + 1);
	out->row.reason = sqlite3_column_int(stmt, first + 2);
	copy_column(stmt, first + 3, out->message, sizeof(out->message));
	out->row.attempts = sqlite3_column_int(stmt, first + 4);
	out->row.announced = sqlite3_column_int(stmt, first + 5);
	out->due_at = sqlite3_column_int64(stmt, first + 6);
	out->updated_at = sqlite3_column_int64(stmt, first + 7);
}

int ota_store_row_get(struct ota_store *store, int64_t task_id,
	const char *serial, struct ota_device_row *out)
{
	sqlite3_stmt *stmt = store->stmt[ST_ROW_GET];
	struct row_slot *slot = row_slot(store, task_id, serial);
	int rc;

	if(slot && slot->generation == store->generation && slot->row.task_id == task_id
			&& strcmp(slot->row.serial, serial) == 0){
		*out = slot->row;
		return OTA_STORE_OK;
	}
	sqlite3_bind_int64(stmt, 1, task_id);
	sqlite3_bind_text(stmt, 2, serial, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if(rc == SQLITE_ROW){
		memset(out, 0, sizeof(*out));
		out->task_id = task_id;
		snprintf(out->serial, sizeof(out->serial), "%s", serial);
		read_row(stmt, 0, out);
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if(rc == SQLITE_ROW){
		row_cache_put(store, out);
		return OTA_STORE_OK;
	}
	return rc == SQLITE_DONE ? OTA_STORE_NOT_FOUND : fail(store, "reading a device row");
}

/* Keeps the row's cache slot equal to the database after a write: the new
 * row when it succeeded, nothing when it failed. */
static int row_written(struct ota_store *store, const struct ota_device_row *row, int rc)
{
	struct row_slot *slot;

	if(rc == OTA_STORE_OK){
		row_cache_put(store, row);
	}else if((slot = row_slot(store, row->task_id, row->serial))){
		slot->generation = 0;
	}
	return rc;
}

static int write_row(struct ota_store *store, enum stmt_id id,
	const struct ota_device_row *row)
{
	sqlite3_stmt *stmt = store->stmt[id];

	sqlite3_bind_int64(stmt, 1, row->task_id);
	sqlite3_bind_text(stmt, 2, row->serial, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, row->row.status);
	sqlite3_bind_int(stmt, 4, row->row.progress);
	sqlite3_bind_int(stmt, 5, row->row.reason);
	bind_text_or_null(stmt, 6, row->message);
	sqlite3_bind_int(stmt, 7, row->row.attempts);
	sqlite3_bind_int(stmt, 8, row->row.announced);
	bind_int64_or_null(stmt, 9, row->due_at);
	sqlite3_bind_int64(stmt, 10, row->updated_at);
	return step_done(store, id, "writing a device row");
}

int ota_store_row_put(struct ota_store *store, const struct ota_device_row *row)
{
	return row_written(store, row, write_row(store, ST_ROW_PUT, row));
}

int ota_store_row_update(struct ota_store *store, const struct ota_device_row *row)
{
	return row_written(store, row, write_row(store, ST_ROW_UPDATE, row));
}

int ota_store_row_update_keep_due(struct ota_store *store, const struct ota_device_row *row)
{
	return row_written(store, row, write_row(store, ST_ROW_UPDATE_KEEP_DUE, row));
}

int ota_store_row_update_progress(struct ota_store *store, const struct ota_device_row *row)
{
	sqlite3_stmt *stmt = store->stmt[ST_ROW_UPDATE_PROGRESS];

	sqlite3_bind_int64(stmt, 1, row->task_id);
	sqlite3_bind_int(stmt, 2, row->row.progress);
	sqlite3_bind_int64(stmt, 3, row->updated_at);
	sqlite3_bind_text(stmt, 4, row->serial, -1, SQLITE_STATIC);
	return row_written(store, row,
		step_done(store, ST_ROW_UPDATE_PROGRESS, "writing a device row"));
}

int ota_store_rows_due(struct ota_store *store, int64_t now_ms, int limit,
	void (*fn)(const struct ota_device_row *row, void *arg), void *arg)
{
	sqlite3_stmt *stmt = store->stmt[ST_ROWS_DUE];
	struct ota_device_row *rows = calloc((size_t)limit, sizeof(*rows));
	int count = 0;
	int rc;

	if(!rows){
		snprintf(store->error, sizeof(store->error), "%s: out of memory", store->path);
		return OTA_STORE_ERROR;
	}
	sqlite3_bind_int64(stmt, 1, now_ms);
	sqlite3_bind_int(stmt, 2, limit);
	while(count < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW){
		struct ota_device_row *row = &rows[count++];

		row->task_id = sqlite3_column_int64(stmt, 0);
		copy_column(stmt, 1, row->serial, sizeof(row->serial));
		read_row(stmt, 2, row);
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if(count < limit && rc != SQLITE_DONE){
		free(rows);
		return fail(store, "reading due rows");
	}
	/* The callback may write rows, so it runs after the read has ended. */
	for(int i = 0; i < count; i++){
		fn(&rows[i], arg);
	}
	free(rows);
	return count;
}

int ota_store_next_due(struct ota_store *store, int64_t *out)
{
	sqlite3_stmt *stmt = store->stmt[ST_NEXT_DUE];
	int rc = sqlite3_step(stmt);

	if(rc == SQLITE_ROW){
		*out = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? OTA_STORE_OK : fail(store, "reading deadlines");
}

/* Reads up to `limit` rows of `stmt` (columns as ST_ROWS_PAGE_ANY) into a
 * new array; the statement's parameters are already bound. */
static int read_rows(struct ota_store *store, sqlite3_stmt *stmt, int limit,
	struct ota_device_row **out, const char *what)
{
	struct ota_device_row *rows = NULL;
	int count = 0;
	int cap = 0;
	int rc;

	while((limit <= 0 || count < limit) && (rc = sqlite3_step(stmt)) == SQLITE_ROW){
		if(count == cap){
			int grown_cap = cap ? cap * 2 : 64;
			struct ota_device_row *grown = realloc(rows, (size_t)grown_cap * sizeof(*rows));

			if(!grown){
				rc = SQLITE_NOMEM;
				break;
			}
			rows = grown;
			cap = grown_cap;
		}
		memset(&rows[count], 0, sizeof(rows[count]));
		rows[count].task_id = sqlite3_column_int64(stmt, 0);
		copy_column(stmt, 1, rows[count].serial, sizeof(rows[count].serial));
		read_row(stmt, 2, &rows[count]);
		count++;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if(rc != SQLITE_DONE && rc != SQLITE_ROW){
		free(rows);
		return fail(store, what);
	}
	*out = rows;
	return count;
}

int ota_store_rows_page(struct ota_store *store, int64_t task_id, int status,
	const char *after_serial, int offset, int limit, struct ota_device_row **out)
{
	sqlite3_stmt *stmt = store->stmt[status < 0 ? ST_ROWS_PAGE_ANY : ST_ROWS_PAGE_STATUS];

	sqlite3_bind_int64(stmt, 1, task_id);
	sqlite3_bind_int(stmt, 2, status);
	sqlite3_bind_text(stmt, 3, after_serial ? after_serial : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 4, limit);
	sqlite3_bind_int(stmt, 5, offset);
	return read_rows(store, stmt, limit, out, "reading device rows");
}

int ota_store_rows_waiting_for(struct ota_store *store, const char *serial,
	struct ota_device_row **out)
{
	sqlite3_stmt *stmt = store->stmt[ST_ROWS_OF_DEVICE];

	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	return read_rows(store, stmt, 0, out, "reading a device's rows");
}

int ota_store_device_busy(struct ota_store *store, const char *serial,
	int64_t task_id, int64_t *busy_task)
{
	sqlite3_stmt *stmt = store->stmt[ST_DEVICE_BUSY];
	int rc;

	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, task_id);
	rc = sqlite3_step(stmt);
	if(rc == SQLITE_ROW){
		*busy_task = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if(rc == SQLITE_ROW){
		return OTA_STORE_OK;
	}
	return rc == SQLITE_DONE ? OTA_STORE_NOT_FOUND : fail(store, "checking a device");
}

int ota_store_task_counts(struct ota_store *store, int64_t task_id,
	struct ota_task_counts *out)
{
	sqlite3_stmt *stmt = store->stmt[ST_TASK_COUNTS];
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(stmt, 1, task_id);
	while((rc = sqlite3_step(stmt)) == SQLITE_ROW){
		int status = sqlite3_column_int(stmt, 0);
		int reason = sqlite3_column_int(stmt, 1);
		bool due = sqlite3_column_int(stmt, 2);
		int64_t n = sqlite3_column_int64(stmt, 3);

		out->total += n;
		switch(status){
			case OTA_AWAIT: out->await += n; break;
			case OTA_SEND: out->send += n; break;
			case OTA_REPLY: out->upgrading += n; break;
			case OTA_SUCCESS: out->success += n; break;
			case OTA_FAILED:
				out->failed += n;
				out->retrying += due ? n : 0;
				break;
			case OTA_STOP:
				out->stopped += n;
				out->offline += reason == OTA_REASON_OFFLINE ? n : 0;
				break;
			default: break;
		}
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc == SQLITE_DONE ? OTA_STORE_OK : fail(store, "counting a task's rows");
}

/* Reads task ids from a statement whose parameters are bound. */
static int read_ids(struct ota_store *store, sqlite3_stmt *stmt, int64_t **out)
{
	int64_t *ids = NULL;
	int count = 0;
	int cap = 0;
	int rc;

	while((rc = sqlite3_step(stmt)) == SQLITE_ROW){
		if(count == cap){
			int grown_cap = cap ? cap * 2 : 16;
			int64_t *grown = realloc(ids, (size_t)grown_cap * sizeof(*ids));

			if(!grown){
				rc = SQLITE_NOMEM;
				break;
			}
			ids = grown;
			cap = grown_cap;
		}
		ids[count++] = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if(rc != SQLITE_DONE){
		free(ids);
		return fail(store, "listing tasks");
	}
	*out = ids;
	return count;
}

int ota_store_task_list(struct ota_store *store, int state, int offset, int limit,
	int64_t **out)
{
	sqlite3_stmt *stmt = store->stmt[state < 0 ? ST_TASK_LIST : ST_TASK_LIST_STATE];

	sqlite3_bind_int(stmt, 1, limit);
	sqlite3_bind_int(stmt, 2, offset);
	if(state >= 0){
		sqlite3_bind_text(stmt, 3, ota_task_state_name(state), -1, SQLITE_STATIC);
	}
	return read_ids(store, stmt, out);
}

int ota_store_history_of_device(struct ota_store *store, const char *serial,
	int offset, int limit, struct ota_history_entry **out)
{
	sqlite3_stmt *stmt = store->stmt[ST_HISTORY_OF_DEVICE];
	struct ota_history_entry *entries = calloc((size_t)(limit > 0 ? limit : 1), sizeof(*entries));
	int count = 0;
	int rc = SQLITE_DONE;

	if(!entries){
		snprintf(store->error, sizeof(store->error), "%s: out of memory", store->path);
		return OTA_STORE_ERROR;
	}
	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, limit);
	sqlite3_bind_int(stmt, 3, offset);
	while(count < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW){
		struct ota_history_entry *e = &entries[count++];

		e->task_id = sqlite3_column_int64(stmt, 0);
		e->status = sqlite3_column_int(stmt, 1);
		e->progress = sqlite3_column_type(stmt, 2) == SQLITE_NULL
			? -1 : sqlite3_column_int(stmt, 2);
		copy_column(stmt, 3, e->message, sizeof(e->message));
		e->at = sqlite3_column_int64(stmt, 4);
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if(rc != SQLITE_DONE && rc != SQLITE_ROW){
		free(entries);
		return fail(store, "reading history");
	}
	*out = entries;
	return count;
}

/* ===================================================================== */
/* History and devices                                                   */
/* ===================================================================== */

int ota_store_history_add(struct ota_store *store, int64_t task_id,
	const char *serial, int status, int progress, const char *message,
	int64_t at_ms)
{
	sqlite3_stmt *stmt = store->stmt[ST_HISTORY_ADD];

	sqlite3_bind_int64(stmt, 1, task_id);
	sqlite3_bind_text(stmt, 2, serial, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, status);
	if(progress >= 0){
		sqlite3_bind_int(stmt, 4, progress);
	}else{
		sqlite3_bind_null(stmt, 4);
	}
	bind_text_or_null(stmt, 5, message);
	sqlite3_bind_int64(stmt, 6, at_ms);
	sqlite3_bind_int64(stmt, 7, store->next_history_id++);
	return step_done(store, ST_HISTORY_ADD, "adding history");
}

int ota_store_device_set_version(struct ota_store *store, const char *serial,
	const char *version_json, int64_t now_ms)
{
	sqlite3_stmt *stmt = store->stmt[ST_DEVICE_SET_VERSION];

	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, version_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, now_ms);
	return step_done(store, ST_DEVICE_SET_VERSION, "recording a device's version");
}

int ota_store_device_set_form(struct ota_store *store, const char *serial,
	bool leading_slash, int64_t now_ms)
{
	sqlite3_stmt *stmt = store->stmt[ST_DEVICE_SET_FORM];
	struct form_slot *slot = form_slot(store, serial);
	int rc;

	if(slot && slot->generation == store->generation
			&& slot->leading_slash == leading_slash && strcmp(slot->serial, serial) == 0){
		return OTA_STORE_OK;
	}
	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, leading_slash);
	sqlite3_bind_int64(stmt, 3, now_ms);
	rc = step_done(store, ST_DEVICE_SET_FORM, "recording a device's topic form");
	if(slot){
		slot->generation = rc == OTA_STORE_OK ? store->generation : 0;
		slot->leading_slash = leading_slash;
		snprintf(slot->serial, sizeof(slot->serial), "%s", serial);
	}
	return rc;
}

int ota_store_device_get_version(struct ota_store *store, const char *serial,
	char *out, size_t out_size)
{
	sqlite3_stmt *stmt = store->stmt[ST_DEVICE_GET_VERSION];
	int rc;

	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	out[0] = '\0';
	if(rc == SQLITE_ROW){
		copy_column(stmt, 0, out, out_size);
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if(rc == SQLITE_ROW){
		return OTA_STORE_OK;
	}
	return rc == SQLITE_DONE ? OTA_STORE_NOT_FOUND : fail(store, "reading a device");
}

int ota_store_device_get(struct ota_store *store, const char *serial,
	struct ota_device *out)
{
	sqlite3_stmt *stmt = store->stmt[ST_DEVICE_GET];
	int rc;

	memset(out, 0, sizeof(*out));
	out->leading_slash = -1;
	sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if(rc == SQLITE_ROW){
		copy_column(stmt, 0, out->installed_version, sizeof(out->installed_version));
		if(sqlite3_column_type(stmt, 1) != SQLITE_NULL){
			out->leading_slash = sqlite3_column_int(stmt, 1);
		}
		out->updated_at = sqlite3_column_int64(stmt, 2);
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if(rc == SQLITE_ROW){
		return OTA_STORE_OK;
	}
	return rc == SQLITE_DONE ? OTA_STORE_NOT_FOUND : fail(store, "reading a device");
}

int ota_store_task_ids(struct ota_store *store, int64_t **out)
{
	return read_ids(store, store->stmt[ST_TASK_IDS_ALL], out);
}

static int count_tasks(struct ota_store *store, enum stmt_id id, int64_t *out)
{
	sqlite3_stmt *stmt = store->stmt[id];
	int rc = sqlite3_step(stmt);

	if(rc == SQLITE_ROW){
		*out = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? OTA_STORE_OK : fail(store, "counting tasks");
}

int ota_store_task_count(struct ota_store *store, int64_t *out)
{
	return count_tasks(store, ST_TASK_COUNT_ALL, out);
}

int ota_store_task_count_live(struct ota_store *store, int64_t *out)
{
	return count_tasks(store, ST_TASK_COUNT_LIVE, out);
}

int ota_store_tasks_ended_before(struct ota_store *store, int64_t before_ms,
	int limit, int64_t **out)
{
	sqlite3_stmt *stmt = store->stmt[ST_TASKS_ENDED_BEFORE];

	sqlite3_bind_int64(stmt, 1, before_ms);
	sqlite3_bind_int(stmt, 2, limit);
	return read_ids(store, stmt, out);
}

int ota_store_task_delete(struct ota_store *store, int64_t id)
{
	row_cache_clear(store);
	sqlite3_bind_int64(store->stmt[ST_HISTORY_DELETE_TASK], 1, id);
	if(step_done(store, ST_HISTORY_DELETE_TASK, "deleting a task's history")){
		return OTA_STORE_ERROR;
	}
	sqlite3_bind_int64(store->stmt[ST_TASK_DELETE], 1, id);
	return step_done(store, ST_TASK_DELETE, "deleting a task");
}
