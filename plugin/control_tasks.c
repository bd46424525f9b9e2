/*
 * Admin commands that change tasks: createTask, cancelTask, retryTask.
 *
 * createTask validates the whole request before it writes anything, then
 * stores the task and all its rows in one transaction. It pushes nothing
 * itself: the tick pushes waiting rows through the gate in bounded batches.
 * cancelTask of a whole task likewise marks the task and lets the tick stop
 * its rows, so even a task of 100,000 devices costs the command little.
 */
#include "control_internal.h"

#include <ctype.h>
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEVICES_MAX 100000
#define REFUSED_LISTED_MAX 1000
#define TIMEOUT_MAX_S 31536000
#define RETRY_DELAY_MAX_S 2592000
#define RETRIES_MAX 1000

/* ===================================================================== */
/* createTask: validation                                                */
/* ===================================================================== */

struct create_request {
	struct ota_task task;
	const cJSON *devices;
	int device_count;
	bool force;
};

static bool read_version(const cJSON *request, struct ota_task *task,
	struct ota_reply_builder *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(request, "version");
	char *text;

	if(!item){
		return ota__cmd_fail(out, "version: missing");
	}
	if(!(cJSON_IsNumber(item) && isfinite(item->valuedouble))
			&& !(cJSON_IsString(item) && item->valuestring[0]
				&& strlen(item->valuestring) <= OTA_VERSION_MAX)){
		return ota__cmd_fail(out, "version: must be a number or a string of 1-%d bytes",
			OTA_VERSION_MAX);
	}
	text = cJSON_PrintUnformatted(item);
	if(!text || strlen(text) >= sizeof(task->version)){
		free(text);
		return ota__cmd_fail(out, "version: longer than %d bytes once encoded",
			OTA_VERSION_MAX);
	}
	snprintf(task->version, sizeof(task->version), "%s", text);
	free(text);
	return true;
}

static bool read_string(const cJSON *request, const char *key, size_t max,
	bool required, char *dest, size_t dest_size, struct ota_reply_builder *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(request, key);

	if(!item){
		return required ? ota__cmd_fail(out, "%s: missing", key) : true;
	}
	if(!cJSON_IsString(item) || !item->valuestring[0] || strlen(item->valuestring) > max){
		return ota__cmd_fail(out, "%s: must be a string of 1-%zu bytes", key, max);
	}
	snprintf(dest, dest_size, "%s", item->valuestring);
	return true;
}

static bool all_hex(const char *s, size_t len)
{
	if(strlen(s) != len){
		return false;
	}
	for(size_t i = 0; i < len; i++){
		if(!isxdigit((unsigned char)s[i])){
			return false;
		}
	}
	return true;
}

/* Builds the JSON object of keys added to every push: checksum and size. */
static bool read_extra(const cJSON *request, struct ota_task *task,
	struct ota_reply_builder *out)
{
	const cJSON *checksum = cJSON_GetObjectItemCaseSensitive(request, "checksum");
	int64_t size = 0;
	cJSON *extra;

	if(!ota__cmd_int(request, "size", 1, OTA_TASK_ID_MAX, false, &size, out)){
		return false;
	}
	if(checksum){
		const cJSON *sha256 = cJSON_GetObjectItemCaseSensitive(checksum, "sha256");
		const cJSON *md5 = cJSON_GetObjectItemCaseSensitive(checksum, "md5");
		bool ok = cJSON_IsObject(checksum) && cJSON_GetArraySize(checksum) == 1
			&& ((cJSON_IsString(sha256) && all_hex(sha256->valuestring, 64))
				|| (cJSON_IsString(md5) && all_hex(md5->valuestring, 32)));

		if(!ok){
			return ota__cmd_fail(out, "checksum: must be {\"sha256\": 64 hex digits}"
				" or {\"md5\": 32 hex digits}");
		}
	}
	if(!checksum && !size){
		return true;
	}
	extra = cJSON_CreateObject();
	if(checksum){
		cJSON_AddItemToObject(extra, "checksum", cJSON_Duplicate(checksum, true));
	}
	if(size){
		ota_json_add_int(extra, "size", size);
	}
	task->extra = cJSON_PrintUnformatted(extra);
	cJSON_Delete(extra);
	return task->extra != NULL || ota__cmd_fail(out, "out of memory");
}

