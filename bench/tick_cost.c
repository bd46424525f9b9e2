/*
 * Cost of a tick with nothing due on a large database. It fills a fresh
 * database with plain SQL in one transaction (tasks of rows_per_task
 * devices, most rows finished, the rest in SEND with a timeout a day
 * away), opens the tracker on it, and times ota_tracker_tick over many
 * calls. The first tick of a tracker also loads every task's row counts,
 * so it is timed apart from the steady state. The database is kept for
 * the broker start and reply cost runs.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ota_config.h"
#include "ota_tracker.h"

#define DAY_MS 86400000LL

struct fill {
	const char *path;
	int rows;
	int rows_per_task;
	int pending_percent;   /* rows in SEND with a future deadline */
};

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long published;

/* Counts what the tracker publishes (summaries at start) and drops it. */
static int count_publish(void *ctx, const char *topic, const char *payload,
	size_t len, int qos, bool retain)
{
	(void)ctx;
	(void)topic;
	(void)payload;
	(void)len;
	(void)qos;
	(void)retain;
	published++;
	return 0;
}

static struct ota_tracker *open_tracker(const char *path, char *err, size_t size)
{
	struct ota_config config;
	struct ota_io io = {.publish = count_publish};
	struct ota_tracker *tracker;

	ota_config_init(&config);
	ota_config_set(&config, "db_path", path, err, size);
	tracker = ota_tracker_new(&config, &io, err, size);
	ota_config_free(&config);
	return tracker;
}

static int fail(sqlite3 *db, const char *step)
{
	fprintf(stderr, "tick_cost: %s failed: %s\n", step, sqlite3_errmsg(db));
	sqlite3_close(db);
	return -1;
}

/* Inserts the tasks and rows in one transaction. The columns are those of
 * schema/001_init.sql; later migrations must give new columns defaults. */
static int fill_database(const struct fill *fill)
{
	const char *task_sql = "INSERT INTO task (id, version, url, leading_slash,"
		" origin, state, timeout_s, created_at, updated_at)"
		" VALUES (?1, '1.2', '/bench/firmware-1.2.bin', 1, 'api', 'running',"
		" 1800, ?2, ?2)";
	const char *row_sql = "INSERT INTO task_device (task_id, serial, status,"
		" progress, attempts, due_at, updated_at) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)";
	int64_t now = wall_ms();
	sqlite3_stmt *task = NULL;
	sqlite3_stmt *row = NULL;
	sqlite3 *db;
	char serial[32];

	if(sqlite3_open(fill->path, &db) != SQLITE_OK){
		return fail(db, "opening the database");
	}
	if(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK
			|| sqlite3_prepare_v2(db, task_sql, -1, &task, NULL) != SQLITE_OK
			|| sqlite3_prepare_v2(db, row_sql, -1, &row, NULL) != SQLITE_OK){
		return fail(db, "preparing the inserts");
	}
	for(int i = 0; i < fill->rows; i++){
		int64_t task_id = i / fill->rows_per_task + 1;
		bool pending = i % 100 < fill->pending_percent;

		if(i % fill->rows_per_task == 0){
			sqlite3_bind_int64(task, 1, task_id);
			sqlite3_bind_int64(task, 2, now);
			if(sqlite3_step(task) != SQLITE_DONE){
				return fail(db, "inserting a task");
			}
			sqlite3_reset(task);
		}
		snprintf(serial, sizeof(serial), "DEV%07d", i % fill->rows_per_task);
		sqlite3_bind_int64(row, 1, task_id);
		sqlite3_bind_text(row, 2, serial, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(row, 3, pending ? 1 : 3);
		sqlite3_bind_int(row, 4, pending ? 0 : 100);
		if(pending){
			sqlite3_bind_int64(row, 5, now + DAY_MS);
		}else{
			sqlite3_bind_null(row, 5);
		}
		sqlite3_bind_int64(row, 6, now);
		if(sqlite3_step(row) != SQLITE_DONE){
			return fail(db, "inserting a row");
		}
		sqlite3_reset(row);
	}
	sqlite3_finalize(task);
	sqlite3_finalize(row);
	if(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK
			|| sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL)
				!= SQLITE_OK){
		return fail(db, "committing");
	}
	sqlite3_close(db);
	return 0;
}

