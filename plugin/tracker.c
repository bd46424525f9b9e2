/*
 * Tracker core: lifetime, clock, logging with rate limits, the outbox of
 * messages held back until their transaction commits, and the dispatch of
 * a client's PUBLISH to the handler for its topic.
 *
 * Status messages are queued, not published, while their transaction is
 * open: the broker would otherwise send a dashboard event for a transition
 * that a failed commit then undoes. In batch durability they are published
 * at once, and the loss window on a crash is the documented trade-off.
 */
#include "tracker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_WINDOW_MS 60000

/* ===================================================================== */
/* Lifetime                                                              */
/* ===================================================================== */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void copy_config(struct ota_config *to, const struct ota_config *from)
{
	*to = *from;
	to->db_path = dup_or_null(from->db_path);
	to->admin_users = dup_or_null(from->admin_users);
	to->backend_users = dup_or_null(from->backend_users);
}

struct ota_tracker *ota_tracker_new(const struct ota_config *config,
	const struct ota_io *io, char *err, size_t err_size)
{
	struct ota_tracker *t = calloc(1, sizeof(*t));
	struct ota_store_options options;

	if(!t){
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	copy_config(&t->config, config);
	t->io = *io;
	ota__online_init(&t->online);

	options.path = t->config.db_path;
	options.durability = t->config.durability;
	options.exclusive = t->config.exclusive_lock;
	options.cache_kib = t->config.cache_kib;
	options.checkpoint_pages = t->config.checkpoint_pages;
	options.row_cache = t->config.row_cache;
	t->store = ota_store_open(&options, err, err_size);
	if(!t->store){
		ota_tracker_free(t);
		return NULL;
	}
	ota__reload_next_due(t);
	return t;
}

static void outbox_clear(struct ota_tracker *t)
{
	for(size_t i = 0; i < t->outbox_len; i++){
		free(t->outbox[i].topic);
		free(t->outbox[i].payload);
	}
	t->outbox_len = 0;
}

void ota_tracker_free(struct ota_tracker *t)
{
	if(!t){
		return;
	}
	ota_tracker_flush(t);
	ota_store_close(t->store);
	outbox_clear(t);
	free(t->outbox);
	ota__online_free(&t->online);
	ota__registry_free(&t->registry);
	ota__wake_free(&t->wake);
	free(t->start_ids);
	ota_config_free(&t->config);
	free(t);
}

/* ===================================================================== */
/* Clock and logging                                                     */
/* ===================================================================== */

int64_t ota__now(struct ota_tracker *t)
{
	int64_t now;

	if(t->io.clock_ms){
		now = t->io.clock_ms(t->io.ctx);
	}else{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	/* Dashboards sort events by timestamp, so a clock step back must not
	 * reorder them. */
	if(now < t->last_ms){
		now = t->last_ms;
	}
	t->last_ms = now;
	return now;
}

void ota__log(struct ota_tracker *t, enum ota_log_level level, const char *fmt, ...)
{
	char text[1024];
	va_list args;

	if(!t->io.log){
		return;
	}
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	t->io.log(t->io.ctx, level, text);
}

/* FNV-1a over the reason and the client id. */
static uint64_t log_key(enum ota_decline reason, const char *client_id)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)reason;

	for(const unsigned char *p = (const unsigned char *)client_id; p && *p; p++){
		h = (h ^ *p) * 1099511628211ULL;
	}
	return h;
}

/* Returns true for the first log_burst declines of a reason and client in
 * a minute. Clients that share a slot share its budget. */
static bool log_allowed(struct ota_tracker *t, enum ota_decline reason,
	const char *client_id, int64_t now)
{
	uint64_t key = log_key(reason, client_id);
	struct ota_log_slot *slot = &t->log_slots[key % OTA_LOG_SLOTS];

	if(slot->key != key || now - slot->window_start_ms >= LOG_WINDOW_MS){
		slot->key = key;
		slot->window_start_ms = now;
		slot->count = 0;
	}
	return slot->count++ < t->config.log_burst;
}

void ota__decline(struct ota_tracker *t, const struct ota_client *client,
	const char *topic, enum ota_decline reason, const char *detail)
{
	const char *client_id = client && client->client_id ? client->client_id : "";

	t->declined[reason]++;
	if(log_allowed(t, reason, client_id, ota__now(t))){
		ota__log(t, OTA_LOG_NOTICE, "ota: declined %s from client '%s' on '%s': %s",
			ota_decline_code(reason), client_id, topic, detail);
	}
}

