/*
 * Work the clock triggers: rows whose deadline has come. The query reads
 * only due rows through the partial index on due_at, so a tick with nothing
 * due costs one index probe whatever the size of the database. Deadlines
 * that passed while the broker was down come due on the first tick.
 */
#include "tracker_internal.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#define DUE_BATCH 200

struct due_context {
	struct ota_tracker *t;
	int failures;
};

static void on_due(const struct ota_device_row *due, void *arg)
{
	struct due_context *ctx = arg;
	struct ota_tracker *t = ctx->t;
	struct ota_device_row row = *due;
	struct ota_task task = {0};
	struct ota_event event = {.kind = OTA_EV_TIMEOUT};
	enum ota_decline decline;
	int rc;

	if(ota_store_task_get(t->store, row.task_id, &task)){
		ctx->failures++;
		return;
	}
	event.max_retries = task.max_retries;
	if(row.row.status == OTA_SEND || row.row.status == OTA_REPLY){
		rc = ota__apply(t, &task, &row, &event, NULL, &decline);
	}else{
		/* Nothing is due for this row any more: clear the stale deadline. */
		row.due_at = 0;
		rc = ota_store_row_put(t->store, &row);
	}
	if(rc < 0){
		ctx->failures++;
	}else if(rc == 1){
		ota__log(t, OTA_LOG_INFO, "ota: device %s in task %" PRId64 " timed out",
			row.serial, row.task_id);
	}
	ota_task_clear(&task);
}

/* Reads the earliest deadline back from the store after a batch. */
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
	struct due_context ctx = {.t = t};
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
