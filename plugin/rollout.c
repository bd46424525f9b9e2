/*
 * Rollout: the push gate, the tick's work on tasks, devices coming online,
 * and task summaries.
 *
 * Every push goes through ota__push(), which opens only when the task is
 * running, its startAt has passed and fewer than maxConcurrent devices are
 * in SEND or REPLY. An online device is then sent the `set`; an offline one
 * goes to STOP (offline) and is pushed when it is next seen. The gate
 * limits the plugin's own pushes only: observed `set` messages and replies
 * are facts and are applied even beyond maxConcurrent.
 *
 * Pushes leave from the tick, at most push_batch per tick, so a task of
 * 100,000 devices never stalls the broker's event loop.
 */
#include "tracker_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define PAGE_ROWS 256

/* ===================================================================== */
/* Pushes                                                                */
/* ===================================================================== */

static int queue_set(struct ota_tracker *t, const struct ota_task *task,
	const struct ota_device_row *row)
{
	struct ota_device device;
	char topic[OTA_SERIAL_MAX + 32];
	bool slash = t->config.leading_slash;
	char *payload;
	int rc;

	if(ota_store_device_get(t->store, row->serial, &device) == OTA_STORE_OK
			&& device.leading_slash >= 0){
		slash = device.leading_slash;
	}
	payload = ota_codec_format_set(task->id, task->url, task->version, task->extra);
	if(!payload){
		return OTA_STORE_ERROR;
	}
	ota__set_topic(topic, sizeof(topic), slash, row->serial);
	rc = ota__queue(t, topic, payload, t->config.push_qos, false);
	free(payload);
	return rc;
}

static bool gate_open(const struct ota_task_entry *e, int64_t now)
{
	if(e->state != OTA_TASK_RUNNING || (e->start_at && now < e->start_at)){
		return false;
	}
	return e->max_concurrent <= 0
		|| ota__counts_in_flight(&e->counts) < e->max_concurrent;
}

int ota__push(struct ota_tracker *t, const struct ota_task *task,
	struct ota_device_row *row)
{
	struct ota_task_entry *e = ota__registry_get(t, task);
	bool online = ota__online_has(&t->online, row->serial);
	struct ota_event event = {.max_retries = task->max_retries};
	enum ota_decline decline;
	int rc;

	if(!e || !e->counts_valid){
		return OTA_STORE_ERROR;
	}
	if(!gate_open(e, ota__now(t))){
		return 0;
	}
	if(ota__tx_begin(t)){
		return OTA_STORE_ERROR;
	}
	event.kind = online ? OTA_EV_PUSH_ONLINE : OTA_EV_PUSH_OFFLINE;
	rc = ota__apply(t, task, row, &event, NULL, &decline);
	if(rc == 1 && online){
		rc = queue_set(t, task, row) ? OTA_STORE_ERROR : 1;
	}
	return rc;
}

int ota__task_set_state(struct ota_tracker *t, struct ota_task_entry *e, int state)
{
	int64_t id = e->id;

	if(ota__tx_begin(t) || ota_store_task_set_state(t->store, id, state, ota__now(t))){
		return OTA_STORE_ERROR;
	}
	e->state = state;
	e->dirty = true;
	ota__registry_attend(&t->registry, e);
	ota__log(t, OTA_LOG_INFO, "ota: task %" PRId64 " is %s", id, ota_task_state_name(state));
	return OTA_STORE_OK;
}

/* ===================================================================== */
/* Summaries                                                             */
/* ===================================================================== */

void ota__json_add_counts(cJSON *object, const struct ota_task_counts *c)
{
	ota_json_add_int(object, "total", c->total);
	ota_json_add_int(object, "await", c->await);
	ota_json_add_int(object, "send", c->send);
	ota_json_add_int(object, "upgrading", c->upgrading);
	ota_json_add_int(object, "success", c->success);
	ota_json_add_int(object, "failed", c->failed);
	ota_json_add_int(object, "stopped", c->stopped);
}

char *ota__summary_json(struct ota_tracker *t, const struct ota_task *task,
	const struct ota_task_entry *e)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *version = ota_json_parse_exact(task->version);
	char *text;

	ota_json_add_int(root, "taskId", task->id);
	if(task->name[0]){
		cJSON_AddStringToObject(root, "name", task->name);
	}
	if(version){
		cJSON_AddItemToObject(root, "version", version);
	}
	ota__json_add_counts(root, &e->counts);
	cJSON_AddStringToObject(root, "state", ota_task_state_name(e->state));
	ota_json_add_int(root, "updatedAt", ota__now(t));
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static int queue_summary(struct ota_tracker *t, const struct ota_task *task,
	struct ota_task_entry *e, int64_t now)
{
	char topic[64];
	char *payload = ota__summary_json(t, task, e);
	int rc;

	if(!payload){
		return OTA_STORE_ERROR;
	}
	ota__summary_topic(topic, sizeof(topic), task->leading_slash, task->id);
	rc = ota__queue(t, topic, payload, t->config.status_qos, true);
	free(payload);
	e->dirty = false;
	e->summary_at = now;
	return rc;
}