static bool read_devices(const cJSON *request, struct create_request *req,
	struct ota_reply_builder *out)
{
	const cJSON *devices = cJSON_GetObjectItemCaseSensitive(request, "devices");
	struct ota_online seen;
	const cJSON *item;
	int i = 0;
	bool ok = true;

	if(!cJSON_IsArray(devices)){
		return ota__cmd_fail(out, "devices: must be an array of 1 to %d serial numbers",
			DEVICES_MAX);
	}
	req->device_count = cJSON_GetArraySize(devices);
	if(req->device_count < 1 || req->device_count > DEVICES_MAX){
		return ota__cmd_fail(out, "devices: must be an array of 1 to %d serial numbers,"
			" got %d", DEVICES_MAX, req->device_count);
	}
	ota__online_init(&seen);
	cJSON_ArrayForEach(item, devices){
		if(!cJSON_IsString(item) || !ota_serial_valid(item->valuestring)){
			ok = ota__cmd_fail(out, "devices[%d]: serial number must be 1-%d characters"
				" without '/', '+' or '#'", i, OTA_SERIAL_MAX);
			break;
		}
		if(!ota__online_set(&seen, item->valuestring, NULL)){
			ok = ota__cmd_fail(out, "devices[%d]: duplicate serial number %s", i,
				item->valuestring);
			break;
		}
		i++;
	}
	ota__online_free(&seen);
	req->devices = devices;
	return ok;
}

static bool read_rollout(struct ota_tracker *t, const cJSON *request,
	struct ota_task *task, struct ota_reply_builder *out)
{
	int64_t timeout = t->config.timeout_s;
	int64_t retries = 0;
	int64_t delay = 60;
	int64_t concurrent = 0;
	int64_t percent = 0;
	int64_t min_finished = 1;

	if(!ota__cmd_int(request, "timeoutSeconds", 0, TIMEOUT_MAX_S, false, &timeout, out)
			|| !ota__cmd_int(request, "maxRetries", 0, RETRIES_MAX, false, &retries, out)
			|| !ota__cmd_int(request, "retryDelaySeconds", 0, RETRY_DELAY_MAX_S, false, &delay, out)
			|| !ota__cmd_int(request, "maxConcurrent", 0, DEVICES_MAX, false, &concurrent, out)
			|| !ota__cmd_int(request, "abortFailurePercent", 1, 100, false, &percent, out)
			|| !ota__cmd_int(request, "abortMinFinished", 1, DEVICES_MAX, false, &min_finished, out)
			|| !ota__cmd_int(request, "startAt", 1, OTA_TASK_ID_MAX, false, &task->start_at, out)
			|| !ota__cmd_int(request, "endAt", 1, OTA_TASK_ID_MAX, false, &task->end_at, out)){
		return false;
	}
	if(cJSON_GetObjectItemCaseSensitive(request, "abortMinFinished") && !percent){
		return ota__cmd_fail(out, "abortMinFinished: needs abortFailurePercent");
	}
	if(task->end_at && task->end_at <= (task->start_at ? task->start_at : ota__now(t))){
		return ota__cmd_fail(out, "endAt %" PRId64 ": must be later than startAt and now",
			task->end_at);
	}
	task->timeout_s = (int)timeout;
	task->max_retries = (int)retries;
	task->retry_delay_s = (int)delay;
	task->max_concurrent = (int)concurrent;
	task->abort_failure_percent = (int)percent;
	task->abort_min_finished = percent ? (int)min_finished : 0;
	return true;
}

static bool read_task_id(struct ota_tracker *t, const cJSON *request,
	struct ota_task *task, struct ota_reply_builder *out)
{
	struct ota_task existing;
	int64_t id = 0;
	int rc;

	if(!ota__cmd_int(request, "taskId", 1, OTA_TASK_ID_MAX, false, &id, out)){
		return false;
	}
	if(!id){
		if(ota_store_task_max_id(t->store, &id)){
			return ota__cmd_fail(out, "database error: %s", ota_store_error(t->store));
		}
		if(id >= OTA_TASK_ID_MAX){
			return ota__cmd_fail(out, "taskId: no id left below 2^53; give one");
		}
		task->id = id + 1;
		return true;
	}
	rc = ota_store_task_get(t->store, id, &existing);
	if(rc == OTA_STORE_OK){
		ota_task_clear(&existing);
		return ota__cmd_fail(out, "taskId %" PRId64 ": already exists", id);
	}
	if(rc != OTA_STORE_NOT_FOUND){
		return ota__cmd_fail(out, "database error: %s", ota_store_error(t->store));
	}
	task->id = id;
	return true;
}

