/*
 * Device replies on `{serial}/http/upgrade/reply`. The handler reads as
 * its steps: check size and identity, parse, load the task and the row,
 * transition, persist, publish. Whatever it declines still reaches the
 * reply's subscribers unchanged; only a failed identity check drops it.
 */
#include "tracker_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static enum ota_event_kind event_for_status(int status)
{
	switch(status){
		case OTA_REPLY: return OTA_EV_REPLY_PROGRESS;
		case OTA_SUCCESS: return OTA_EV_REPLY_SUCCESS;
		default: return OTA_EV_REPLY_FAILED;
	}
}

static bool check_identity(struct ota_tracker *t, const struct ota_client *client,
	const char *topic, const struct ota_topic *parsed)
{
	char detail[OTA_DETAIL_MAX];

	if(ota__identity_matches(t->config.identity, parsed->id,
			client->client_id, client->username)){
		return true;
	}
	snprintf(detail, sizeof(detail),
		"device %s does not match client id '%s' or username '%s' (device_identity %s)",
		parsed->id, client->client_id ? client->client_id : "",
		client->username ? client->username : "",
		ota_identity_name(t->config.identity));
	ota__decline(t, client, topic, OTA_DECLINE_IDENTITY, detail);
	return false;
}

/* Loads the task and the device's row; declines unknown ones. Returns 1
 * when both were found, 0 when declined, OTA_STORE_ERROR on errors. */
static int load(struct ota_tracker *t, const struct ota_client *client,
	const char *topic, const char *serial, int64_t task_id,
	struct ota_task *task, struct ota_device_row *row)
{
	char detail[OTA_DETAIL_MAX];
	int rc = ota__registry_task(t, task_id, task) ? OTA_STORE_OK
		: ota_store_task_get(t->store, task_id, task);

	if(rc == OTA_STORE_NOT_FOUND){
		snprintf(detail, sizeof(detail), "taskId %" PRId64 ": no such task", task_id);
		ota__decline(t, client, topic, OTA_DECLINE_UNKNOWN_TASK, detail);
		return 0;
	}
	if(rc == OTA_STORE_OK){
		rc = ota_store_row_get(t->store, task_id, serial, row);
	}
	if(rc == OTA_STORE_NOT_FOUND){
		snprintf(detail, sizeof(detail), "taskId %" PRId64 ": device %s is not part of it",
			task_id, serial);
		ota__decline(t, client, topic, OTA_DECLINE_NOT_THIS_DEVICE, detail);
		return 0;
	}
	return rc == OTA_STORE_OK ? 1 : OTA_STORE_ERROR;
}

static void describe_decline(char *out, size_t size, const struct ota_reply *reply,
	const struct ota_device_row *row)
{
	if(reply->status == OTA_REPLY && reply->progress >= 0){
		snprintf(out, size, "status 2 progress %d for %s in task %" PRId64
			": row is %s progress %d", reply->progress, row->serial,
			row->task_id, ota_status_name(row->row.status), row->row.progress);
	}else{
		snprintf(out, size, "status %d for %s in task %" PRId64 ": row is %s",
			reply->status, row->serial, row->task_id,
			ota_status_name(row->row.status));
	}
}

/* Runs the state machine and stores the outcome, inside the transaction. */
static int transition(struct ota_tracker *t, const struct ota_client *client,
	const char *topic, struct ota_task *task, struct ota_device_row *row,
	const struct ota_reply *reply)
{
	struct ota_event event = {0};
	struct ota_apply_context context = {0};
	enum ota_decline decline = OTA_DECLINE_NONE;
	char detail[OTA_DETAIL_MAX];
	int rc;

	event.kind = event_for_status(reply->status);
	event.progress = reply->progress;
	event.max_retries = task->max_retries;
	/* Only a success is checked against the target version. */
	event.version_matches = reply->status != OTA_SUCCESS || !reply->has_version
		|| ota_version_equal(task->version, reply->version);
	context.device_message = reply->has_message ? reply->message : NULL;
	context.reported_version = reply->has_version ? reply->version : NULL;

	if(reply->status == OTA_SUCCESS && event.version_matches
			&& ota_store_device_set_version(t->store, row->serial, task->version,
				ota__now(t))){
		return OTA_STORE_ERROR;
	}
	rc = ota__apply(t, task, row, &event, &context, &decline);
	if(rc == 0){
		describe_decline(detail, sizeof(detail), reply, row);
		ota__decline(t, client, topic, decline, detail);
	}
	return rc;
}

enum ota_verdict ota__handle_reply(struct ota_tracker *t,
	const struct ota_client *client, const char *topic,
	const struct ota_topic *parsed, const void *payload, size_t len)
{
	struct ota_reply reply;
	struct ota_task task = {0};
	struct ota_device_row row;
	char detail[OTA_DETAIL_MAX];
	enum ota_decline reason;
	int rc;

	if(parsed->id_valid && !check_identity(t, client, topic, parsed)){
		return OTA_DROP;
	}
	if(!ota__check_payload(t, client, topic, parsed, len)){
		return OTA_PASS;
	}
	reason = ota_codec_parse_reply(payload, len, &reply, detail, sizeof(detail));
	if(reason){
		ota__decline(t, client, topic, reason, detail);
		return OTA_PASS;
	}

	if(ota__tx_begin(t)){
		rc = OTA_STORE_ERROR;
		goto fail;
	}
	rc = load(t, client, topic, parsed->id, reply.task_id, &task, &row);
	if(rc == 1){
		rc = transition(t, client, topic, &task, &row, &reply);
	}
	ota_task_clear(&task);
	if(ota__tx_end(t, rc >= 0) == OTA_STORE_OK){
		t->accepted += rc == 1;
		return OTA_PASS;
	}

fail:
	t->declined[OTA_DECLINE_STORE]++;
	ota__log(t, OTA_LOG_ERR, "ota: reply from client '%s' on '%s' not committed: %s;"
		" closing the connection so that the device sends it again",
		client->client_id ? client->client_id : "", topic, ota_store_error(t->store));
	return OTA_FAIL;
}
