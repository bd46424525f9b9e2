/*
 * Unit tests of the whole tracker without a broker. A fake I/O table
 * records what the tracker publishes and logs, and a fake clock moves only
 * when a test moves it. The database is a real SQLite file in a fresh
 * temporary folder. The private header gives access to the identity
 * helpers, the online table and the tracker's counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "tracker_internal.h"

#include "check.h"

#define DEVICE "D1832O34Z5M1"
#define OTHER_DEVICE "A0000000002"
#define TRACE_SET_TOPIC "/" DEVICE "/http/upgrade/set"
#define TRACE_REPLY_TOPIC "/" DEVICE "/http/upgrade/reply"
#define TRACE_SET \
	"{\"taskId\":26,\"url\":\"/profile/iot/1/2024-0824-001954.bin\",\"version\":1.2," \
	"\"status\":1}"
#define T0 INT64_C(1724482221250)

/* ===================================================================== */
/* Fake I/O                                                              */
/* ===================================================================== */

struct published {
	char *topic;
	char *payload;
	int qos;
	bool retain;
};

struct log_line {
	enum ota_log_level level;
	char *text;
};

struct fake_io {
	struct published *messages;
	size_t message_count;
	size_t message_cap;
	struct log_line *logs;
	size_t log_count;
	size_t log_cap;
	int64_t now_ms;
};

static void *grow_array(void *items, size_t *cap, size_t count, size_t item_size)
{
	if(count < *cap){
		return items;
	}
	*cap = *cap ? *cap * 2 : 16;
	items = realloc(items, *cap * item_size);
	assert_non_null(items);
	return items;
}

static int fake_publish(void *ctx, const char *topic, const char *payload, size_t len,
	int qos, bool retain)
{
	struct fake_io *io = ctx;
	struct published *m;

	io->messages = grow_array(io->messages, &io->message_cap, io->message_count,
		sizeof(*io->messages));
	m = &io->messages[io->message_count++];
	m->topic = strdup(topic);
	m->payload = calloc(1, len + 1);
	assert_non_null(m->topic);
	assert_non_null(m->payload);
	memcpy(m->payload, payload, len);
	m->qos = qos;
	m->retain = retain;
	return 0;
}

static void fake_log(void *ctx, enum ota_log_level level, const char *text)
{
	struct fake_io *io = ctx;

	io->logs = grow_array(io->logs, &io->log_cap, io->log_count, sizeof(*io->logs));
	io->logs[io->log_count].level = level;
	io->logs[io->log_count].text = strdup(text);
	io->log_count++;
}

static int64_t fake_clock(void *ctx)
{
	return ((struct fake_io *)ctx)->now_ms;
}

static void fake_io_free(struct fake_io *io)
{
	for(size_t i = 0; i < io->message_count; i++){
		free(io->messages[i].topic);
		free(io->messages[i].payload);
	}
	for(size_t i = 0; i < io->log_count; i++){
		free(io->logs[i].text);
	}
	free(io->messages);
	free(io->logs);
}

static bool is_status_topic(const char *topic)
{
	const char *tail = "/ws/ota/status";
	size_t len = strlen(topic);

	return len > strlen(tail) && strcmp(topic + len - strlen(tail), tail) == 0;
}

/* Returns the index of the n-th status event (0-based), or -1. */
static long status_message(const struct fake_io *io, size_t n)
{
	for(size_t i = 0; i < io->message_count; i++){
		if(is_status_topic(io->messages[i].topic) && n-- == 0){
			return (long)i;
		}
	}
	return -1;
}

static size_t status_count(const struct fake_io *io)
{
	size_t count = 0;

	for(size_t i = 0; i < io->message_count; i++){
		count += is_status_topic(io->messages[i].topic);
	}
	return count;
}

/* ===================================================================== */
/* Fixture                                                               */
/* ===================================================================== */

struct fixture {
	char dir[256];
	char path[300];
	struct ota_config config;
	struct fake_io io;
	struct ota_tracker *tracker;
	int connection; /* its address identifies the device's connection */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char err[256];

