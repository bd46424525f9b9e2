/*
 * Admin commands that only read: getTask, listTasks, getDevice. Counts come
 * from the store, which this connection reads including batched
 * transitions not yet committed.
 */
#include "control_internal.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

static bool read_page(const cJSON *request, int64_t *offset, int64_t *limit,
	struct ota_reply_builder *out)
{
	*offset = 0;
	*limit = PAGE_DEFAULT;
	return ota__cmd_int(request, "offset", 0, INT32_MAX, false, offset, out)
		&& ota__cmd_int(request, "limit", 1, PAGE_MAX, false, limit, out);
}

/* Adds a JSON value given as JSON text, such as a stored version. */
static void add_json(cJSON *object, const char *key, const char *json)
{
	cJSON *value = json && json[0] ? ota_json_parse_exact(json) : NULL;

	cJSON_AddItemToObject(object, key, value ? value : cJSON_CreateNull());
}

static void add_time(cJSON *object, const char *key, int64_t ms)
{
	if(ms){
		ota_json_add_int(object, key, ms);
	}else{
		cJSON_AddNullToObject(object, key);
	}
}

static void add_task_fields(cJSON *object, const struct ota_task *task)
{
	ota_json_add_int(object, "taskId", task->id);
	if(task->name[0]){
		cJSON_AddStringToObject(object, "name", task->name);
	}
	add_json(object, "version", task->version);
	cJSON_AddStringToObject(object, "url", task->url);
	cJSON_AddStringToObject(object, "state", ota_task_state_name(task->state));
	cJSON_AddStringToObject(object, "origin", task->from_api ? "api" : "set");
	ota_json_add_int(object, "timeoutSeconds", task->timeout_s);
	ota_json_add_int(object, "maxRetries", task->max_retries);
	ota_json_add_int(object, "retryDelaySeconds", task->retry_delay_s);
	ota_json_add_int(object, "maxConcurrent", task->max_concurrent);
	ota_json_add_int(object, "abortFailurePercent", task->abort_failure_percent);
	ota_json_add_int(object, "abortMinFinished", task->abort_min_finished);
	add_time(object, "startAt", task->start_at);
	add_time(object, "endAt", task->end_at);
	if(task->extra){
		cJSON *extra = ota_json_parse_exact(task->extra);
		cJSON *member;

		cJSON_ArrayForEach(member, extra){
			cJSON_AddItemToObject(object, member->string, cJSON_Duplicate(member, true));
		}
		cJSON_Delete(extra);
	}
	ota_json_add_int(object, "createdAt", task->created_at);
	ota_json_add_int(object, "updatedAt", task->updated_at);
}

static cJSON *device_row_json(const struct ota_device_row *row)
{
	cJSON *object = cJSON_CreateObject();

	cJSON_AddStringToObject(object, "serialNumber", row->serial);
	ota_json_add_int(object, "status", row->row.status);
	ota_json_add_int(object, "progress", row->row.progress);
	if(row->message[0]){
		cJSON_AddStringToObject(object, "message", row->message);
	}
	ota_json_add_int(object, "attempts", row->row.attempts);
	ota_json_add_int(object, "updatedAt", row->updated_at);
	return object;
}

void ota__cmd_get_task(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out)
{
	struct ota_task task;
	struct ota_task_counts counts;
	struct ota_device_row *rows = NULL;
	int64_t offset, limit, status = -1;
	cJSON *list;
	int count;

	if(!read_page(request, &offset, &limit, out)
			|| !ota__cmd_int(request, "status", 0, OTA_STOP, false, &status, out)
			|| !ota__cmd_task(t, request, &task, out)){
		return;
	}
	if(ota_store_task_counts(t->store, task.id, &counts)
			|| (count = ota_store_rows_page(t->store, task.id, (int)status, "",
				(int)offset, (int)limit, &rows)) < 0){
		ota__cmd_fail(out, "database error: %s", ota_store_error(t->store));
		ota_task_clear(&task);
		return;
	}
	add_task_fields(out->data, &task);
	ota__json_add_counts(out->data, &counts);
	ota_json_add_int(out->data, "offset", offset);
	ota_json_add_int(out->data, "limit", limit);
	list = cJSON_AddArrayToObject(out->data, "devices");
	for(int i = 0; i < count; i++){
		cJSON_AddItemToArray(list, device_row_json(&rows[i]));
	}
	free(rows);
	ota_task_clear(&task);
}