/* ===================================================================== */
/* Work on one task                                                      */
/* ===================================================================== */

static bool row_can_stop(const struct ota_device_row *row, int max_retries)
{
	return ota_state_is_active(&row->row) || ota_state_retry_pending(&row->row, max_retries);
}

static enum ota_event_kind stop_event(int reason)
{
	switch(reason){
		case OTA_REASON_ABORTED: return OTA_EV_ABORT;
		case OTA_REASON_EXPIRED: return OTA_EV_EXPIRE;
		default: return OTA_EV_CANCEL;
	}
}

/* Stops up to `*budget` rows of a cancelled, aborted or expired task,
 * walking the rows by serial number from `after`, which it advances.
 * Returns 1 while rows remain, 0 when done. */
static int sweep(struct ota_tracker *t, const struct ota_task *task,
	int reason, char *after, int *budget)
{
	struct ota_event event = {.kind = stop_event(reason), .max_retries = task->max_retries};
	struct ota_device_row *rows = NULL;
	enum ota_decline decline;
	int count;

	while(*budget > 0){
		count = ota_store_rows_page(t->store, task->id, -1, after, 0, PAGE_ROWS, &rows);
		if(count < 0){
			return OTA_STORE_ERROR;
		}
		for(int i = 0; i < count && *budget > 0; i++){
			snprintf(after, OTA_SERIAL_MAX + 1, "%s", rows[i].serial);
			if(!row_can_stop(&rows[i], task->max_retries)){
				continue;
			}
			if(ota__tx_begin(t) || ota__apply(t, task, &rows[i], &event, NULL, &decline) < 0){
				free(rows);
				return OTA_STORE_ERROR;
			}
			(*budget)--;
		}
		free(rows);
		if(count < PAGE_ROWS){
			return *budget > 0 ? 0 : 1;
		}
	}
	return 1;
}

/* Pushes AWAIT rows while the gate is open. Returns 1 while rows wait. */
static int push_waiting(struct ota_tracker *t, const struct ota_task *task, int *budget)
{
	struct ota_device_row *rows = NULL;
	int count;
	int rc = 1;

	while(*budget > 0 && rc == 1){
		int limit = *budget < PAGE_ROWS ? *budget : PAGE_ROWS;

		count = ota_store_rows_page(t->store, task->id, OTA_AWAIT, "", 0, limit, &rows);
		if(count <= 0){
			free(rows);
			return count;
		}
		for(int i = 0; i < count && rc == 1; i++){
			rc = ota__push(t, task, &rows[i]);
			(*budget)--;
		}
		free(rows);
	}
	return rc < 0 ? rc : 1;
}

static bool should_abort(const struct ota_task_entry *e)
{
	const struct ota_task_counts *c = &e->counts;
	int64_t failed = c->failed - c->retrying;
	int64_t finished = c->success + failed;
	int64_t min_finished = e->abort_min_finished > 0 ? e->abort_min_finished : 1;

	return e->abort_failure_percent > 0 && finished >= min_finished
		&& failed * 100 >= (int64_t)e->abort_failure_percent * finished;
}

/* Moves a task along its states by the clock and its counts. */
static int advance_state(struct ota_tracker *t, struct ota_task_entry *e, int64_t now)
{
	bool live = e->state == OTA_TASK_SCHEDULED || e->state == OTA_TASK_RUNNING;

	if(e->state == OTA_TASK_SCHEDULED && now >= e->start_at){
		e->gate_pending = true;
		return ota__task_set_state(t, e, OTA_TASK_RUNNING);
	}
	if(live && e->end_at && now >= e->end_at){
		e->sweep_reason = OTA_REASON_EXPIRED;
		return ota__task_set_state(t, e, OTA_TASK_EXPIRED);
	}
	if(e->state == OTA_TASK_RUNNING && should_abort(e)){
		e->sweep_reason = OTA_REASON_ABORTED;
		ota__log(t, OTA_LOG_WARNING, "ota: task %" PRId64 " aborted: %" PRId64
			" of %" PRId64 " finished devices failed, threshold %d%%", e->id,
			e->counts.failed - e->counts.retrying,
			e->counts.success + e->counts.failed - e->counts.retrying,
			e->abort_failure_percent);
		return ota__task_set_state(t, e, OTA_TASK_ABORTED);
	}
	if(e->state == OTA_TASK_RUNNING && e->counts.total > 0
			&& ota__counts_all_final(&e->counts)){
		return ota__task_set_state(t, e, OTA_TASK_FINISHED);
	}
	return OTA_STORE_OK;
}

/* Returns true when the task needs another look on a later tick. */
static bool needs_attention(const struct ota_task_entry *e, int64_t now)
{
	bool live = e->state == OTA_TASK_SCHEDULED || e->state == OTA_TASK_RUNNING;

	if(e->deleted){
		return false;
	}
	return e->dirty || e->sweep_reason || !e->counts_valid
		|| (e->state == OTA_TASK_RUNNING && e->gate_pending)
		|| (live && (e->end_at || e->start_at > now));
}

