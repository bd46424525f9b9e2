/*
 * Work the clock triggers. Rows with a deadline (the timeout of SEND and
 * REPLY, the retry of FAILED) are read through the partial index on
 * due_at. The earliest deadline is kept in memory, so a tick with nothing
 * due reads nothing, whatever the size of the database. Deadlines that
 * passed while the broker was down come due on the first tick.
 */
#include "tracker_internal.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DUE_BATCH 200
/* A retry that finds its gate closed looks again after this long. */
#define RETRY_RECHECK_MS 1000

struct due_context {
	struct ota_tracker *t;
	int64_t now;
	int failures;
};

static int time_out(struct ota_tracker *t, const struct ota_task *task,
	struct ota_device_row *row)
{
	struct ota_event event = {.kind = OTA_EV_TIMEOUT, .max_retries = task->max_retries};
	enum ota_decline decline;
	int rc = ota__apply(t, task, row, &event, NULL, &decline);

	if(rc == 1){
		ota__log(t, OTA_LOG_INFO, "ota: device %s in task %" PRId64
			" timed out after %d s", row->serial, row->task_id, task->timeout_s);
	}
	return rc;
}

/* Retries a FAILED row, or moves its deadline when the gate is closed. */
static int retry(struct ota_tracker *t, const struct ota_task *task,
	struct ota_device_row *row, int64_t now)
{
	struct ota_device_row before = *row;
	struct ota_task_entry *e;
	int rc = ota__push(t, task, row);

	if(rc != 0){
		return rc;
	}
	e = ota__registry_get(t, task);
	if(!e){
		return OTA_STORE_ERROR;
	}
	if(e->state == OTA_TASK_RUNNING || e->state == OTA_TASK_SCHEDULED){
		row->due_at = now + RETRY_RECHECK_MS;
	}else{
		row->due_at = 0; /* the task ended: the failure is final */
	}
	return ota__row_store(t, task, &before, row);
}

static void on_due(const struct ota_device_row *due, void *arg)
{
	struct due_context *ctx = arg;
	struct ota_tracker *t = ctx->t;
	struct ota_device_row row = *due;
	struct ota_device_row before = *due;
	struct ota_task task = {0};
	int rc;

	if(ota_store_task_get(t->store, row.task_id, &task)){
		ctx->failures++;
		return;
	}
	if((row.row.status == OTA_SEND || row.row.status == OTA_REPLY) && task.timeout_s > 0
			&& row.updated_at + (int64_t)task.timeout_s * 1000 > ctx->now){
		/* A reply came in since the deadline was set: look again later. */
		row.due_at = row.updated_at + (int64_t)task.timeout_s * 1000;
		rc = ota__row_store(t, &task, &before, &row);
	}else if(row.row.status == OTA_SEND || row.row.status == OTA_REPLY){
		rc = time_out(t, &task, &row);
	}else if(ota_state_retry_pending(&row.row, task.max_retries)){
		rc = retry(t, &task, &row, ctx->now);
	}else{
		/* Nothing is due for this row any more: clear the stale deadline. */
		row.due_at = 0;
		rc = ota__row_store(t, &task, &before, &row);
	}
	if(rc < 0){
		ctx->failures++;
	}
	ota_task_clear(&task);
}

void ota__reload_next_due(struct ota_tracker *t)
{
	int64_t next = 0;

	if(ota_store_next_due(t->store, &next)){
		ota__log(t, OTA_LOG_ERR, "ota: database error: %s", ota_store_error(t->store));
		next = t->last_ms + 1000;
	}
	t->next_due_ms = next ? next : INT64_MAX;
}

void ota__tick_deadlines(struct ota_tracker *t, int64_t now)
{
	struct due_context ctx = {.t = t, .now = now};
	int count;

	if(now < t->next_due_ms){
		return;
	}
	if(ota__tx_begin(t)){
		ota__log(t, OTA_LOG_ERR, "ota: database error: %s", ota_store_error(t->store));
		return;
	}
	count = ota_store_rows_due(t->store, now, DUE_BATCH, on_due, &ctx);
	if(ota__tx_end(t, count >= 0 && ctx.failures == 0)){
		ota__log(t, OTA_LOG_ERR, "ota: deadlines not processed: %s",
			ota_store_error(t->store));
	}
	ota__reload_next_due(t);
}