	checks_reset(state);
	if(!f){
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/ota-tracker-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if(!mkdtemp(f->dir)){
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/ota.db", f->dir);
	ota_config_init(&f->config);
	if(!ota_config_set(&f->config, "db_path", f->path, err, sizeof(err))){
		print_error("%s\n", err);
		ota_config_free(&f->config);
		rmdir(f->dir);
		free(f);
		return -1;
	}
	f->io.now_ms = T0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
	char name[320];

	ota_tracker_free(f->tracker);
	ota_config_free(&f->config);
	fake_io_free(&f->io);
	for(size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++){
		snprintf(name, sizeof(name), "%s%s", f->path, suffixes[i]);
		unlink(name);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Starts the tracker with the fixture's configuration as it is now. */
static void start_tracker(struct fixture *f)
{
	struct ota_io io = {
		.publish = fake_publish,
		.log = fake_log,
		.clock_ms = fake_clock,
		.ctx = &f->io,
	};
	char err[512] = "";

	f->tracker = ota_tracker_new(&f->config, &io, err, sizeof(err));
	if(!f->tracker){
		fail_msg("ota_tracker_new: %s", err);
	}
}

static enum ota_verdict deliver(struct fixture *f, const char *client_id,
	const char *topic, const char *payload)
{
	struct ota_client client = {
		.client_id = client_id,
		.username = NULL,
		.connection = &f->connection,
	};

	return ota_tracker_message(f->tracker, &client, topic, payload, strlen(payload));
}

static void get_row(struct fixture *f, int64_t task_id, const char *serial,
	struct ota_device_row *row)
{
	assert_int_equal(ota_store_row_get(f->tracker->store, task_id, serial, row),
		OTA_STORE_OK);
}

/* Writes every row of every table, as text, into a string from malloc.
 * Tables the schema gains later are included without changes here. */
static char *dump_database(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *tables = NULL;
	char *out = calloc(1, 1);
	size_t len = 0;

	assert_non_null(out);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master"
		" WHERE type = 'table' ORDER BY name", -1, &tables, NULL), SQLITE_OK);
	while(sqlite3_step(tables) == SQLITE_ROW){
		sqlite3_stmt *stmt = NULL;
		char query[160];

		snprintf(query, sizeof(query), "SELECT '%s', * FROM \"%s\"",
			(const char *)sqlite3_column_text(tables, 0),
			(const char *)sqlite3_column_text(tables, 0));
		assert_int_equal(sqlite3_prepare_v2(db, query, -1, &stmt, NULL), SQLITE_OK);
		while(sqlite3_step(stmt) == SQLITE_ROW){
			for(int c = 0; c < sqlite3_column_count(stmt); c++){
				const unsigned char *text = sqlite3_column_text(stmt, c);
				const char *value = text ? (const char *)text : "NULL";

				out = realloc(out, len + strlen(value) + 2);
				assert_non_null(out);
				len += (size_t)sprintf(out + len, "%s|", value);
			}
			out[len - 1] = '\n';
		}
		sqlite3_finalize(stmt);
	}
	sqlite3_finalize(tables);
	sqlite3_close(db);
	return out;
}

/* Returns true when a line at `level` names the client, the topic and `word`. */
static bool logged(const struct fake_io *io, enum ota_log_level level,
	const char *client_id, const char *topic, const char *word)
{
	for(size_t i = 0; i < io->log_count; i++){
		const char *text = io->logs[i].text;

		if(io->logs[i].level == level && strstr(text, client_id) && strstr(text, topic)
				&& strstr(text, word)){
			return true;
		}
	}
	return false;
}

/* ===================================================================== */
/* FastBee trace replay                                                  */
/* ===================================================================== */

#define TRACE_MAX 32

struct trace_line {
	char from[16];
	char topic[128];
	cJSON *payload;
};

static size_t read_trace(struct trace_line *lines)
{
	FILE *file = fopen(OTA_TRACE_PATH, "r");
	char text[2048];
	size_t count = 0;

	if(!file){
		fail_msg("cannot open %s", OTA_TRACE_PATH);
	}
	while(count < TRACE_MAX && fgets(text, sizeof(text), file)){
		cJSON *root = cJSON_Parse(text);
		const cJSON *from = cJSON_GetObjectItemCaseSensitive(root, "from");
		const cJSON *topic = cJSON_GetObjectItemCaseSensitive(root, "topic");
		cJSON *payload = cJSON_DetachItemFromObjectCaseSensitive(root, "payload");

		assert_true(cJSON_IsString(from));
		assert_true(cJSON_IsString(topic));
		assert_true(cJSON_IsObject(payload));
		snprintf(lines[count].from, sizeof(lines[count].from), "%s", from->valuestring);
		snprintf(lines[count].topic, sizeof(lines[count].topic), "%s", topic->valuestring);
		lines[count].payload = payload;
		count++;
		cJSON_Delete(root);
	}
	fclose(file);
	return count;
}

/*
 * Replays the trace's backend and device lines and compares what the
 * tracker published on status topics with the trace's plugin lines.
 *
 * Each plugin line belongs to the input before it. The plugin lines before
 * the first input belong to that input, because FastBee's backend
 * published status 0 and 1 just before its `set`, and the plugin publishes
 * them right after it. The fake clock at each input is the trace time of
 * its first plugin line. Every expected payload carries the clock of its
 * input as timestamp, so status 1 is expected 1 ms earlier than in the
 * trace.
 */
static void tracker_replays_fastbee_trace(void **state)
{
	struct fixture *f = *state;
	struct trace_line lines[TRACE_MAX];
	size_t count = read_trace(lines);
	long owner[TRACE_MAX];
	int64_t clock[TRACE_MAX];
	long first_input = -1;
	long last_input = -1;
	size_t expected_count = 0;
	struct ota_device_row row;
	char version[OTA_VERSION_MAX + 3];

	for(size_t i = 0; i < count; i++){
		if(strcmp(lines[i].from, "plugin") != 0 && first_input < 0){
			first_input = (long)i;
		}
	}
	assert_true(first_input >= 0);

	memset(clock, 0, sizeof(clock));
	for(size_t i = 0; i < count; i++){
		if(strcmp(lines[i].from, "plugin") != 0){
			last_input = (long)i;
			continue;
		}
		owner[i] = last_input >= 0 ? last_input : first_input;
		if(clock[owner[i]] == 0){
			const cJSON *ts = cJSON_GetObjectItemCaseSensitive(lines[i].payload,
				"timestamp");

			assert_true(cJSON_IsNumber(ts));
			clock[owner[i]] = (int64_t)ts->valuedouble;
		}
		expected_count++;
	}

	start_tracker(f);
	for(size_t i = 0; i < count; i++){
		char *payload;
		bool from_device = strcmp(lines[i].from, "device") == 0;

		if(strcmp(lines[i].from, "plugin") == 0){
			continue;
		}
		f->io.now_ms = clock[i] ? clock[i] : f->io.now_ms + 1000;
		payload = cJSON_PrintUnformatted(lines[i].payload);
		assert_non_null(payload);
		CHECK(deliver(f, from_device ? DEVICE : "fastbee-backend", lines[i].topic,
			payload) == OTA_PASS, "trace line %zu: not passed", i + 1);
		free(payload);
	}

	assert_int_equal(status_count(&f->io), expected_count);
	for(size_t i = 0, n = 0; i < count; i++){
		const struct published *m;
		char *expected;

		if(strcmp(lines[i].from, "plugin") != 0){
			continue;
		}
		m = &f->io.messages[status_message(&f->io, n++)];
		cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(lines[i].payload,
			"timestamp"), (double)clock[owner[i]]);
		expected = cJSON_PrintUnformatted(lines[i].payload);
		CHECK(strcmp(m->topic, lines[i].topic) == 0, "trace line %zu: topic %s, expected %s",
			i + 1, m->topic, lines[i].topic);
		CHECK(strcmp(m->payload, expected) == 0, "trace line %zu: payload %s\nexpected %s",
			i + 1, m->payload, expected);
		CHECK(m->qos == 0, "trace line %zu: QoS %d", i + 1, m->qos);
		CHECK(!m->retain, "trace line %zu: retained", i + 1);
		free(expected);
	}
	for(size_t i = 0; i < count; i++){
		cJSON_Delete(lines[i].payload);
	}
	assert_checks_passed();

	get_row(f, 26, DEVICE, &row);
	assert_int_equal(row.row.status, OTA_SUCCESS);
	assert_int_equal(row.row.progress, 100);
	assert_int_equal(row.row.attempts, 1);
	assert_int_equal(ota_store_device_get_version(f->tracker->store, DEVICE, version,
		sizeof(version)), OTA_STORE_OK);
	assert_true(ota_version_equal(version, "\"1.2\""));
	assert_int_equal(f->tracker->accepted, 6);
}

/* ===================================================================== */
/* Verdicts                                                              */
/* ===================================================================== */

static void tracker_drops_reserved_topics(void **state)
{
	struct fixture *f = *state;
	const char *status = "{\"serialNumber\":\"" DEVICE "\",\"status\":3,"
		"\"timestamp\":1724482308749}";

	start_tracker(f);
	assert_int_equal(deliver(f, DEVICE, "/26/ws/ota/status", status), OTA_DROP);
	assert_int_equal(deliver(f, DEVICE, "26/ws/ota/status", status), OTA_DROP);
	assert_int_equal(deliver(f, DEVICE, "/26/ws/ota/summary", "{}"), OTA_DROP);
	assert_int_equal(f->io.message_count, 0);
	assert_int_equal(f->tracker->declined[OTA_DECLINE_RESERVED_TOPIC], 3);
}

static void tracker_drops_foreign_reply(void **state)
{
	struct fixture *f = *state;
	const char *reply = "{\"taskId\":26,\"progress\":50,\"status\":2}";

	start_tracker(f);
	assert_int_equal(deliver(f, "fastbee-backend", TRACE_SET_TOPIC, TRACE_SET), OTA_PASS);
	assert_int_equal(deliver(f, OTHER_DEVICE, TRACE_REPLY_TOPIC, reply), OTA_DROP);
	assert_int_equal(deliver(f, "S&" OTHER_DEVICE "&1&1", TRACE_REPLY_TOPIC, reply),
		OTA_DROP);
	assert_int_equal(status_count(&f->io), 2);
	assert_int_equal(f->tracker->declined[OTA_DECLINE_IDENTITY], 2);
	assert_true(logged(&f->io, OTA_LOG_NOTICE, OTHER_DEVICE, TRACE_REPLY_TOPIC,
		"identity"));
}

/* `set` messages and unrelated topics pass from any client. */
static void tracker_passes_other_messages(void **state)
{
	struct fixture *f = *state;

	start_tracker(f);
	assert_int_equal(deliver(f, "dashboard-7", TRACE_SET_TOPIC, TRACE_SET), OTA_PASS);
	assert_int_equal(deliver(f, "dashboard-7", TRACE_SET_TOPIC, "not json"), OTA_PASS);
	assert_int_equal(deliver(f, DEVICE, "/" DEVICE "/property/post", "{}"), OTA_PASS);
	assert_int_equal(deliver(f, DEVICE, "/26/ws/ota", "{}"), OTA_PASS);
	assert_int_equal(deliver(f, "S&" DEVICE "&1&1", TRACE_REPLY_TOPIC,
		"{\"taskId\":26,\"progress\":5,\"status\":2}"), OTA_PASS);
	assert_int_equal(status_count(&f->io), 3);
}

struct declined_case {
	const char *name;
	const char *client_id;
	const char *topic;
	const char *payload;
	enum ota_decline reason;
};

static const struct declined_case declined_replies[] = {
	{"progress 140", DEVICE, TRACE_REPLY_TOPIC,
		"{\"taskId\":26,\"progress\":140,\"status\":2}", OTA_DECLINE_BAD_PROGRESS},
	{"lower progress", DEVICE, TRACE_REPLY_TOPIC,
		"{\"taskId\":26,\"progress\":30,\"status\":2}", OTA_DECLINE_STALE},
	{"equal progress", DEVICE, TRACE_REPLY_TOPIC,
		"{\"taskId\":26,\"progress\":50,\"version\":\"1.2\",\"status\":2}",
		OTA_DECLINE_DUPLICATE},
	{"status 5", DEVICE, TRACE_REPLY_TOPIC, "{\"taskId\":26,\"status\":5}",
		OTA_DECLINE_BAD_STATUS},
	{"status missing", DEVICE, "D1832O34Z5M1/http/upgrade/reply",
		"{\"taskId\":26,\"progress\":60}", OTA_DECLINE_BAD_STATUS},
	{"unknown task", DEVICE, TRACE_REPLY_TOPIC,
		"{\"taskId\":99,\"progress\":60,\"status\":2}", OTA_DECLINE_UNKNOWN_TASK},
	{"taskId 0", DEVICE, TRACE_REPLY_TOPIC, "{\"taskId\":0,\"progress\":60,\"status\":2}",
		OTA_DECLINE_BAD_TASK_ID},
	{"not JSON", DEVICE, TRACE_REPLY_TOPIC, "progress=60", OTA_DECLINE_BAD_JSON},
	{"not an object", DEVICE, TRACE_REPLY_TOPIC, "[26,60,2]", OTA_DECLINE_NOT_OBJECT},
	{"invalid UTF-8", DEVICE, TRACE_REPLY_TOPIC,
		"{\"taskId\":26,\"status\":4,\"msg\":\"\xc0\xaf\"}", OTA_DECLINE_BAD_UTF8},
	{"device not in task", OTHER_DEVICE, "/" OTHER_DEVICE "/http/upgrade/reply",
		"{\"taskId\":26,\"progress\":60,\"status\":2}", OTA_DECLINE_NOT_THIS_DEVICE},
};

/* Each declined reply passes unchanged, publishes nothing, changes no
 * table, and is counted and logged under its reason. */
static void check_declined_reply(struct fixture *f, const struct declined_case *c,
	const char *before)
{
	uint64_t count_before = f->tracker->declined[c->reason];
	size_t messages_before = f->io.message_count;
	enum ota_verdict verdict = deliver(f, c->client_id, c->topic, c->payload);
	char *after = dump_database(f->path);

	CHECK(verdict == OTA_PASS, "%s: verdict %d, expected OTA_PASS", c->name, verdict);
	CHECK(f->io.message_count == messages_before, "%s: published %zu messages",
		c->name, f->io.message_count - messages_before);
	CHECK(strcmp(before, after) == 0, "%s: database changed\nbefore:\n%s\nafter:\n%s",
		c->name, before, after);
	CHECK(f->tracker->declined[c->reason] == count_before + 1,
		"%s: not counted as %s", c->name, ota_decline_code(c->reason));
	CHECK(logged(&f->io, OTA_LOG_NOTICE, c->client_id, c->topic,
		ota_decline_code(c->reason)), "%s: no notice naming client, topic and %s",
		c->name, ota_decline_code(c->reason));
	free(after);
}

static void tracker_declined_replies_change_nothing(void **state)
{
	struct fixture *f = *state;
	char large[5000];
	struct declined_case too_large = {"payload over reply_max_bytes", DEVICE,
		TRACE_REPLY_TOPIC, large, OTA_DECLINE_TOO_LARGE};
	char *before;

	start_tracker(f);
	assert_int_equal(deliver(f, "fastbee-backend", TRACE_SET_TOPIC, TRACE_SET), OTA_PASS);
	assert_int_equal(deliver(f, DEVICE, TRACE_REPLY_TOPIC,
		"{\"taskId\":26,\"progress\":50,\"version\":\"1.2\",\"status\":2}"), OTA_PASS);
	assert_int_equal(status_count(&f->io), 3);
	before = dump_database(f->path);

	for(size_t i = 0; i < sizeof(declined_replies) / sizeof(declined_replies[0]); i++){
		f->io.now_ms += 1000;
		check_declined_reply(f, &declined_replies[i], before);
	}

	snprintf(large, sizeof(large), "{\"taskId\":26,\"progress\":60,\"status\":2,\"pad\":\"");
	memset(large + strlen(large), 'x', sizeof(large) - strlen(large) - 3);
	snprintf(large + sizeof(large) - 3, 3, "\"}");
	check_declined_reply(f, &too_large, before);

	free(before);
	assert_checks_passed();
}

/* ===================================================================== */
/* Event messages and topic forms                                        */
/* ===================================================================== */

static const struct {
	const char *name;
	const char *reply;    /* with %d for the task id */
	const char *expected; /* the status event after it, with %d for the timestamp */
} message_cases[] = {
	{"device failure with msg", "{\"taskId\":%d,\"status\":4,\"msg\":\"flash write failed\"}",
		"{\"serialNumber\":\"" DEVICE "\",\"status\":4,\"timestamp\":%" PRId64 ","
		"\"message\":\"flash write failed\"}"},
	{"device failure with message", "{\"taskId\":%d,\"status\":\"4\",\"message\":\"no space\"}",
		"{\"serialNumber\":\"" DEVICE "\",\"status\":4,\"timestamp\":%" PRId64 ","
		"\"message\":\"no space\"}"},
	{"device failure without text", "{\"taskId\":%d,\"status\":4}",
		"{\"serialNumber\":\"" DEVICE "\",\"status\":4,\"timestamp\":%" PRId64 ","
		"\"message\":\"device reported failure\"}"},
	{"version mismatch", "{\"taskId\":%d,\"status\":3,\"version\":\"1.3\"}",
		"{\"serialNumber\":\"" DEVICE "\",\"status\":4,\"timestamp\":%" PRId64 ","
		"\"message\":\"version mismatch: expected 1.2, got 1.3\"}"},
	{"success without version", "{\"taskId\":%d,\"status\":3}",
		"{\"serialNumber\":\"" DEVICE "\",\"status\":3,\"timestamp\":%" PRId64 "}"},
	{"success with numeric version", "{\"taskId\":%d,\"status\":3,\"version\":\"1.20\"}",
		"{\"serialNumber\":\"" DEVICE "\",\"status\":3,\"timestamp\":%" PRId64 "}"},
};

/* Each case runs on its own task, learned from a `set` for version 1.2. */
static void tracker_event_messages_match_protocol(void **state)
{
	struct fixture *f = *state;

	start_tracker(f);
	for(size_t i = 0; i < sizeof(message_cases) / sizeof(message_cases[0]); i++){
		int task_id = 30 + (int)i;
		char set[160];
		char reply[160];
		char expected[256];
		long last;

		snprintf(set, sizeof(set), "{\"taskId\":%d,\"url\":\"/fw.bin\",\"version\":1.2}",
			task_id);
		snprintf(reply, sizeof(reply), message_cases[i].reply, task_id);
		f->io.now_ms += 1000;
		CHECK(deliver(f, "fastbee-backend", TRACE_SET_TOPIC, set) == OTA_PASS,
			"%s: set not passed", message_cases[i].name);
		CHECK(deliver(f, DEVICE, TRACE_REPLY_TOPIC, reply) == OTA_PASS,
			"%s: reply not passed", message_cases[i].name);
		snprintf(expected, sizeof(expected), message_cases[i].expected, f->io.now_ms);
		last = status_message(&f->io, status_count(&f->io) - 1);
		CHECK(last >= 0, "%s: no status event", message_cases[i].name);
		if(last >= 0){
			CHECK(strcmp(f->io.messages[last].payload, expected) == 0,
				"%s: last event %s\nexpected %s", message_cases[i].name,
				f->io.messages[last].payload, expected);
		}
	}
	assert_checks_passed();
}

/* A task learned from a `set` without the leading slash publishes its
 * events without it too. */
static void tracker_keeps_topic_form(void **state)
{
	struct fixture *f = *state;

	start_tracker(f);
	assert_int_equal(deliver(f, "fastbee-backend", DEVICE "/http/upgrade/set", TRACE_SET),
		OTA_PASS);
	assert_int_equal(deliver(f, DEVICE, DEVICE "/http/upgrade/reply",
		"{\"taskId\":26,\"progress\":5,\"status\":2}"), OTA_PASS);
	assert_int_equal(status_count(&f->io), 3);
	for(size_t n = 0; n < 3; n++){
		assert_string_equal(f->io.messages[status_message(&f->io, n)].topic,
			"26/ws/ota/status");
	}
}

/* A `set` that names a known task with another version is delivered but
 * not tracked. */
static void tracker_conflicting_set_untracked(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row row;

	start_tracker(f);
	assert_int_equal(deliver(f, "fastbee-backend", TRACE_SET_TOPIC, TRACE_SET), OTA_PASS);
	assert_int_equal(deliver(f, "fastbee-backend", "/" OTHER_DEVICE "/http/upgrade/set",
		"{\"taskId\":26,\"url\":\"/profile/iot/1/2024-0824-001954.bin\","
		"\"version\":1.3,\"status\":1}"), OTA_PASS);
	assert_int_equal(status_count(&f->io), 2);
	assert_int_equal(f->tracker->declined[OTA_DECLINE_CONFLICT], 1);
	assert_int_equal(ota_store_row_get(f->tracker->store, 26, OTHER_DEVICE, &row),
		OTA_STORE_NOT_FOUND);
}

/* A success with the target version records the installed version even
 * when the row itself cannot change any more. */
static void tracker_success_records_version(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row row;
	char version[OTA_VERSION_MAX + 3] = "";

	start_tracker(f);
	assert_int_equal(deliver(f, "fastbee-backend", TRACE_SET_TOPIC, TRACE_SET), OTA_PASS);
	assert_int_equal(deliver(f, DEVICE, TRACE_REPLY_TOPIC,
		"{\"taskId\":26,\"status\":4}"), OTA_PASS);
	assert_int_equal(deliver(f, DEVICE, TRACE_REPLY_TOPIC,
		"{\"taskId\":26,\"version\":\"1.2\",\"status\":3}"), OTA_PASS);

	get_row(f, 26, DEVICE, &row);
	assert_int_equal(row.row.status, OTA_FAILED);
	assert_int_equal(status_count(&f->io), 3);
	assert_int_equal(ota_store_device_get_version(f->tracker->store, DEVICE, version,
		sizeof(version)), OTA_STORE_OK);
	assert_true(ota_version_equal(version, "\"1.2\""));
}

/* ===================================================================== */
/* Timeouts                                                              */
/* ===================================================================== */

static void tracker_timeout_fails_row(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row row;
	char expected[160];
	long last;

	f->config.timeout_s = 1;
	start_tracker(f);
	assert_int_equal(deliver(f, "fastbee-backend", TRACE_SET_TOPIC, TRACE_SET), OTA_PASS);
	assert_int_equal(status_count(&f->io), 2);

	f->io.now_ms = T0 + 999;
	ota_tracker_tick(f->tracker);
	assert_int_equal(status_count(&f->io), 2);
	get_row(f, 26, DEVICE, &row);
	assert_int_equal(row.row.status, OTA_SEND);

	f->io.now_ms = T0 + 1001;
	ota_tracker_tick(f->tracker);
	get_row(f, 26, DEVICE, &row);
	assert_int_equal(row.row.status, OTA_FAILED);
	assert_int_equal(row.row.reason, OTA_REASON_TIMED_OUT);
	assert_string_equal(row.message, "timed out");

	assert_int_equal(status_count(&f->io), 3);
	last = status_message(&f->io, 2);
	snprintf(expected, sizeof(expected), "{\"serialNumber\":\"" DEVICE "\",\"status\":4,"
		"\"timestamp\":%" PRId64 ",\"message\":\"timed out\"}", T0 + 1001);
	assert_string_equal(f->io.messages[last].topic, "/26/ws/ota/status");
	assert_string_equal(f->io.messages[last].payload, expected);

	/* Nothing else is due: a later tick publishes nothing. */
	f->io.now_ms = T0 + 60000;
	ota_tracker_tick(f->tracker);
	assert_int_equal(status_count(&f->io), 3);
}

static void tracker_late_success_after_timeout(void **state)
{
	struct fixture *f = *state;
	struct ota_device_row row;
	long last;

	f->config.timeout_s = 1;
	start_tracker(f);
	assert_int_equal(deliver(f, "fastbee-backend", TRACE_SET_TOPIC, TRACE_SET), OTA_PASS);
	f->io.now_ms = T0 + 1001;
	ota_tracker_tick(f->tracker);
	get_row(f, 26, DEVICE, &row);
	assert_int_equal(row.row.status, OTA_FAILED);

	f->io.now_ms = T0 + 5000;
	assert_int_equal(deliver(f, DEVICE, TRACE_REPLY_TOPIC,
		"{\"taskId\":26,\"progress\":100,\"version\":\"1.2\",\"status\":3}"), OTA_PASS);
	get_row(f, 26, DEVICE, &row);
	assert_int_equal(row.row.status, OTA_SUCCESS);
	last = status_message(&f->io, 3);
	assert_true(last >= 0);
	assert_string_equal(f->io.messages[last].payload,
		"{\"serialNumber\":\"" DEVICE "\",\"status\":3,\"timestamp\":1724482226250}");
}

/* ===================================================================== */
/* Admin API access                                                      */
/* ===================================================================== */

/* An empty entry in admin_users names no user, so a client that gave no
 * username must still be rejected. */
static void tracker_control_requires_admin_user(void **state)
{
	struct fixture *f = *state;
	const char *request = "{\"commands\":[{\"command\":\"getStats\"}]}";
	struct ota_client anonymous = {.client_id = "probe", .connection = &f->connection};
	struct ota_client admin = {.client_id = "ops-1", .username = "admin",
		.connection = &f->connection};
	char err[256];
	char *response;

	assert_true(ota_config_set(&f->config, "admin_users", "admin,,ops", err, sizeof(err)));
	start_tracker(f);

	response = ota_tracker_control(f->tracker, &admin, request, strlen(request));
	assert_non_null(response);
	assert_non_null(strstr(response, "\"data\""));
	free(response);

	response = ota_tracker_control(f->tracker, &anonymous, request, strlen(request));
	assert_non_null(response);
	assert_null(strstr(response, "\"data\""));
	assert_non_null(strstr(response, "not authorized"));
	free(response);
}

/* ===================================================================== */
/* Identity helpers                                                      */
/* ===================================================================== */

static const struct {
	enum ota_identity mode;
	const char *client_id;
	const char *username;
	bool expected;
} identity_cases[] = {
	{OTA_IDENTITY_AUTO, DEVICE, NULL, true},
	{OTA_IDENTITY_AUTO, "gateway-7", DEVICE, true},
	{OTA_IDENTITY_AUTO, "S&" DEVICE "&1&1", NULL, true},
	{OTA_IDENTITY_AUTO, "S&" DEVICE "&1&1", "someone", true},
	{OTA_IDENTITY_AUTO, OTHER_DEVICE, NULL, false},
	{OTA_IDENTITY_AUTO, OTHER_DEVICE, OTHER_DEVICE, false},
	{OTA_IDENTITY_AUTO, "S&" OTHER_DEVICE "&1&1", NULL, false},
	{OTA_IDENTITY_AUTO, DEVICE "x", NULL, false},
	{OTA_IDENTITY_CLIENTID, DEVICE, NULL, true},
	{OTA_IDENTITY_CLIENTID, "gateway-7", DEVICE, false},
	{OTA_IDENTITY_CLIENTID, "S&" DEVICE "&1&1", NULL, false},
	{OTA_IDENTITY_USERNAME, "gateway-7", DEVICE, true},
	{OTA_IDENTITY_USERNAME, DEVICE, NULL, false},
	{OTA_IDENTITY_USERNAME, DEVICE, "someone", false},
	{OTA_IDENTITY_FASTBEE, "S&" DEVICE "&1&1", NULL, true},
	{OTA_IDENTITY_FASTBEE, "W&" DEVICE "&12&3", "someone", true},
	{OTA_IDENTITY_FASTBEE, DEVICE, NULL, false},
	{OTA_IDENTITY_FASTBEE, "gateway-7", DEVICE, false},
	{OTA_IDENTITY_FASTBEE, "S&" DEVICE "&1", NULL, false},
	{OTA_IDENTITY_FASTBEE, "S/x&" DEVICE "&1&1", NULL, false},
	{OTA_IDENTITY_AUTO, "S&" DEVICE "&1&+", NULL, false},
	{OTA_IDENTITY_NONE, OTHER_DEVICE, NULL, true},
	{OTA_IDENTITY_NONE, "anyone", "anybody", true},
};

static void identity_matches_every_mode(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(identity_cases) / sizeof(identity_cases[0]); i++){
		bool got = ota__identity_matches(identity_cases[i].mode, DEVICE,
			identity_cases[i].client_id, identity_cases[i].username);

		CHECK(got == identity_cases[i].expected,
			"%s: client id '%s', username '%s' matches %s: %d, expected %d",
			ota_identity_name(identity_cases[i].mode), identity_cases[i].client_id,
			identity_cases[i].username ? identity_cases[i].username : "(none)", DEVICE,
			got, identity_cases[i].expected);
	}
	assert_checks_passed();
}