bool ota__check_payload(struct ota_tracker *t, const struct ota_client *client,
	const char *topic, const struct ota_topic *parsed, size_t len)
{
	char detail[OTA_DETAIL_MAX];

	if(!parsed->id_valid){
		ota__decline(t, client, topic, OTA_DECLINE_BAD_SERIAL,
			"serial number in topic: must be 1-64 bytes without '/', '+' or '#'");
		return false;
	}
	if(len > t->config.reply_max_bytes){
		snprintf(detail, sizeof(detail), "payload of %zu bytes: at most %zu allowed",
			len, t->config.reply_max_bytes);
		ota__decline(t, client, topic, OTA_DECLINE_TOO_LARGE, detail);
		return false;
	}
	return true;
}

/* ===================================================================== */
/* Outbox and transactions                                               */
/* ===================================================================== */

static void outbox_flush(struct ota_tracker *t)
{
	for(size_t i = 0; i < t->outbox_len; i++){
		struct ota_outbox_msg *m = &t->outbox[i];

		if(t->io.publish(t->io.ctx, m->topic, m->payload, m->len, m->qos, m->retain)){
			ota__log(t, OTA_LOG_WARNING, "ota: could not publish on '%s'", m->topic);
		}
	}
	outbox_clear(t);
}

int ota__queue(struct ota_tracker *t, const char *topic, const char *payload,
	int qos, bool retain)
{
	struct ota_outbox_msg *m;

	if(t->outbox_len == t->outbox_cap){
		size_t cap = t->outbox_cap ? t->outbox_cap * 2 : 16;
		struct ota_outbox_msg *grown = realloc(t->outbox, cap * sizeof(*grown));

		if(!grown){
			return OTA_STORE_ERROR;
		}
		t->outbox = grown;
		t->outbox_cap = cap;
	}
	m = &t->outbox[t->outbox_len];
	m->topic = strdup(topic);
	m->payload = strdup(payload);
	if(!m->topic || !m->payload){
		free(m->topic);
		free(m->payload);
		return OTA_STORE_ERROR;
	}
	m->len = strlen(payload);
	m->qos = qos;
	m->retain = retain;
	t->outbox_len++;
	return OTA_STORE_OK;
}

static bool batching(const struct ota_tracker *t)
{
	return t->config.durability == OTA_DURABILITY_BATCH;
}

int ota__tx_begin(struct ota_tracker *t)
{
	if(ota_store_in_transaction(t->store)){
		return OTA_STORE_OK;
	}
	if(ota_store_begin(t->store)){
		return OTA_STORE_ERROR;
	}
	if(batching(t)){
		t->batch_started_ms = ota__now(t);
	}
	return OTA_STORE_OK;
}

/*
 * Ends the work of one event. On success it commits (unless batching) and
 * publishes what it queued. On failure it rolls back and drops the queue,
 * and the caller logs ota_store_error(). In batch mode a failure rolls back
 * the whole open batch, which is the documented loss window.
 */
int ota__tx_end(struct ota_tracker *t, bool ok)
{
	if(ok && !batching(t) && ota_store_in_transaction(t->store)
			&& ota_store_commit(t->store)){
		ok = false;
	}
	if(!ok){
		ota_store_rollback(t->store);
		t->batch_started_ms = 0;
		outbox_clear(t);
		/* The in-memory counts followed writes that are now undone. */
		ota__registry_invalidate(&t->registry);
		ota__reload_next_due(t);
		return OTA_STORE_ERROR;
	}
	outbox_flush(t);
	return OTA_STORE_OK;
}

void ota_tracker_flush(struct ota_tracker *t)
{
	if(!t->store || !ota_store_in_transaction(t->store)){
		return;
	}
	if(ota_store_commit(t->store)){
		ota__log(t, OTA_LOG_ERR, "ota: database error: %s", ota_store_error(t->store));
		ota_store_rollback(t->store);
	}
	t->batch_started_ms = 0;
}

/* ===================================================================== */
/* Dispatch                                                              */
/* ===================================================================== */