static int compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void remove_database(const char *path)
{
	char name[4096];

	unlink(path);
	snprintf(name, sizeof(name), "%s-wal", path);
	unlink(name);
	snprintf(name, sizeof(name), "%s-shm", path);
	unlink(name);
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"db", required_argument, NULL, 'D'},
		{"rows", required_argument, NULL, 'r'},
		{"rows-per-task", required_argument, NULL, 't'},
		{"pending-percent", required_argument, NULL, 'P'},
		{"ticks", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	struct fill fill = {.rows = 1000000, .rows_per_task = 10000, .pending_percent = 10};
	struct ota_tracker *tracker;
	int ticks = 100000;
	int64_t *samples;
	int64_t started;
	int64_t total = 0;
	double fill_s;
	double open_ms;
	double first_tick_ms = 0;  /* maximum tick while loading */
	double start_ms;           /* all ticks while loading */
	int start_ticks = 0;
	char err[768];
	int c;

	while((c = getopt_long(argc, argv, "", longs, NULL)) != -1){
		switch(c){
			case 'D': fill.path = optarg; break;
			case 'r': fill.rows = atoi(optarg); break;
			case 't': fill.rows_per_task = atoi(optarg); break;
			case 'P': fill.pending_percent = atoi(optarg); break;
			case 'k': ticks = atoi(optarg); break;
			default:
				fprintf(stderr, "usage: tick_cost --db PATH [--rows N] [--rows-per-task N]"
					" [--pending-percent P] [--ticks N]\n");
				return 2;
		}
	}
	if(!fill.path || fill.rows < 1 || fill.rows_per_task < 1 || ticks < 1
			|| fill.pending_percent < 0 || fill.pending_percent > 100){
		fprintf(stderr, "tick_cost: --db is required; counts must be positive\n");
		return 2;
	}

	remove_database(fill.path);
	tracker = open_tracker(fill.path, err, sizeof(err));
	if(!tracker){
		fprintf(stderr, "tick_cost: %s\n", err);
		return 1;
	}
	ota_tracker_free(tracker);
	started = monotonic_ns();
	if(fill_database(&fill)){
		return 1;
	}
	fill_s = (double)(monotonic_ns() - started) / 1e9;

	started = monotonic_ns();
	tracker = open_tracker(fill.path, err, sizeof(err));
	open_ms = (double)(monotonic_ns() - started) / 1e6;
	samples = malloc((size_t)ticks * sizeof(*samples));
	if(!tracker || !samples){
		fprintf(stderr, "tick_cost: %s\n", tracker ? "out of memory" : err);
		return 1;
	}
	/* The ticks after a start load a few tasks each until all are in. */
	started = monotonic_ns();
	do{
		int64_t before = monotonic_ns();

		ota_tracker_tick(tracker);
		if((double)(monotonic_ns() - before) / 1e6 > first_tick_ms){
			first_tick_ms = (double)(monotonic_ns() - before) / 1e6;
		}
		start_ticks++;
	}while(!ota_tracker_started(tracker));
	start_ms = (double)(monotonic_ns() - started) / 1e6;
	for(int i = 0; i < ticks; i++){
		int64_t before = monotonic_ns();

		ota_tracker_tick(tracker);
		samples[i] = monotonic_ns() - before;
		total += samples[i];
	}
	qsort(samples, (size_t)ticks, sizeof(*samples), compare_int64);
	printf("tick rows=%d rows_per_task=%d pending_percent=%d ticks=%d fill_s=%.2f"
		" open_ms=%.2f start_ticks=%d start_ms=%.2f first_tick_ms=%.2f mean_us=%.3f"
		" p50_us=%.3f p99_us=%.3f max_us=%.3f published=%lu\n",
		fill.rows, fill.rows_per_task, fill.pending_percent, ticks, fill_s, open_ms,
		start_ticks, start_ms, first_tick_ms,
		(double)total / ticks / 1e3, (double)samples[ticks / 2] / 1e3,
		(double)samples[(size_t)ticks * 99 / 100] / 1e3,
		(double)samples[ticks - 1] / 1e3, published);
	free(samples);
	ota_tracker_free(tracker);
	return 0;
}
