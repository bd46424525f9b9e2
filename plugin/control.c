/*
 * Admin API on $CONTROL/ota/v1, shaped like Mosquitto's dynamic-security
 * control topic: a request carries {"commands":[...]}, the response carries
 * {"responses":[...]} with one element per command, in order. Commands are
 * looked up in a table; each handler returns `data` or an error string.
 *
 * Only usernames in admin_users may use it; everyone else gets an error
 * response and an audit log line.
 */
#include "tracker_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "control_internal.h"

static const struct ota_command commands[] = {
	{"createTask", ota__cmd_create_task},
	{"getTask", ota__cmd_get_task},
	{"listTasks", ota__cmd_list_tasks},
	{"cancelTask", ota__cmd_cancel_task},
	{"retryTask", ota__cmd_retry_task},
	{"getDevice", ota__cmd_get_device},
	{"getStats", ota__cmd_get_stats},
};

static const struct ota_command *find_command(const char *name)
{
	for(size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++){
		if(strcmp(commands[i].name, name) == 0){
			return &commands[i];
		}
	}
	return NULL;
}

/* Runs one command object and appends its response to `responses`. */
static void run_command(struct ota_tracker *t, const struct ota_client *client,
	const cJSON *request, cJSON *responses)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(request, "command");
	const cJSON *correlation = cJSON_GetObjectItemCaseSensitive(request, "correlationData");
	cJSON *response = cJSON_CreateObject();
	const struct ota_command *command = NULL;
	struct ota_reply_builder out = {0};
	const char *username = client->username ? client->username : "";

	cJSON_AddItemToArray(responses, response);
	cJSON_AddStringToObject(response, "command",
		cJSON_IsString(name) ? name->valuestring : "");

	if(!cJSON_IsObject(request) || !cJSON_IsString(name)){
		snprintf(out.error, sizeof(out.error), "command: must be an object with a \"command\" string");
	}else if(!(command = find_command(name->valuestring))){
		snprintf(out.error, sizeof(out.error), "command \"%.64s\": unknown command", name->valuestring);
	}else{
		out.data = cJSON_CreateObject();
		command->handler(t, request, &out);
	}

	if(out.error[0]){
		cJSON_AddStringToObject(response, "error", out.error);
		cJSON_Delete(out.data);
	}else{
		cJSON_AddItemToObject(response, "data", out.data);
	}
	if(cJSON_IsString(correlation)){
		cJSON_AddStringToObject(response, "correlationData", correlation->valuestring);
	}
	ota__log(t, OTA_LOG_NOTICE, "ota: %s/%s | %s | %s%s", username,
		client->client_id ? client->client_id : "",
		cJSON_IsString(name) ? name->valuestring : "(none)",
		out.error[0] ? "error=" : "ok", out.error[0] ? out.error : "");
}

/*
 * Builds a response in which every command of `list` fails with `message`.
 * Each element keeps its command's name and correlationData, so that the
 * client can match it. Without a list, one element carries the message.
 */
static char *error_response(const cJSON *list, const char *message)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *responses = cJSON_AddArrayToObject(root, "responses");
	const cJSON *request;
	char *text;

	if(cJSON_IsArray(list) && cJSON_GetArraySize(list) > 0){
		cJSON_ArrayForEach(request, list){
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(request, "command");
			const cJSON *correlation = cJSON_GetObjectItemCaseSensitive(request, "correlationData");
			cJSON *response = cJSON_CreateObject();

			cJSON_AddStringToObject(response, "command",
				cJSON_IsString(name) ? name->valuestring : "");
			cJSON_AddStringToObject(response, "error", message);
			if(cJSON_IsString(correlation)){
				cJSON_AddStringToObject(response, "correlationData", correlation->valuestring);
			}
			cJSON_AddItemToArray(responses, response);
		}
	}else{
		cJSON *response = cJSON_CreateObject();

		cJSON_AddStringToObject(response, "command", "");
		cJSON_AddStringToObject(response, "error", message);
		cJSON_AddItemToArray(responses, response);
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* Parses a command payload, or writes why it cannot be parsed. */
static cJSON *parse_commands(struct ota_tracker *t, const void *payload, size_t len,
	char *message, size_t size)
{
	cJSON *root;

	if(len > t->config.command_max_bytes){
		snprintf(message, size, "payload of %zu bytes: at most %zu allowed"
			" (plugin_opt_command_max_bytes)", len, t->config.command_max_bytes);
		return NULL;
	}
	if(!ota_utf8_valid(payload, len)){
		snprintf(message, size, "payload: not valid UTF-8");
		return NULL;
	}
	root = ota_json_parse_payload(payload, len);
	if(root && ota_json_depth(root) > OTA_JSON_DEPTH_MAX){
		cJSON_Delete(root);
		snprintf(message, size, "payload: nested deeper than %d levels", OTA_JSON_DEPTH_MAX);
		return NULL;
	}
	if(!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "commands"))){
		cJSON_Delete(root);
		snprintf(message, size, "payload: must be a JSON object with a \"commands\" array");
		return NULL;
	}
	return root;
}

