/*
 * Observed `set` messages: a backend such as FastBee's pushes firmware to
 * `{serial}/http/upgrade/set`, and the plugin learns the task from it. The
 * message always reaches the device unchanged; the plugin only declines to
 * track what it cannot trust or does not understand.
 */
#include "tracker_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool from_backend(struct ota_tracker *t, const struct ota_client *client,
	const char *topic)
{
	char detail[OTA_DETAIL_MAX];

	if(!t->config.backend_users
			|| ota_config_list_has(t->config.backend_users, client->username)){
		return true;
	}
	snprintf(detail, sizeof(detail), "username '%s' is not in backend_users",
		client->username ? client->username : "");
	ota__decline(t, client, topic, OTA_DECLINE_NOT_BACKEND, detail);
	return false;
}

/* Creates the task a `set` names, in the topic form of that `set`. */
static int create_task(struct ota_tracker *t, const struct ota_set *set,
	bool leading_slash, struct ota_task *task)
{
	int64_t now = ota__now(t);

	memset(task, 0, sizeof(*task));
	task->id = set->task_id;
	snprintf(task->version, sizeof(task->version), "%s", set->version);
	snprintf(task->url, sizeof(task->url), "%s", set->url);
	task->leading_slash = leading_slash;
	task->from_api = false;
	task->state = OTA_TASK_RUNNING;
	task->timeout_s = t->config.timeout_s;
	task->retry_delay_s = 60;
	task->created_at = now;
	task->updated_at = now;
	return ota_store_task_insert(t->store, task);
}

/* Loads or creates the task. Returns 1 when it may be tracked, 0 when the
 * `set` conflicts with it, OTA_STORE_ERROR on errors. */
static int load_task(struct ota_tracker *t, const struct ota_client *client,
	const char *topic, const struct ota_set *set, bool leading_slash,
	struct ota_task *task)
{
	char detail[OTA_DETAIL_MAX];
	int rc = ota__registry_task(t, set->task_id, task) ? OTA_STORE_OK
		: ota_store_task_get(t->store, set->task_id, task);

	if(rc == OTA_STORE_NOT_FOUND){
		if(ota__task_limit_reached(t, detail, sizeof(detail))){
			ota__decline(t, client, topic, OTA_DECLINE_TASK_LIMIT, detail);
			return 0;
		}
		return create_task(t, set, leading_slash, task) ? OTA_STORE_ERROR : 1;
	}
	if(rc != OTA_STORE_OK){
		return OTA_STORE_ERROR;
	}
	if(!ota_version_equal(task->version, set->version) || strcmp(task->url, set->url)){
		snprintf(detail, sizeof(detail), "taskId %" PRId64
			" exists with version %s and another url or version; not tracked",
			task->id, task->version);
		ota__decline(t, client, topic, OTA_DECLINE_CONFLICT, detail);
		return 0;
	}
	return 1;
}

static int track(struct ota_tracker *t, const struct ota_client *client,
	const char *topic, const struct ota_topic *parsed, const struct ota_set *set,
	struct ota_task *task)
{
	struct ota_device_row row;
	struct ota_event event = {.kind = OTA_EV_SET_OBSERVED};
	enum ota_decline decline = OTA_DECLINE_NONE;
	char detail[OTA_DETAIL_MAX];
	int rc = load_task(t, client, topic, set, parsed->leading_slash, task);

	if(rc != 1){
		return rc;
	}
	rc = ota_store_row_get(t->store, task->id, parsed->id, &row);
	if(rc == OTA_STORE_NOT_FOUND){
		memset(&row, 0, sizeof(row));
		row.task_id = task->id;
		snprintf(row.serial, sizeof(row.serial), "%s", parsed->id);
		row.row.status = OTA_NONE;
	}else if(rc != OTA_STORE_OK){
		return OTA_STORE_ERROR;
	}
	if(ota_store_device_set_form(t->store, parsed->id, parsed->leading_slash,
			ota__now(t))){
		return OTA_STORE_ERROR;
	}

	event.max_retries = task->max_retries;
	rc = ota__apply(t, task, &row, &event, NULL, &decline);
	if(rc == 0){
		snprintf(detail, sizeof(detail), "set for %s in task %" PRId64 ": row is %s",
			parsed->id, task->id, ota_status_name(row.row.status));
		ota__decline(t, client, topic, decline, detail);
	}
	return rc;
}

enum ota_verdict ota__handle_set(struct ota_tracker *t,
	const struct ota_client *client, const char *topic,
	const struct ota_topic *parsed, const void *payload, size_t len)
{
	struct ota_set set;
	struct ota_task task = {0};
	char detail[OTA_DETAIL_MAX];
	enum ota_decline reason;
	int rc;

	if(!from_backend(t, client, topic) || !ota__check_payload(t, client, topic, parsed, len)){
		return OTA_PASS;
	}
	reason = ota_codec_parse_set(payload, len, &set, detail, sizeof(detail));
	if(reason){
		ota__decline(t, client, topic, reason, detail);
		return OTA_PASS;
	}

	rc = ota__tx_begin(t);
	if(rc == OTA_STORE_OK){
		rc = track(t, client, topic, parsed, &set, &task);
	}
	ota_task_clear(&task);
	if(ota__tx_end(t, rc >= 0) == OTA_STORE_OK){
		t->accepted += rc == 1;
		return OTA_PASS;
	}
	t->declined[OTA_DECLINE_STORE]++;
	ota__log(t, OTA_LOG_ERR, "ota: set from client '%s' on '%s' not committed: %s;"
		" closing the connection so that the backend sends it again",
		client->client_id ? client->client_id : "", topic, ota_store_error(t->store));
	return OTA_FAIL;
}