static int process_task(struct ota_tracker *t, int64_t id, int64_t now, int *budget)
{
	struct ota_task_entry *e = ota__registry_find(&t->registry, id);
	struct ota_task task;
	int rc;

	if(!e || e->deleted){
		return OTA_STORE_OK;
	}
	if(!e->counts_valid && ota__registry_load_counts(t, e)){
		return OTA_STORE_ERROR;
	}
	rc = ota_store_task_get(t->store, id, &task);
	if(rc == OTA_STORE_NOT_FOUND){
		e->deleted = true;
		return OTA_STORE_OK;
	}
	if(rc != OTA_STORE_OK){
		return OTA_STORE_ERROR;
	}
	rc = advance_state(t, e, now);
	if(rc == OTA_STORE_OK && e->sweep_reason){
		rc = sweep(t, &task, e->sweep_reason, e->sweep_after, budget);
		if(rc == 0){
			e->sweep_reason = 0;
			e->sweep_after[0] = '\0';
		}
	}
	if(rc >= 0 && e->state == OTA_TASK_RUNNING && e->gate_pending && *budget > 0){
		rc = push_waiting(t, &task, budget);
		if(rc == 0){
			e->gate_pending = false;
		}
	}
	if(rc >= 0){
		rc = advance_state(t, e, now);
	}
	if(rc >= 0 && e->dirty && now - e->summary_at >= t->config.summary_interval_ms){
		rc = queue_summary(t, &task, e, now);
	}
	ota_task_clear(&task);
	return rc < 0 ? OTA_STORE_ERROR : OTA_STORE_OK;
}

void ota__tick_tasks(struct ota_tracker *t, int64_t now)
{
	struct ota_registry *r = &t->registry;
	size_t len = r->attention_len;
	int64_t *ids;
	int budget = t->config.push_batch;
	bool ok = true;

	if(len == 0){
		return;
	}
	ids = malloc(len * sizeof(*ids));
	if(!ids){
		return;
	}
	memcpy(ids, r->attention, len * sizeof(*ids));
	r->attention_len = 0;

	for(size_t i = 0; i < len; i++){
		struct ota_task_entry *e = ota__registry_find(r, ids[i]);

		if(!e){
			continue;
		}
		e->in_attention = false;
		if(ok && process_task(t, ids[i], now, &budget)){
			ok = false;
		}
		e = ota__registry_find(r, ids[i]);
		if(e && (!ok || needs_attention(e, now))){
			ota__registry_attend(r, e);
		}
	}
	free(ids);
	if(ota__tx_end(t, ok)){
		ota__log(t, OTA_LOG_ERR, "ota: task work not committed: %s",
			ota_store_error(t->store));
	}
}

/* ===================================================================== */
/* Devices coming online                                                 */
/* ===================================================================== */

void ota__wake_add(struct ota_tracker *t, const char *serial)
{
	struct ota_wake_list *w = &t->wake;

	if(w->len == w->cap){
		size_t cap = w->cap ? w->cap * 2 : 64;
		void *grown = realloc(w->serials, cap * sizeof(*w->serials));

		if(!grown){
			return;
		}
		w->serials = grown;
		w->cap = cap;
	}
	snprintf(w->serials[w->len++], OTA_SERIAL_MAX + 1, "%s", serial);
}

void ota__wake_free(struct ota_wake_list *w)
{
	free(w->serials);
	memset(w, 0, sizeof(*w));
}

/* Pushes the rows that wait for one device. Returns 1 when some remain
 * behind a closed gate, 0 when none remain. */
static int wake_device(struct ota_tracker *t, const char *serial)
{
	struct ota_device_row *rows = NULL;
	int count = ota_store_rows_waiting_for(t->store, serial, &rows);
	int waiting = 0;

	if(count < 0){
		return OTA_STORE_ERROR;
	}
	for(int i = 0; i < count; i++){
		struct ota_task task;
		int rc;

		if(ota_store_task_get(t->store, rows[i].task_id, &task) != OTA_STORE_OK){
			free(rows);
			return OTA_STORE_ERROR;
		}
		rc = ota__push(t, &task, &rows[i]);
		ota_task_clear(&task);
		if(rc < 0){
			free(rows);
			return rc;
		}
		waiting |= rc == 0;
	}
	free(rows);
	return waiting;
}

void ota__tick_wake(struct ota_tracker *t)
{
	struct ota_wake_list *w = &t->wake;
	size_t kept = 0;
	bool ok = true;

	for(size_t i = 0; i < w->len; i++){
		int rc = 0;

		if(ok && ota__online_has(&t->online, w->serials[i])){
			rc = wake_device(t, w->serials[i]);
			if(rc < 0){
				ok = false;
			}
		}
		if(rc != 0){
			memmove(w->serials[kept++], w->serials[i], OTA_SERIAL_MAX + 1);
		}
	}
	w->len = kept;
	if(ota__tx_end(t, ok)){
		ota__log(t, OTA_LOG_ERR, "ota: pushes to devices now online not committed: %s",
			ota_store_error(t->store));
	}
}