enum ota_verdict ota_tracker_message(struct ota_tracker *t,
	const struct ota_client *client, const char *topic,
	const void *payload, size_t len)
{
	struct ota_topic parsed;

	ota_tracker_client_seen(t, client);
	ota__parse_topic(topic, &parsed);
	switch(parsed.kind){
		case OTA_TOPIC_REPLY:
			return ota__handle_reply(t, client, topic, &parsed, payload, len);
		case OTA_TOPIC_SET:
			return ota__handle_set(t, client, topic, &parsed, payload, len);
		case OTA_TOPIC_STATUS:
		case OTA_TOPIC_SUMMARY:
			ota__decline(t, client, topic, OTA_DECLINE_RESERVED_TOPIC,
				"only the OTA plugin may publish dashboard topics");
			return OTA_DROP;
		default:
			return OTA_PASS;
	}
}

/* Marks a device online; one that was not gets its waiting rows pushed on
 * the next tick. */
static void mark_online(struct ota_tracker *t, const char *serial, const void *connection)
{
	if(ota_serial_valid(serial) && ota__online_set(&t->online, serial, connection)){
		ota__wake_add(t, serial);
	}
}

void ota_tracker_client_seen(struct ota_tracker *t, const struct ota_client *client)
{
	char serial[OTA_SERIAL_MAX + 1];

	if(!client || !client->client_id){
		return;
	}
	if(!ota__fastbee_serial(client->client_id, serial, sizeof(serial))){
		snprintf(serial, sizeof(serial), "%s", client->client_id);
	}
	mark_online(t, serial, client->connection);
	if(client->username && strcmp(client->username, serial)){
		mark_online(t, client->username, client->connection);
	}
}

void ota_tracker_client_gone(struct ota_tracker *t, const struct ota_client *client)
{
	char serial[OTA_SERIAL_MAX + 1];

	if(!client || !client->client_id){
		return;
	}
	if(ota__fastbee_serial(client->client_id, serial, sizeof(serial))){
		ota__online_clear(&t->online, serial, client->connection);
	}else{
		ota__online_clear(&t->online, client->client_id, client->connection);
	}
	if(client->username){
		ota__online_clear(&t->online, client->username, client->connection);
	}
}

/* Tasks loaded into the registry per tick after a start. Loading a task
 * counts its rows, so a database of many large tasks is loaded over
 * several ticks rather than in one long stall of the event loop. */
#define START_TASKS_PER_TICK 8

/* Loads the next tasks into the registry, so that each gets its summary
 * published again and unfinished work resumes after a restart. */
static void start(struct ota_tracker *t)
{
	if(!t->start_ids){
		int count = ota_store_task_ids(t->store, &t->start_ids);

		if(count < 0){
			ota__log(t, OTA_LOG_ERR, "ota: database error: %s", ota_store_error(t->store));
			return;
		}
		t->start_count = (size_t)count;
		t->start_next = 0;
		if(!t->start_ids){
			t->started = true;
			return;
		}
	}
	for(int n = 0; n < START_TASKS_PER_TICK && t->start_next < t->start_count; n++){
		struct ota_task_entry *e = ota__registry_get_id(t, t->start_ids[t->start_next++]);

		if(!e){
			continue;
		}
		e->gate_pending = e->counts.await > 0;
		if(!ota__counts_all_final(&e->counts)){
			switch(e->state){
				case OTA_TASK_CANCELLED: e->sweep_reason = OTA_REASON_CANCELLED; break;
				case OTA_TASK_ABORTED: e->sweep_reason = OTA_REASON_ABORTED; break;
				case OTA_TASK_EXPIRED: e->sweep_reason = OTA_REASON_EXPIRED; break;
				default: break;
			}
		}
	}
	if(t->start_next >= t->start_count){
		free(t->start_ids);
		t->start_ids = NULL;
		t->started = true;
	}
}

bool ota_tracker_started(const struct ota_tracker *t)
{
	return t->started;
}

/* Logs a failure of the store's background work, once. */
static void report_store_failure(struct ota_tracker *t)
{
	char failure[1024];

	if(ota_store_take_failure(t->store, failure, sizeof(failure))){
		ota__log(t, OTA_LOG_WARNING, "ota: %s", failure);
	}
}

void ota_tracker_tick(struct ota_tracker *t)
{
	int64_t now = ota__now(t);

	if(!t->started){
		start(t);
	}
	ota__tick_deadlines(t, now);
	if(t->wake.len){
		ota__tick_wake(t);
	}
	ota__tick_tasks(t, now);
	ota__tick_retention(t, now);
	if(batching(t) && t->batch_started_ms
			&& now - t->batch_started_ms >= t->config.batch_ms){
		ota_tracker_flush(t);
	}
	report_store_failure(t);
}