void ota__cmd_list_tasks(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out)
{
	const cJSON *state_item = cJSON_GetObjectItemCaseSensitive(request, "state");
	int64_t offset, limit;
	int64_t *ids = NULL;
	int state = -1;
	cJSON *list;
	int count;

	if(!read_page(request, &offset, &limit, out)){
		return;
	}
	if(state_item){
		state = cJSON_IsString(state_item) ? ota_task_state_parse(state_item->valuestring) : -1;
		if(state < 0){
			ota__cmd_fail(out, "state: must be scheduled, running, finished, cancelled,"
				" aborted or expired");
			return;
		}
	}
	count = ota_store_task_list(t->store, state, (int)offset, (int)limit, &ids);
	if(count < 0){
		ota__cmd_fail(out, "database error: %s", ota_store_error(t->store));
		return;
	}
	list = cJSON_AddArrayToObject(out->data, "tasks");
	for(int i = 0; i < count; i++){
		struct ota_task task;
		struct ota_task_counts counts;
		cJSON *item;

		if(ota_store_task_get(t->store, ids[i], &task) != OTA_STORE_OK
				|| ota_store_task_counts(t->store, ids[i], &counts)){
			continue;
		}
		item = cJSON_CreateObject();
		ota_json_add_int(item, "taskId", task.id);
		if(task.name[0]){
			cJSON_AddStringToObject(item, "name", task.name);
		}
		add_json(item, "version", task.version);
		cJSON_AddStringToObject(item, "state", ota_task_state_name(task.state));
		ota__json_add_counts(item, &counts);
		ota_json_add_int(item, "createdAt", task.created_at);
		cJSON_AddItemToArray(list, item);
		ota_task_clear(&task);
	}
	ota_json_add_int(out->data, "offset", offset);
	ota_json_add_int(out->data, "limit", limit);
	free(ids);
}

void ota__cmd_get_device(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out)
{
	const cJSON *serial = cJSON_GetObjectItemCaseSensitive(request, "serialNumber");
	struct ota_history_entry *entries = NULL;
	struct ota_device device;
	int64_t offset, limit;
	cJSON *history;
	int rc;
	int count;

	if(!cJSON_IsString(serial) || !ota_serial_valid(serial->valuestring)){
		ota__cmd_fail(out, "serialNumber: must be 1-%d characters without '/', '+' or '#'",
			OTA_SERIAL_MAX);
		return;
	}
	if(!read_page(request, &offset, &limit, out)){
		return;
	}
	rc = ota_store_device_get(t->store, serial->valuestring, &device);
	count = rc == OTA_STORE_ERROR ? -1
		: ota_store_history_of_device(t->store, serial->valuestring, (int)offset,
			(int)limit, &entries);
	if(count < 0){
		ota__cmd_fail(out, "database error: %s", ota_store_error(t->store));
		return;
	}
	if(rc == OTA_STORE_NOT_FOUND && count == 0){
		free(entries);
		ota__cmd_fail(out, "serialNumber %s: no such device", serial->valuestring);
		return;
	}
	cJSON_AddStringToObject(out->data, "serialNumber", serial->valuestring);
	add_json(out->data, "installedVersion", device.installed_version);
	cJSON_AddBoolToObject(out->data, "online", ota__online_has(&t->online, serial->valuestring));
	history = cJSON_AddArrayToObject(out->data, "history");
	for(int i = 0; i < count; i++){
		cJSON *item = cJSON_CreateObject();

		ota_json_add_int(item, "taskId", entries[i].task_id);
		ota_json_add_int(item, "status", entries[i].status);
		if(entries[i].progress >= 0){
			ota_json_add_int(item, "progress", entries[i].progress);
		}
		if(entries[i].message[0]){
			cJSON_AddStringToObject(item, "message", entries[i].message);
		}
		ota_json_add_int(item, "at", entries[i].at);
		cJSON_AddItemToArray(history, item);
	}
	ota_json_add_int(out->data, "offset", offset);
	ota_json_add_int(out->data, "limit", limit);
	free(entries);
}