static void identity_fastbee_serial_extraction(void **state)
{
	static const struct {
		const char *client_id;
		const char *serial; /* NULL: not a FastBee client id */
	} cases[] = {
		{"S&D1832O34Z5M1&1&1", "D1832O34Z5M1"},
		{"W&A0000000002&12&345", "A0000000002"},
		{"D1832O34Z5M1", NULL},
		{"S&D1832O34Z5M1&1", NULL},
		{"S&&1&1", NULL},
		{"S&D1/x&1&1", NULL},
		{"S&D1+x&1&1", NULL},
		/* Client ids containing '/', '+' or '#' never name a device. */
		{"S/x&D1832O34Z5M1&1&1", NULL},
		{"S&D1832O34Z5M1&1&+", NULL},
		{"S&D1832O34Z5M1&#&1", NULL},
		{"", NULL},
		{NULL, NULL},
	};
	char serial[OTA_SERIAL_MAX + 1];
	char long_id[OTA_SERIAL_MAX + 16];

	(void)state;
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		const char *name = cases[i].client_id ? cases[i].client_id : "(null)";
		bool ok = ota__fastbee_serial(cases[i].client_id, serial, sizeof(serial));

		CHECK(ok == (cases[i].serial != NULL), "'%s': returned %d", name, ok);
		CHECK(!ok || !cases[i].serial || strcmp(serial, cases[i].serial) == 0,
			"'%s': serial %s, expected %s", name, serial, cases[i].serial);
	}
	assert_checks_passed();

	snprintf(long_id, sizeof(long_id), "S&%0*d&1&1", OTA_SERIAL_MAX + 1, 7);
	assert_false(ota__fastbee_serial(long_id, serial, sizeof(serial)));
	snprintf(long_id, sizeof(long_id), "S&%0*d&1&1", OTA_SERIAL_MAX, 7);
	assert_true(ota__fastbee_serial(long_id, serial, sizeof(serial)));
	assert_int_equal(strlen(serial), OTA_SERIAL_MAX);
}