static bool read_create(struct ota_tracker *t, const cJSON *request,
	struct create_request *req, struct ota_reply_builder *out)
{
	struct ota_task *task = &req->task;
	const cJSON *force = cJSON_GetObjectItemCaseSensitive(request, "force");

	if(force && !cJSON_IsBool(force)){
		return ota__cmd_fail(out, "force: must be true or false");
	}
	req->force = cJSON_IsTrue(force);
	return read_version(request, task, out)
		&& read_string(request, "url", OTA_URL_MAX, true, task->url, sizeof(task->url), out)
		&& read_string(request, "name", OTA_NAME_MAX, false, task->name, sizeof(task->name), out)
		&& read_devices(request, req, out)
		&& read_rollout(t, request, task, out)
		&& read_extra(request, task, out)
		&& read_task_id(t, request, task, out);
}

/* ===================================================================== */
/* createTask: storing                                                   */
/* ===================================================================== */

struct create_result {
	int accepted;
	int at_target;
	int refused;
	cJSON *refused_list;
};

static void refuse(struct create_result *res, const char *serial, const char *reason)
{
	res->refused++;
	if(res->refused <= REFUSED_LISTED_MAX){
		cJSON *entry = cJSON_CreateObject();

		cJSON_AddStringToObject(entry, "serialNumber", serial);
		cJSON_AddStringToObject(entry, "reason", reason);
		cJSON_AddItemToArray(res->refused_list, entry);
	}
}

/* Adds one device's row: refused when busy elsewhere, SUCCESS at once when
 * it already runs the target, else AWAIT for the gate. */
static int add_device(struct ota_tracker *t, const struct create_request *req,
	const char *serial, int64_t now, struct create_result *res)
{
	const struct ota_task *task = &req->task;
	struct ota_device_row row = {0};
	struct ota_device device;
	struct ota_event event = {.kind = OTA_EV_AT_TARGET};
	enum ota_decline decline;
	char reason[64];
	int64_t busy_task;
	int rc;

	if(!req->force){
		rc = ota_store_device_busy(t->store, serial, task->id, &busy_task);
		if(rc == OTA_STORE_OK){
			snprintf(reason, sizeof(reason), "busy in task %" PRId64, busy_task);
			refuse(res, serial, reason);
			return OTA_STORE_OK;
		}
		if(rc != OTA_STORE_NOT_FOUND){
			return OTA_STORE_ERROR;
		}
	}
	row.task_id = task->id;
	snprintf(row.serial, sizeof(row.serial), "%s", serial);
	row.row.status = OTA_AWAIT;
	row.updated_at = now;
	if(ota_store_row_put(t->store, &row)){
		return OTA_STORE_ERROR;
	}
	rc = ota_store_device_get(t->store, serial, &device);
	if(rc == OTA_STORE_OK && device.installed_version[0]
			&& ota_version_equal(device.installed_version, task->version)){
		res->at_target++;
		return ota__apply(t, task, &row, &event, NULL, &decline) < 0
			? OTA_STORE_ERROR : OTA_STORE_OK;
	}
	if(rc == OTA_STORE_ERROR){
		return OTA_STORE_ERROR;
	}
	res->accepted++;
	return OTA_STORE_OK;
}

static int store_task(struct ota_tracker *t, struct create_request *req,
	struct create_result *res)
{
	struct ota_task *task = &req->task;
	struct ota_task_entry *e;
	const cJSON *item;
	int64_t now = ota__now(t);

	task->leading_slash = t->config.leading_slash;
	task->from_api = true;
	task->state = task->start_at > now ? OTA_TASK_SCHEDULED : OTA_TASK_RUNNING;
	task->created_at = now;
	task->updated_at = now;
	if(ota__tx_begin(t) || ota_store_task_insert(t->store, task)){
		return OTA_STORE_ERROR;
	}
	cJSON_ArrayForEach(item, req->devices){
		if(add_device(t, req, item->valuestring, now, res)){
			return OTA_STORE_ERROR;
		}
	}
	if(res->accepted + res->at_target == 0){
		return OTA_STORE_NOT_FOUND;
	}
	/* Rows added without a transition are not in the counts yet. */
	e = ota__registry_get(t, task);
	if(!e || ota__registry_load_counts(t, e)){
		return OTA_STORE_ERROR;
	}
	e->gate_pending = true;
	e->dirty = true;
	ota__registry_attend(&t->registry, e);
	return OTA_STORE_OK;
}