char *ota_tracker_control(struct ota_tracker *t, const struct ota_client *client,
	const void *payload, size_t len)
{
	const char *username = client->username ? client->username : "";
	char message[160];
	cJSON *root = parse_commands(t, payload, len, message, sizeof(message));
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "commands");
	const cJSON *request;
	cJSON *reply;
	cJSON *responses;
	char *text;

	if(!ota_config_list_has(t->config.admin_users, username)){
		ota__log(t, OTA_LOG_NOTICE, "ota: %s/%s | denied | username not in admin_users",
			username, client->client_id ? client->client_id : "");
		text = error_response(list,
			"not authorized: username is not in plugin_opt_admin_users");
		cJSON_Delete(root);
		return text;
	}
	if(!root){
		ota__log(t, OTA_LOG_NOTICE, "ota: %s/%s | rejected | %s", username,
			client->client_id ? client->client_id : "", message);
		return error_response(NULL, message);
	}

	reply = cJSON_CreateObject();
	responses = cJSON_AddArrayToObject(reply, "responses");
	cJSON_ArrayForEach(request, list){
		run_command(t, client, request, responses);
	}
	text = cJSON_PrintUnformatted(reply);
	cJSON_Delete(reply);
	cJSON_Delete(root);
	return text;
}

/* ===================================================================== */
/* Request fields                                                        */
/* ===================================================================== */

bool ota__cmd_fail(struct ota_reply_builder *out, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, args);
	va_end(args);
	return false;
}

/* Reads a whole number from a JSON number; strings are not accepted here,
 * because operators' tools send numbers. */
static bool whole_number(const cJSON *item, int64_t *out)
{
	double d;

	if(!cJSON_IsNumber(item)){
		return false;
	}
	d = item->valuedouble;
	if(!isfinite(d) || d != floor(d) || fabs(d) > (double)OTA_TASK_ID_MAX){
		return false;
	}
	*out = (int64_t)d;
	return true;
}

bool ota__cmd_int(const cJSON *request, const char *key, int64_t min, int64_t max,
	bool required, int64_t *value, struct ota_reply_builder *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(request, key);
	int64_t v;

	if(!item || cJSON_IsNull(item)){
		if(required){
			return ota__cmd_fail(out, "%s: missing", key);
		}
		return true;
	}
	if(!whole_number(item, &v) || v < min || v > max){
		return ota__cmd_fail(out, "%s: must be a whole number from %" PRId64
			" to %" PRId64, key, min, max);
	}
	*value = v;
	return true;
}

bool ota__cmd_task(struct ota_tracker *t, const cJSON *request,
	struct ota_task *task, struct ota_reply_builder *out)
{
	int64_t id = 0;
	int rc;

	if(!ota__cmd_int(request, "taskId", 1, OTA_TASK_ID_MAX, true, &id, out)){
		return false;
	}
	rc = ota_store_task_get(t->store, id, task);
	if(rc == OTA_STORE_NOT_FOUND){
		return ota__cmd_fail(out, "taskId %" PRId64 ": no such task", id);
	}
	if(rc != OTA_STORE_OK){
		return ota__cmd_fail(out, "database error: %s", ota_store_error(t->store));
	}
	return true;
}


/* ===================================================================== */
/* getStats                                                              */
/* ===================================================================== */

static int64_t active_tasks(struct ota_tracker *t)
{
	int64_t count = 0;

	if(ota_store_task_count_live(t->store, &count)){
		return -1;
	}
	return count;
}

void ota__cmd_get_stats(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out)
{
	cJSON *declined = cJSON_AddObjectToObject(out->data, "declined");

	(void)request;
	ota_json_add_int(out->data, "accepted", t->accepted);
	for(int i = 1; i < OTA_DECLINE_COUNT; i++){
		ota_json_add_int(declined, ota_decline_code(i), (int64_t)t->declined[i]);
	}
	ota_json_add_int(out->data, "devicesOnline", t->online.live);
	ota_json_add_int(out->data, "activeTasks", active_tasks(t));
}