/* ===================================================================== */
/* Online table                                                          */
/* ===================================================================== */

static void online_set_has_clear(void **state)
{
	struct ota_online online;
	int connection;

	(void)state;
	ota__online_init(&online);
	assert_false(ota__online_has(&online, DEVICE));
	assert_true(ota__online_set(&online, DEVICE, &connection));
	assert_false(ota__online_set(&online, DEVICE, &connection));
	assert_true(ota__online_has(&online, DEVICE));
	assert_false(ota__online_has(&online, OTHER_DEVICE));
	ota__online_clear(&online, DEVICE, &connection);
	assert_false(ota__online_has(&online, DEVICE));
	assert_true(ota__online_set(&online, DEVICE, &connection));
	assert_true(ota__online_has(&online, DEVICE));
	ota__online_free(&online);
}

/* On a session takeover the old connection's disconnect can arrive after
 * the new connection began. It must not take the device offline. */
static void online_takeover_keeps_device(void **state)
{
	struct ota_online online;
	int old_connection;
	int new_connection;

	(void)state;
	ota__online_init(&online);
	ota__online_set(&online, DEVICE, &old_connection);
	ota__online_set(&online, DEVICE, &new_connection);
	ota__online_clear(&online, DEVICE, &old_connection);
	assert_true(ota__online_has(&online, DEVICE));
	ota__online_clear(&online, DEVICE, &new_connection);
	assert_false(ota__online_has(&online, DEVICE));
	ota__online_free(&online);
}