void ota__cmd_create_task(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out)
{
	struct create_request req = {0};
	struct create_result res = {0};
	int rc;

	char detail[OTA_DETAIL_MAX];

	if(ota__task_limit_reached(t, detail, sizeof(detail))){
		ota__cmd_fail(out, "%s", detail);
		return;
	}
	if(!read_create(t, request, &req, out)){
		ota_task_clear(&req.task);
		return;
	}
	res.refused_list = cJSON_CreateArray();
	rc = store_task(t, &req, &res);
	if(rc == OTA_STORE_NOT_FOUND){
		ota__tx_end(t, false);
		ota__cmd_fail(out, "no device accepted: all %d are busy in other tasks;"
			" set force to add them anyway", res.refused);
	}else if(rc != OTA_STORE_OK || ota__tx_end(t, true)){
		ota__tx_end(t, false);
		ota__cmd_fail(out, "task not created: database error: %s", ota_store_error(t->store));
	}else{
		ota_json_add_int(out->data, "taskId", req.task.id);
		cJSON_AddStringToObject(out->data, "state", ota_task_state_name(req.task.state));
		ota_json_add_int(out->data, "accepted", res.accepted);
		ota_json_add_int(out->data, "alreadyAtTarget", res.at_target);
		ota_json_add_int(out->data, "refused", res.refused);
		cJSON_AddItemToObject(out->data, "refusedDevices", res.refused_list);
		res.refused_list = NULL;
	}
	cJSON_Delete(res.refused_list);
	ota_task_clear(&req.task);
}

/* ===================================================================== */
/* cancelTask                                                            */
/* ===================================================================== */

/* Cancels the listed devices' rows at once. */
static int cancel_devices(struct ota_tracker *t, const struct ota_task *task,
	const cJSON *devices, cJSON *data)
{
	struct ota_event event = {.kind = OTA_EV_CANCEL, .max_retries = task->max_retries};
	cJSON *not_found = cJSON_AddArrayToObject(data, "notInTask");
	const cJSON *item;
	int cancelled = 0;

	if(ota__tx_begin(t)){
		return OTA_STORE_ERROR;
	}
	cJSON_ArrayForEach(item, devices){
		struct ota_device_row row;
		enum ota_decline decline;
		int rc = ota_store_row_get(t->store, task->id, item->valuestring, &row);

		if(rc == OTA_STORE_NOT_FOUND){
			cJSON_AddItemToArray(not_found, cJSON_CreateString(item->valuestring));
			continue;
		}
		if(rc != OTA_STORE_OK){
			return OTA_STORE_ERROR;
		}
		rc = ota__apply(t, task, &row, &event, NULL, &decline);
		if(rc < 0){
			return OTA_STORE_ERROR;
		}
		cancelled += rc;
	}
	ota_json_add_int(data, "cancelled", cancelled);
	return OTA_STORE_OK;
}

/* Cancels the whole task; the tick stops its rows in batches. */
static int cancel_task(struct ota_tracker *t, const struct ota_task *task,
	cJSON *data, struct ota_reply_builder *out)
{
	struct ota_task_entry *e = ota__registry_get(t, task);
	int64_t pending;

	if(!e){
		return OTA_STORE_ERROR;
	}
	if(e->state != OTA_TASK_RUNNING && e->state != OTA_TASK_SCHEDULED){
		ota__cmd_fail(out, "taskId %" PRId64 ": task is %s; nothing to cancel",
			task->id, ota_task_state_name(e->state));
		return OTA_STORE_NOT_FOUND;
	}
	pending = e->counts.await + e->counts.send + e->counts.upgrading
		+ e->counts.offline + e->counts.retrying;
	e->sweep_reason = OTA_REASON_CANCELLED;
	e->sweep_after[0] = '\0';
	if(ota__task_set_state(t, e, OTA_TASK_CANCELLED)){
		return OTA_STORE_ERROR;
	}
	ota_json_add_int(data, "cancelled", pending);
	return OTA_STORE_OK;
}

