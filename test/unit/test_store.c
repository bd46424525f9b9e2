/*
 * Unit tests of the SQLite store on a real database file in a fresh
 * temporary folder. They cover schema and migrations, round trips of every
 * record, due rows, transactions, and the errors an operator sees at
 * start. A second, plain SQLite connection reads what the store wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ota_store.h"
#include "schema.h"

#include "check.h"

struct fixture {
	char dir[256];
	char path[300];
	struct ota_store *store;
};

/* Opens without the row cache, so that row reads go through SQLite. The
 * tests of the cache reopen with one. */
static struct ota_store *open_store_with_cache(const char *path, int row_cache,
	char *err, size_t err_size)
{
	struct ota_store_options options = {
		.path = path,
		.durability = OTA_DURABILITY_SYNC,
		.exclusive = false,
		.row_cache = row_cache,
	};

	return ota_store_open(&options, err, err_size);
}

static struct ota_store *open_store(const char *path, char *err, size_t err_size)
{
	return open_store_with_cache(path, 0, err, err_size);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char err[512] = "";

	checks_reset(state);
	if(!f){
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/ota-store-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if(!mkdtemp(f->dir)){
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/ota.db", f->dir);
	f->store = open_store(f->path, err, sizeof(err));
	if(!f->store){
		print_error("open %s: %s\n", f->path, err);
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static void remove_database(const char *path)
{
	const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
	char name[320];

	for(size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++){
		snprintf(name, sizeof(name), "%s%s", path, suffixes[i]);
		unlink(name);
	}
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ota_store_close(f->store);
	remove_database(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Reads the first value of a query through a separate connection, as
 * text, into `out`. SQL NULL reads as "NULL". */
static void query_text(const char *path, const char *sql, char *out, size_t size)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK){
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	}
	if(sqlite3_step(stmt) == SQLITE_ROW){
		const unsigned char *text = sqlite3_column_text(stmt, 0);

		snprintf(out, size, "%s", text ? (const char *)text : "NULL");
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

static long long query_int(const char *path, const char *sql)
{
	char text[64];

	query_text(path, sql, text, sizeof(text));
	return strtoll(text, NULL, 10);
}

/* A task with every field set to a value other than its default. */
static void sample_task(struct ota_task *task, int64_t id)
{
	memset(task, 0, sizeof(*task));
	task->id = id;
	snprintf(task->name, sizeof(task->name), "Gateway firmware rollout");
	snprintf(task->version, sizeof(task->version), "\"1.2.3\"");
	snprintf(task->url, sizeof(task->url), "/profile/iot/1/2024-0824-001954.bin");
	task->extra = "{\"checksum\":{\"sha256\":\"9f86d0\"},\"size\":1024}";
	task->leading_slash = false;
	task->from_api = true;
	task->state = OTA_TASK_SCHEDULED;
	task->timeout_s = 600;
	task->max_retries = 3;
	task->retry_delay_s = 120;
	task->max_concurrent = 50;
	task->abort_failure_percent = 20;
	task->abort_min_finished = 10;
	task->start_at = 1724482200000LL;
	task->end_at = 1724568600000LL;
	task->created_at = 1724482100000LL;
	task->updated_at = 1724482150000LL;
}

static void sample_row(struct ota_device_row *row, int64_t task_id, const char *serial,
	int64_t due_at)
{
	memset(row, 0, sizeof(*row));
	row->task_id = task_id;
	snprintf(row->serial, sizeof(row->serial), "%s", serial);
	row->row.status = OTA_REPLY;
	row->row.progress = 70;
	row->row.reason = OTA_REASON_NONE;
	row->row.attempts = 2;
	row->row.announced = true;
	row->due_at = due_at;
	row->updated_at = 1724482290405LL;
}

static void insert_sample_task(struct ota_store *store, int64_t id)
{
	struct ota_task task;

	sample_task(&task, id);
	assert_int_equal(ota_store_task_insert(store, &task), OTA_STORE_OK);
}

/* ===================================================================== */
/* Opening                                                               */
/* ===================================================================== */

static void store_open_creates_schema(void **state)
{
	struct fixture *f = *state;
	char mode[32];

	assert_int_equal(query_int(f->path, "PRAGMA user_version"), ota_schema_migration_count);
	query_text(f->path, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM sqlite_master"
		" WHERE type = 'table' AND name IN ('task', 'task_device', 'device', 'history')"), 4);
}

static void store_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row row;
	struct ota_device_row got;
	struct ota_task task;
	char err[512] = "";
	char version[OTA_VERSION_MAX + 3];

	insert_sample_task(f->store, 26);
	sample_row(&row, 26, "D1832O34Z5M1", 0);
	assert_int_equal(ota_store_row_put(f->store, &row), OTA_STORE_OK);
	assert_int_equal(ota_store_device_set_version(f->store, "D1832O34Z5M1", "1.2", 1),
		OTA_STORE_OK);
	ota_store_close(f->store);

	f->store = open_store(f->path, err, sizeof(err));
	assert_non_null(f->store);
	assert_int_equal(ota_store_task_get(f->store, 26, &task), OTA_STORE_OK);
	ota_task_clear(&task);
	assert_int_equal(ota_store_row_get(f->store, 26, "D1832O34Z5M1", &got), OTA_STORE_OK);
	assert_int_equal(got.row.progress, 70);
	assert_int_equal(ota_store_device_get_version(f->store, "D1832O34Z5M1", version,
		sizeof(version)), OTA_STORE_OK);
	assert_string_equal(version, "1.2");
	assert_int_equal(query_int(f->path, "PRAGMA user_version"), ota_schema_migration_count);
}

static void store_open_missing_folder_fails(void **state)
{
	struct fixture *f = *state;
	char path[400];
	char err[512] = "";

	snprintf(path, sizeof(path), "%s/missing/ota.db", f->dir);
	assert_null(open_store(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
}

static void store_rejects_newer_schema(void **state)
{
	struct fixture *f = *state;
	char path[400];
	char pragma[64];
	char err[512] = "";
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/newer.db", f->dir);
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		ota_schema_migration_count + 1);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_null(open_store(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(query_int(path, "PRAGMA user_version"), ota_schema_migration_count + 1);
	remove_database(path);
}

/* ===================================================================== */
/* Tasks                                                                 */
/* ===================================================================== */

static void check_task_equal(const struct ota_task *got, const struct ota_task *want)
{
	CHECK(got->id == want->id, "id %lld, expected %lld", (long long)got->id,
		(long long)want->id);
	CHECK(strcmp(got->name, want->name) == 0, "name '%s', expected '%s'",
		got->name, want->name);
	CHECK(strcmp(got->version, want->version) == 0, "version %s, expected %s",
		got->version, want->version);
	CHECK(strcmp(got->url, want->url) == 0, "url %s, expected %s", got->url, want->url);
	CHECK((got->extra == NULL) == (want->extra == NULL), "extra is %s, expected %s",
		got->extra ? got->extra : "NULL", want->extra ? want->extra : "NULL");
	CHECK(!got->extra || !want->extra || strcmp(got->extra, want->extra) == 0,
		"extra %s, expected %s", got->extra, want->extra);
	CHECK(got->leading_slash == want->leading_slash, "leading_slash %d, expected %d",
		got->leading_slash, want->leading_slash);
	CHECK(got->from_api == want->from_api, "from_api %d, expected %d",
		got->from_api, want->from_api);
	CHECK(got->state == want->state, "state %d, expected %d", got->state, want->state);
	CHECK(got->timeout_s == want->timeout_s, "timeout_s %d, expected %d",
		got->timeout_s, want->timeout_s);
	CHECK(got->max_retries == want->max_retries, "max_retries %d, expected %d",
		got->max_retries, want->max_retries);
	CHECK(got->retry_delay_s == want->retry_delay_s, "retry_delay_s %d, expected %d",
		got->retry_delay_s, want->retry_delay_s);
	CHECK(got->max_concurrent == want->max_concurrent, "max_concurrent %d, expected %d",
		got->max_concurrent, want->max_concurrent);
	CHECK(got->abort_failure_percent == want->abort_failure_percent,
		"abort_failure_percent %d, expected %d",
		got->abort_failure_percent, want->abort_failure_percent);
	CHECK(got->abort_min_finished == want->abort_min_finished,
		"abort_min_finished %d, expected %d",
		got->abort_min_finished, want->abort_min_finished);
	CHECK(got->start_at == want->start_at, "start_at %lld, expected %lld",
		(long long)got->start_at, (long long)want->start_at);
	CHECK(got->end_at == want->end_at, "end_at %lld, expected %lld",
		(long long)got->end_at, (long long)want->end_at);
	CHECK(got->created_at == want->created_at, "created_at %lld, expected %lld",
		(long long)got->created_at, (long long)want->created_at);
	CHECK(got->updated_at == want->updated_at, "updated_at %lld, expected %lld",
		(long long)got->updated_at, (long long)want->updated_at);
}

static void store_task_round_trip(void **state)
{
	struct fixture *f = *state;
	struct ota_task api_task;
	struct ota_task set_task;
	struct ota_task got;

	sample_task(&api_task, 26);
	assert_int_equal(ota_store_task_insert(f->store, &api_task), OTA_STORE_OK);

	/* The other value of every flag, and the fields that may be empty. */
	memset(&set_task, 0, sizeof(set_task));
	set_task.id = 9007199254740991LL;
	snprintf(set_task.version, sizeof(set_task.version), "1.2");
	snprintf(set_task.url, sizeof(set_task.url), "/fw.bin");
	set_task.leading_slash = true;
	set_task.from_api = false;
	set_task.state = OTA_TASK_RUNNING;
	set_task.timeout_s = 1800;
	set_task.retry_delay_s = 60;
	set_task.created_at = 1724482221250LL;
	set_task.updated_at = 1724482221250LL;
	assert_int_equal(ota_store_task_insert(f->store, &set_task), OTA_STORE_OK);

	assert_int_equal(ota_store_task_get(f->store, 26, &got), OTA_STORE_OK);
	check_task_equal(&got, &api_task);
	ota_task_clear(&got);
	assert_int_equal(ota_store_task_get(f->store, 9007199254740991LL, &got), OTA_STORE_OK);
	check_task_equal(&got, &set_task);
	ota_task_clear(&got);
	assert_checks_passed();
}

static void store_task_unknown_id(void **state)
{
	struct fixture *f = *state;
	struct ota_task got;

	insert_sample_task(f->store, 26);
	assert_int_equal(ota_store_task_get(f->store, 27, &got), OTA_STORE_NOT_FOUND);
}

static void store_task_duplicate_id_fails(void **state)
{
	struct fixture *f = *state;
	struct ota_task task;

	insert_sample_task(f->store, 26);
	sample_task(&task, 26);
	assert_int_equal(ota_store_task_insert(f->store, &task), OTA_STORE_ERROR);
	assert_non_null(strstr(ota_store_error(f->store), f->path));
}

static void store_task_state_and_max_id(void **state)
{
	struct fixture *f = *state;
	struct ota_task got;
	int64_t max_id = -1;

	assert_int_equal(ota_store_task_max_id(f->store, &max_id), OTA_STORE_OK);
	assert_int_equal(max_id, 0);
	insert_sample_task(f->store, 7);
	insert_sample_task(f->store, 26);
	insert_sample_task(f->store, 12);
	assert_int_equal(ota_store_task_max_id(f->store, &max_id), OTA_STORE_OK);
	assert_int_equal(max_id, 26);

	assert_int_equal(ota_store_task_set_state(f->store, 12, OTA_TASK_CANCELLED,
		1724482999000LL), OTA_STORE_OK);
	assert_int_equal(ota_store_task_get(f->store, 12, &got), OTA_STORE_OK);
	ota_task_clear(&got);
	assert_int_equal(got.state, OTA_TASK_CANCELLED);
	assert_int_equal(got.updated_at, 1724482999000LL);
}

/* ===================================================================== */
/* Device rows                                                           */
/* ===================================================================== */

static void check_row_equal(const struct ota_device_row *got,
	const struct ota_device_row *want)
{
	CHECK(got->task_id == want->task_id, "task_id %lld, expected %lld",
		(long long)got->task_id, (long long)want->task_id);
	CHECK(strcmp(got->serial, want->serial) == 0, "serial %s, expected %s",
		got->serial, want->serial);
	CHECK(got->row.status == want->row.status, "status %d, expected %d",
		got->row.status, want->row.status);
	CHECK(got->row.progress == want->row.progress, "progress %d, expected %d",
		got->row.progress, want->row.progress);
	CHECK(got->row.reason == want->row.reason, "reason %d, expected %d",
		got->row.reason, want->row.reason);
	CHECK(got->row.attempts == want->row.attempts, "attempts %d, expected %d",
		got->row.attempts, want->row.attempts);
	CHECK(got->row.announced == want->row.announced, "announced %d, expected %d",
		got->row.announced, want->row.announced);
	CHECK(strcmp(got->message, want->message) == 0, "message '%s', expected '%s'",
		got->message, want->message);
	CHECK(got->due_at == want->due_at, "due_at %lld, expected %lld",
		(long long)got->due_at, (long long)want->due_at);
	CHECK(got->updated_at == want->updated_at, "updated_at %lld, expected %lld",
		(long long)got->updated_at, (long long)want->updated_at);
}

static void store_row_round_trip(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row row;
	struct ota_device_row got;

	insert_sample_task(f->store, 26);
	sample_row(&row, 26, "D1832O34Z5M1", 1724484090405LL);
	assert_int_equal(ota_store_row_put(f->store, &row), OTA_STORE_OK);
	assert_int_equal(ota_store_row_get(f->store, 26, "D1832O34Z5M1", &got), OTA_STORE_OK);
	check_row_equal(&got, &row);
	assert_checks_passed();
}

static void store_row_put_replaces(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row row;
	struct ota_device_row got;

	insert_sample_task(f->store, 26);
	sample_row(&row, 26, "D1832O34Z5M1", 1724484090405LL);
	assert_int_equal(ota_store_row_put(f->store, &row), OTA_STORE_OK);

	row.row.status = OTA_FAILED;
	row.row.reason = OTA_REASON_TIMED_OUT;
	row.row.progress = 0;
	row.row.attempts = 3;
	row.row.announced = false;
	snprintf(row.message, sizeof(row.message), "timed out");
	row.due_at = 0;
	row.updated_at = 1724484090406LL;
	assert_int_equal(ota_store_row_put(f->store, &row), OTA_STORE_OK);

	assert_int_equal(ota_store_row_get(f->store, 26, "D1832O34Z5M1", &got), OTA_STORE_OK);
	check_row_equal(&got, &row);
	assert_checks_passed();
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM task_device"), 1);
}

static void store_row_unknown_serial(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row row;
	struct ota_device_row got;

	insert_sample_task(f->store, 26);
	sample_row(&row, 26, "D1832O34Z5M1", 0);
	assert_int_equal(ota_store_row_put(f->store, &row), OTA_STORE_OK);
	assert_int_equal(ota_store_row_get(f->store, 26, "D1832O34Z5M2", &got),
		OTA_STORE_NOT_FOUND);
	assert_int_equal(ota_store_row_get(f->store, 27, "D1832O34Z5M1", &got),
		OTA_STORE_NOT_FOUND);
}

/* Reopens the fixture's database with a row cache of `slots` slots. */
static void reopen_with_cache(struct fixture *f, int slots)
{
	char err[512] = "";

	ota_store_close(f->store);
	f->store = open_store_with_cache(f->path, slots, err, sizeof(err));
	if(!f->store){
		fail_msg("reopen %s: %s", f->path, err);
	}
}

/* One slot: every row evicts the one before, so reads alternate between
 * the cache and the database, and both must agree with what was written. */
static void store_row_cache_agrees_with_database(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row a;
	struct ota_device_row b;
	struct ota_device_row got;
	char text[64];

	reopen_with_cache(f, 1);
	insert_sample_task(f->store, 26);
	sample_row(&a, 26, "DEV-A", 1000);
	sample_row(&b, 26, "DEV-B", 2000);
	assert_int_equal(ota_store_row_put(f->store, &a), OTA_STORE_OK);
	assert_int_equal(ota_store_row_put(f->store, &b), OTA_STORE_OK);

	assert_int_equal(ota_store_row_get(f->store, 26, "DEV-A", &got), OTA_STORE_OK);
	check_row_equal(&got, &a);
	assert_int_equal(ota_store_row_get(f->store, 26, "DEV-A", &got), OTA_STORE_OK);
	check_row_equal(&got, &a);
	assert_int_equal(ota_store_row_get(f->store, 27, "DEV-A", &got), OTA_STORE_NOT_FOUND);

	b.row.status = OTA_REPLY;
	b.row.progress = 40;
	b.updated_at = 2001;
	assert_int_equal(ota_store_row_update_keep_due(f->store, &b), OTA_STORE_OK);
	b.row.progress = 60;
	b.updated_at = 2002;
	assert_int_equal(ota_store_row_update_progress(f->store, &b), OTA_STORE_OK);
	assert_int_equal(ota_store_row_get(f->store, 26, "DEV-B", &got), OTA_STORE_OK);
	check_row_equal(&got, &b);
	query_text(f->path, "SELECT status || ' ' || progress || ' ' || updated_at"
		" FROM task_device WHERE serial = 'DEV-B'", text, sizeof(text));
	CHECK(strcmp(text, "2 60 2002") == 0, "DEV-B in the database is %s", text);
	assert_checks_passed();
}

/* Reopens with a row cache of 64 slots and writes DEV-A's row of task 26,
 * which the cache then holds. */
static void put_cached_row(struct fixture *f, struct ota_device_row *row)
{
	reopen_with_cache(f, 64);
	insert_sample_task(f->store, 26);
	sample_row(row, 26, "DEV-A", 1000);
	assert_int_equal(ota_store_row_put(f->store, row), OTA_STORE_OK);
}

static void store_row_cache_forgets_rolled_back_rows(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row row;
	struct ota_device_row got;

	put_cached_row(f, &row);
	assert_int_equal(ota_store_begin(f->store), OTA_STORE_OK);
	row.row.progress = 90;
	assert_int_equal(ota_store_row_update_progress(f->store, &row), OTA_STORE_OK);
	ota_store_rollback(f->store);

	row.row.progress = 70;
	assert_int_equal(ota_store_row_get(f->store, 26, "DEV-A", &got), OTA_STORE_OK);
	check_row_equal(&got, &row);
	assert_checks_passed();
}

static void store_row_cache_forgets_deleted_tasks(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row row;
	struct ota_device_row got;

	put_cached_row(f, &row);
	assert_int_equal(ota_store_task_delete(f->store, 26), OTA_STORE_OK);
	assert_int_equal(ota_store_row_get(f->store, 26, "DEV-A", &got), OTA_STORE_NOT_FOUND);
}

/* A form written in a rolled-back transaction is written again. */
static void store_form_cache_forgets_rolled_back_forms(void **state)
{
	struct fixture *f = *state;

	reopen_with_cache(f, 64);
	assert_int_equal(ota_store_device_set_form(f->store, "DEV-A", false, 1), OTA_STORE_OK);
	assert_int_equal(ota_store_begin(f->store), OTA_STORE_OK);
	assert_int_equal(ota_store_device_set_form(f->store, "DEV-A", true, 2), OTA_STORE_OK);
	ota_store_rollback(f->store);
	assert_int_equal(query_int(f->path,
		"SELECT leading_slash FROM device WHERE serial = 'DEV-A'"), 0);

	assert_int_equal(ota_store_device_set_form(f->store, "DEV-A", true, 3), OTA_STORE_OK);
	assert_int_equal(query_int(f->path,
		"SELECT leading_slash FROM device WHERE serial = 'DEV-A'"), 1);
	assert_int_equal(ota_store_device_set_form(f->store, "DEV-A", false, 4), OTA_STORE_OK);
	assert_int_equal(query_int(f->path,
		"SELECT leading_slash FROM device WHERE serial = 'DEV-A'"), 0);
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Many small commits with checkpoints every 100 pages: the checkpoint
 * thread copies pages into the database file while the store stays open,
 * the WAL stays near its limit, and every row survives a reopen. */
static void store_checkpoints_bound_the_wal(void **state)
{
	struct fixture *f = *state;
	struct ota_store_options options = {
		.path = f->path,
		.durability = OTA_DURABILITY_SYNC,
		.checkpoint_pages = 100,
	};
	char wal[320];
	char err[512] = "";
	long largest_wal = 0;
	long db_before;

	ota_store_close(f->store);
	f->store = ota_store_open(&options, err, sizeof(err));
	assert_non_null(f->store);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	insert_sample_task(f->store, 26);
	db_before = file_size(f->path);

	for(int i = 0; i < 2000; i++){
		struct ota_device_row row;
		char serial[32];
		long size;

		snprintf(serial, sizeof(serial), "DEV-%05d", i);
		sample_row(&row, 26, serial, 1000 + i);
		assert_int_equal(ota_store_begin(f->store), OTA_STORE_OK);
		assert_int_equal(ota_store_row_put(f->store, &row), OTA_STORE_OK);
		assert_int_equal(ota_store_history_add(f->store, 26, serial, OTA_SEND, -1, NULL, i),
			OTA_STORE_OK);
		assert_int_equal(ota_store_commit(f->store), OTA_STORE_OK);
		size = file_size(wal);
		if(size > largest_wal){
			largest_wal = size;
		}
	}
	/* Twice the limit of 100 frames of 1,048 bytes (page and frame
	 * header), and the frames of one more commit. */
	CHECK(largest_wal <= 2 * 100 * 1048 + 16 * 1048, "WAL grew to %ld bytes", largest_wal);
	CHECK(file_size(f->path) > db_before, "database file stayed at %ld bytes", db_before);
	assert_checks_passed();

	ota_store_close(f->store);
	f->store = open_store(f->path, err, sizeof(err));
	assert_non_null(f->store);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM task_device"), 2000);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM history"), 2000);
	{
		char check[64];

		query_text(f->path, "PRAGMA integrity_check", check, sizeof(check));
		assert_string_equal(check, "ok");
	}
}

/* ===================================================================== */
/* Deadlines                                                             */
/* ===================================================================== */

struct due_list {
	int count;
	char serials[8][OTA_SERIAL_MAX + 1];
	int64_t due_at[8];
};

static void collect_due(const struct ota_device_row *row, void *arg)
{
	struct due_list *list = arg;

	if(list->count < 8){
		snprintf(list->serials[list->count], sizeof(list->serials[0]), "%s", row->serial);
		list->due_at[list->count] = row->due_at;
	}
	list->count++;
}

/* Rows D0 (no deadline) and D1..D5 with deadlines out of order. */
static void insert_due_rows(struct ota_store *store)
{
	static const struct {
		const char *serial;
		int64_t due_at;
	} rows[] = {
		{"D0", 0}, {"D3", 3000}, {"D1", 1000}, {"D5", 5000}, {"D2", 2000},
		{"D4", 3001},
	};
	struct ota_device_row row;

	insert_sample_task(store, 26);
	for(size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++){
		sample_row(&row, 26, rows[i].serial, rows[i].due_at);
		assert_int_equal(ota_store_row_put(store, &row), OTA_STORE_OK);
	}
}

static void store_rows_due_oldest_first(void **state)
{
	struct fixture *f = *state;
	struct due_list list = {0};
	const char *expected[] = {"D1", "D2", "D3"};

	insert_due_rows(f->store);
	assert_int_equal(ota_store_rows_due(f->store, 3000, 10, collect_due, &list), 3);
	assert_int_equal(list.count, 3);
	for(int i = 0; i < 3; i++){
		CHECK(strcmp(list.serials[i], expected[i]) == 0, "due row %d is %s, expected %s",
			i, list.serials[i], expected[i]);
	}
	assert_checks_passed();
}

static void store_rows_due_respects_limit(void **state)
{
	struct fixture *f = *state;
	struct due_list list = {0};

	insert_due_rows(f->store);
	assert_int_equal(ota_store_rows_due(f->store, 10000, 2, collect_due, &list), 2);
	assert_int_equal(list.count, 2);
	assert_string_equal(list.serials[0], "D1");
	assert_string_equal(list.serials[1], "D2");
}

static void store_rows_due_none_yet(void **state)
{
	struct fixture *f = *state;
	struct due_list list = {0};

	insert_due_rows(f->store);
	assert_int_equal(ota_store_rows_due(f->store, 999, 10, collect_due, &list), 0);
	assert_int_equal(list.count, 0);
}

static void store_next_due_earliest_deadline(void **state)
{
	struct fixture *f = *state;
	int64_t next = -1;

	assert_int_equal(ota_store_next_due(f->store, &next), OTA_STORE_OK);
	assert_int_equal(next, 0);
	insert_due_rows(f->store);
	assert_int_equal(ota_store_next_due(f->store, &next), OTA_STORE_OK);
	assert_int_equal(next, 1000);
}

/* ===================================================================== */
/* History and devices                                                   */
/* ===================================================================== */

static void store_history_add_records_entry(void **state)
{
	struct fixture *f = *state;
	char text[128];

	assert_int_equal(ota_store_history_add(f->store, 26, "D1832O34Z5M1", OTA_REPLY, 50,
		NULL, 1724482251326LL), OTA_STORE_OK);
	assert_int_equal(ota_store_history_add(f->store, 26, "D1832O34Z5M1", OTA_FAILED, -1,
		"timed out", 1724484051326LL), OTA_STORE_OK);

	assert_int_equal(query_int(f->path, "SELECT count(*) FROM history"), 2);
	query_text(f->path, "SELECT task_id || ' ' || serial || ' ' || status || ' '"
		" || progress || ' ' || ifnull(message, 'NULL') || ' ' || at"
		" FROM history ORDER BY id LIMIT 1", text, sizeof(text));
	assert_string_equal(text, "26 D1832O34Z5M1 2 50 NULL 1724482251326");
	query_text(f->path, "SELECT status || ' ' || ifnull(progress, 'NULL') || ' '"
		" || message || ' ' || at FROM history ORDER BY id DESC LIMIT 1",
		text, sizeof(text));
	assert_string_equal(text, "4 NULL timed out 1724484051326");
}

static void store_device_version_round_trip(void **state)
{
	struct fixture *f = *state;
	char version[OTA_VERSION_MAX + 3] = "stale";

	assert_int_equal(ota_store_device_get_version(f->store, "D1832O34Z5M1", version,
		sizeof(version)), OTA_STORE_NOT_FOUND);
	assert_string_equal(version, "");

	assert_int_equal(ota_store_device_set_version(f->store, "D1832O34Z5M1", "1.2",
		1724482308749LL), OTA_STORE_OK);
	assert_int_equal(ota_store_device_get_version(f->store, "D1832O34Z5M1", version,
		sizeof(version)), OTA_STORE_OK);
	assert_string_equal(version, "1.2");

	assert_int_equal(ota_store_device_set_version(f->store, "D1832O34Z5M1", "\"1.3.0\"",
		1724482308750LL), OTA_STORE_OK);
	assert_int_equal(ota_store_device_get_version(f->store, "D1832O34Z5M1", version,
		sizeof(version)), OTA_STORE_OK);
	assert_string_equal(version, "\"1.3.0\"");
}

static void store_device_form_keeps_version(void **state)
{
	struct fixture *f = *state;
	char version[OTA_VERSION_MAX + 3];

	assert_int_equal(ota_store_device_set_version(f->store, "D1832O34Z5M1", "1.2",
		1724482308749LL), OTA_STORE_OK);
	assert_int_equal(ota_store_device_set_form(f->store, "D1832O34Z5M1", false,
		1724482308750LL), OTA_STORE_OK);
	assert_int_equal(query_int(f->path,
		"SELECT leading_slash FROM device WHERE serial = 'D1832O34Z5M1'"), 0);
	assert_int_equal(ota_store_device_get_version(f->store, "D1832O34Z5M1", version,
		sizeof(version)), OTA_STORE_OK);
	assert_string_equal(version, "1.2");

	assert_int_equal(ota_store_device_set_form(f->store, "D1832O34Z5M1", true,
		1724482308751LL), OTA_STORE_OK);
	assert_int_equal(query_int(f->path,
		"SELECT leading_slash FROM device WHERE serial = 'D1832O34Z5M1'"), 1);

	/* A device first seen through its topic form has no version yet. */
	assert_int_equal(ota_store_device_set_form(f->store, "A0000000002", true,
		1724482308752LL), OTA_STORE_OK);
	assert_int_equal(ota_store_device_get_version(f->store, "A0000000002", version,
		sizeof(version)), OTA_STORE_OK);
	assert_string_equal(version, "");
}

/* ===================================================================== */
/* Transactions                                                          */
/* ===================================================================== */

static void store_rollback_discards_changes(void **state)
{
	struct fixture *f = *state;
	struct ota_task got;

	assert_false(ota_store_in_transaction(f->store));
	assert_int_equal(ota_store_begin(f->store), OTA_STORE_OK);
	assert_true(ota_store_in_transaction(f->store));
	insert_sample_task(f->store, 26);
	assert_int_equal(ota_store_history_add(f->store, 26, "D1", OTA_SEND, -1, NULL, 1),
		OTA_STORE_OK);
	ota_store_rollback(f->store);

	assert_false(ota_store_in_transaction(f->store));
	assert_int_equal(ota_store_task_get(f->store, 26, &got), OTA_STORE_NOT_FOUND);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM history"), 0);
}

static void store_commit_keeps_changes(void **state)
{
	struct fixture *f = *state;
	struct ota_task got;

	assert_int_equal(ota_store_begin(f->store), OTA_STORE_OK);
	insert_sample_task(f->store, 26);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM task"), 0);
	assert_int_equal(ota_store_commit(f->store), OTA_STORE_OK);

	assert_false(ota_store_in_transaction(f->store));
	assert_int_equal(ota_store_task_get(f->store, 26, &got), OTA_STORE_OK);
	ota_task_clear(&got);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM task"), 1);
}

static void store_task_state_names(void **state)
{
	static const char *const names[] = {"scheduled", "running", "finished",
		"cancelled", "aborted", "expired"};

	(void)state;
	for(int i = 0; i < 6; i++){
		CHECK(strcmp(ota_task_state_name(i), names[i]) == 0, "state %d is named %s", i,
			ota_task_state_name(i));
		CHECK(ota_task_state_parse(names[i]) == i, "%s parses as %d", names[i],
			ota_task_state_parse(names[i]));
	}
	CHECK(ota_task_state_parse("paused") == -1, "paused parses as a state");
	assert_checks_passed();
}

#define store_test(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		store_test(store_open_creates_schema),
		store_test(store_reopen_keeps_data),
		store_test(store_open_missing_folder_fails),
		store_test(store_rejects_newer_schema),
		store_test(store_task_round_trip),
		store_test(store_task_unknown_id),
		store_test(store_task_duplicate_id_fails),
		store_test(store_task_state_and_max_id),
		store_test(store_row_round_trip),
		store_test(store_row_put_replaces),
		store_test(store_row_unknown_serial),
		store_test(store_row_cache_agrees_with_database),
		store_test(store_row_cache_forgets_rolled_back_rows),
		store_test(store_row_cache_forgets_deleted_tasks),
		store_test(store_form_cache_forgets_rolled_back_forms),
		store_test(store_checkpoints_bound_the_wal),
		store_test(store_rows_due_oldest_first),
		store_test(store_rows_due_respects_limit),
		store_test(store_rows_due_none_yet),
		store_test(store_next_due_earliest_deadline),
		store_test(store_history_add_records_entry),
		store_test(store_device_version_round_trip),
		store_test(store_device_form_keeps_version),
		store_test(store_rollback_discards_changes),
		store_test(store_commit_keeps_changes),
		table_test(store_task_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