static void online_table_grows_past_10000(void **state)
{
	enum { DEVICES = 12000 };
	struct ota_online online;
	int connection;
	char serial[32];

	(void)state;
	ota__online_init(&online);
	for(int i = 0; i < DEVICES; i++){
		snprintf(serial, sizeof(serial), "SN%06d", i);
		CHECK(ota__online_set(&online, serial, &connection), "%s: not added", serial);
	}
	assert_checks_passed();
	assert_int_equal(online.live, DEVICES);
	for(int i = 0; i < DEVICES; i++){
		snprintf(serial, sizeof(serial), "SN%06d", i);
		CHECK(ota__online_has(&online, serial), "%s: not online", serial);
	}
	assert_checks_passed();

	for(int i = 0; i < DEVICES; i += 2){
		snprintf(serial, sizeof(serial), "SN%06d", i);
		ota__online_clear(&online, serial, &connection);
	}
	assert_int_equal(online.live, DEVICES / 2);
	for(int i = 0; i < DEVICES; i++){
		snprintf(serial, sizeof(serial), "SN%06d", i);
		CHECK(ota__online_has(&online, serial) == (i % 2 == 1), "%s: online is %d", serial,
			ota__online_has(&online, serial));
	}
	assert_checks_passed();

	/* Slots freed by the clears are used again. */
	for(int i = 0; i < DEVICES; i += 2){
		snprintf(serial, sizeof(serial), "SN%06d", i);
		CHECK(ota__online_set(&online, serial, &connection), "%s: not added again", serial);
	}
	assert_int_equal(online.live, DEVICES);
	assert_checks_passed();
	ota__online_free(&online);
}