void ota__cmd_cancel_task(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out)
{
	const cJSON *devices = cJSON_GetObjectItemCaseSensitive(request, "devices");
	struct ota_task task;
	const cJSON *item;
	int rc;

	if(devices){
		int i = 0;

		if(!cJSON_IsArray(devices) || cJSON_GetArraySize(devices) < 1){
			ota__cmd_fail(out, "devices: must be a non-empty array of serial numbers");
			return;
		}
		cJSON_ArrayForEach(item, devices){
			if(!cJSON_IsString(item) || !ota_serial_valid(item->valuestring)){
				ota__cmd_fail(out, "devices[%d]: serial number must be 1-%d characters"
					" without '/', '+' or '#'", i, OTA_SERIAL_MAX);
				return;
			}
			i++;
		}
	}
	if(!ota__cmd_task(t, request, &task, out)){
		return;
	}
	ota_json_add_int(out->data, "taskId", task.id);
	rc = devices ? cancel_devices(t, &task, devices, out->data)
		: cancel_task(t, &task, out->data, out);
	if(rc == OTA_STORE_ERROR){
		ota__tx_end(t, false);
		ota__cmd_fail(out, "not cancelled: database error: %s", ota_store_error(t->store));
	}else if(ota__tx_end(t, true)){
		ota__cmd_fail(out, "not cancelled: database error: %s", ota_store_error(t->store));
	}
	ota_task_clear(&task);
}

/* ===================================================================== */
/* retryTask                                                             */
/* ===================================================================== */

/* Reads `statuses` (default [4]) into a bit set of 1 << status. */
static bool read_statuses(const cJSON *request, unsigned *mask,
	struct ota_reply_builder *out)
{
	const cJSON *statuses = cJSON_GetObjectItemCaseSensitive(request, "statuses");
	const cJSON *item;

	*mask = 1u << OTA_FAILED;
	if(!statuses){
		return true;
	}
	if(!cJSON_IsArray(statuses) || cJSON_GetArraySize(statuses) < 1){
		return ota__cmd_fail(out, "statuses: must be a non-empty array of 4 (FAILED)"
			" and 5 (STOP)");
	}
	*mask = 0;
	cJSON_ArrayForEach(item, statuses){
		if(!cJSON_IsNumber(item) || (item->valueint != OTA_FAILED && item->valueint != OTA_STOP)
				|| item->valuedouble != item->valueint){
			return ota__cmd_fail(out, "statuses: must be a non-empty array of 4 (FAILED)"
				" and 5 (STOP)");
		}
		*mask |= 1u << item->valueint;
	}
	return true;
}

static int requeue(struct ota_tracker *t, const struct ota_task *task, unsigned mask,
	int *count)
{
	struct ota_event event = {.kind = OTA_EV_RETRY_TASK, .max_retries = task->max_retries};
	char after[OTA_SERIAL_MAX + 1] = "";
	struct ota_device_row *rows;
	int n;

	do{
		n = ota_store_rows_page(t->store, task->id, -1, after, 0, 1000, &rows);
		if(n < 0){
			return OTA_STORE_ERROR;
		}
		for(int i = 0; i < n; i++){
			enum ota_decline decline;
			int rc = 0;

			snprintf(after, sizeof(after), "%s", rows[i].serial);
			if(mask & (1u << rows[i].row.status)){
				rc = ota__apply(t, task, &rows[i], &event, NULL, &decline);
			}
			if(rc < 0){
				free(rows);
				return OTA_STORE_ERROR;
			}
			*count += rc;
		}
		free(rows);
	}while(n == 1000);
	return OTA_STORE_OK;
}

void ota__cmd_retry_task(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out)
{
	struct ota_task task;
	struct ota_task_entry *e;
	unsigned mask;
	int count = 0;

	if(!read_statuses(request, &mask, out) || !ota__cmd_task(t, request, &task, out)){
		return;
	}
	e = ota__registry_get(t, &task);
	if(e && e->state == OTA_TASK_CANCELLED){
		ota__cmd_fail(out, "taskId %" PRId64 ": task is cancelled; create a new task",
			task.id);
		ota_task_clear(&task);
		return;
	}
	if(!e || ota__tx_begin(t) || requeue(t, &task, mask, &count)
			|| (count > 0 && e->state != OTA_TASK_RUNNING && e->state != OTA_TASK_SCHEDULED
				&& ota__task_set_state(t, ota__registry_find(&t->registry, task.id),
					OTA_TASK_RUNNING))
			|| ota__tx_end(t, true)){
		ota__tx_end(t, false);
		ota__cmd_fail(out, "not retried: database error: %s", ota_store_error(t->store));
	}else{
		ota_json_add_int(out->data, "taskId", task.id);
		ota_json_add_int(out->data, "requeued", count);
	}
	ota_task_clear(&task);
}
