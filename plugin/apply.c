/*
 * The one path every transition takes: state machine, row, deadline,
 * history, then the status events queued for after the commit. Replies,
 * observed `set` messages, pushes, timeouts and admin commands all call
 * ota__apply(), so the dashboard stream and the database cannot disagree.
 */
#include "tracker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes the `message` text of an event with `reason`, or "" for none. */
static void reason_text(const struct ota_task *task, int reason,
	const struct ota_apply_context *context, char *out, size_t size)
{
	char expected[OTA_VERSION_MAX + 1];
	char got[OTA_VERSION_MAX + 1];
	const char *fixed;

	out[0] = '\0';
	switch(reason){
		case OTA_REASON_NONE:
			return;
		case OTA_REASON_DEVICE:
			if(context && context->device_message && context->device_message[0]){
				snprintf(out, size, "%s", context->device_message);
				return;
			}
			break;
		case OTA_REASON_VERSION_MISMATCH:
			if(context && context->reported_version
					&& ota_version_text(task->version, expected, sizeof(expected))
					&& ota_version_text(context->reported_version, got, sizeof(got))){
				snprintf(out, size, "version mismatch: expected %s, got %s",
					expected, got);
				return;
			}
			break;
		default:
			break;
	}
	fixed = ota_reason_message(reason);
	snprintf(out, size, "%s", fixed ? fixed : "");
}

static bool in_flight(const struct ota_row *row)
{
	return row->status == OTA_SEND || row->status == OTA_REPLY;
}

/*
 * Returns when the row must be looked at again without any message: its
 * timeout while SEND or REPLY, its retry while FAILED; 0 for never.
 *
 * A row that stays in flight keeps its earlier deadline, so that a
 * progress report does not rewrite the deadline index. That deadline is
 * only a time to look again: the tick checks updated_at + timeout and
 * moves the deadline when a reply came in since.
 */
static int64_t next_deadline(const struct ota_task *task, const struct ota_device_row *before,
	const struct ota_row *row, int64_t now)
{
	if(in_flight(row) && task->timeout_s > 0){
		if(in_flight(&before->row) && before->due_at){
			return before->due_at;
		}
		return now + (int64_t)task->timeout_s * 1000;
	}
	if(ota_state_retry_pending(row, task->max_retries)){
		return now + (int64_t)task->retry_delay_s * 1000;
	}
	return 0;
}

/* Writes the row with the cheapest statement that covers what changed. */
static int write_row(struct ota_tracker *t, const struct ota_device_row *before,
	const struct ota_device_row *row)
{
	const struct ota_row *a = &before->row;
	const struct ota_row *b = &row->row;

	if(a->status == OTA_NONE){
		return ota_store_row_put(t->store, row);
	}
	if(a->status == b->status && a->reason == b->reason && a->attempts == b->attempts
			&& a->announced == b->announced && before->due_at == row->due_at
			&& strcmp(before->message, row->message) == 0){
		return ota_store_row_update_progress(t->store, row);
	}
	if(before->due_at == row->due_at){
		return ota_store_row_update_keep_due(t->store, row);
	}
	return ota_store_row_update(t->store, row);
}

/*
 * History keeps one entry per status change of a row, with the progress at
 * that change. Later progress reports of an upgrading device change only
 * the row: they are most replies, and an entry each would double what a
 * reply writes. An event that passes a row through two statuses, such as
 * a `set` taking a new row through AWAIT to SEND, records only the second.
 */
static bool records_history(const struct ota_device_row *before,
	const struct ota_outcome *out, int i)
{
	const struct ota_emit *emit = &out->emits[i];

	if(i + 1 < out->emit_count){
		return false;
	}
	return !(emit->status == OTA_REPLY && before->row.status == OTA_REPLY);
}

static int queue_status(struct ota_tracker *t, const struct ota_task *task,
	const struct ota_device_row *row, const struct ota_emit *emit,
	const char *message, int64_t now)
{
	char topic[64];
	char *payload;
	int rc;

	payload = ota_codec_format_status(row->serial, emit->status, now,
		emit->progress, message[0] ? message : NULL);
	if(!payload){
		return OTA_STORE_ERROR;
	}
	ota__status_topic(topic, sizeof(topic), task->leading_slash, task->id);
	rc = ota__queue(t, topic, payload, t->config.status_qos, false);
	free(payload);
	return rc;
}

int ota__apply(struct ota_tracker *t, const struct ota_task *task,
	struct ota_device_row *row, const struct ota_event *event,
	const struct ota_apply_context *context, enum ota_decline *decline)
{
	struct ota_outcome out = ota_state_apply(&row->row, event);
	struct ota_device_row before = *row;
	struct ota_task_entry *entry;
	char message[OTA_MESSAGE_MAX + 1];
	int64_t now;

	if(!out.changed){
		*decline = out.decline;
		return 0;
	}
	now = ota__now(t);
	/* Taken before the row is written, so that its counts are the old ones. */
	entry = ota__registry_get(t, task);
	if(!entry){
		return OTA_STORE_ERROR;
	}

	row->row = out.next;
	row->updated_at = now;
	row->due_at = next_deadline(task, &before, &row->row, now);
	if(row->due_at && row->due_at < t->next_due_ms){
		t->next_due_ms = row->due_at;
	}
	reason_text(task, row->row.reason, context, row->message, sizeof(row->message));
	if(row->row.status == OTA_STOP && row->row.reason == OTA_REASON_OFFLINE){
		snprintf(row->message, sizeof(row->message), "device offline");
	}
	if(write_row(t, &before, row)){
		return OTA_STORE_ERROR;
	}
	ota__registry_count(&t->registry, entry, &before, row);
	if(ota_state_is_active(&row->row) && entry->state == OTA_TASK_FINISHED
			&& ota__task_set_state(t, entry, OTA_TASK_RUNNING)){
		/* A backend's new `set` reopened a finished task. */
		return OTA_STORE_ERROR;
	}

	for(int i = 0; i < out.emit_count; i++){
		const struct ota_emit *emit = &out.emits[i];

		reason_text(task, emit->reason, context, message, sizeof(message));
		if((records_history(&before, &out, i)
				&& ota_store_history_add(t->store, task->id, row->serial, emit->status,
					emit->progress, message[0] ? message : NULL, now))
				|| queue_status(t, task, row, emit, message, now)){
			return OTA_STORE_ERROR;
		}
	}
	return 1;
}

int ota__row_store(struct ota_tracker *t, const struct ota_task *task,
	const struct ota_device_row *before, const struct ota_device_row *row)
{
	struct ota_task_entry *entry = ota__registry_get(t, task);

	if(!entry || ota_store_row_put(t->store, row)){
		return OTA_STORE_ERROR;
	}
	ota__registry_count(&t->registry, entry, before, row);
	return OTA_STORE_OK;
}