/* The tracker maps a FastBee client id to its serial number and keeps the
 * device online across a session takeover. */
static void tracker_takeover_keeps_device(void **state)
{
	struct fixture *f = *state;
	int old_connection;
	int new_connection;
	struct ota_client old_client = {.client_id = "S&" DEVICE "&1&1",
		.connection = &old_connection};
	struct ota_client new_client = {.client_id = "S&" DEVICE "&1&1",
		.connection = &new_connection};

	start_tracker(f);
	ota_tracker_client_seen(f->tracker, &old_client);
	assert_true(ota__online_has(&f->tracker->online, DEVICE));
	ota_tracker_client_seen(f->tracker, &new_client);
	ota_tracker_client_gone(f->tracker, &old_client);
	assert_true(ota__online_has(&f->tracker->online, DEVICE));
	ota_tracker_client_gone(f->tracker, &new_client);
	assert_false(ota__online_has(&f->tracker->online, DEVICE));
}

#define tracker_test(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		tracker_test(tracker_replays_fastbee_trace),
		tracker_test(tracker_drops_reserved_topics),
		tracker_test(tracker_drops_foreign_reply),
		tracker_test(tracker_passes_other_messages),
		tracker_test(tracker_declined_replies_change_nothing),
		tracker_test(tracker_event_messages_match_protocol),
		tracker_test(tracker_keeps_topic_form),
		tracker_test(tracker_conflicting_set_untracked),
		tracker_test(tracker_success_records_version),
		tracker_test(tracker_timeout_fails_row),
		tracker_test(tracker_late_success_after_timeout),
		tracker_test(tracker_control_requires_admin_user),
		table_test(identity_matches_every_mode),
		table_test(identity_fastbee_serial_extraction),
		table_test(online_set_has_clear),
		table_test(online_takeover_keeps_device),
		table_test(online_table_grows_past_10000),
		tracker_test(tracker_takeover_keeps_device),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
