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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "control_internal.h"

static const struct ota_command commands[] = {
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

static char *error_response(const char *message)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *responses = cJSON_AddArrayToObject(root, "responses");
	cJSON *response = cJSON_CreateObject();
	char *text;

	cJSON_AddItemToArray(responses, response);
	cJSON_AddStringToObject(response, "command", "");
	cJSON_AddStringToObject(response, "error", message);
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

char *ota_tracker_control(struct ota_tracker *t, const struct ota_client *client,
	const void *payload, size_t len)
{
	const char *username = client->username ? client->username : "";
	cJSON *root;
	cJSON *reply;
	const cJSON *list;
	const cJSON *request;
	char message[160];
	char *text;

	if(!ota_config_list_has(t->config.admin_users, username)){
		ota__log(t, OTA_LOG_NOTICE, "ota: %s/%s | denied | username not in admin_users",
			username, client->client_id ? client->client_id : "");
		return error_response("not authorized: username is not in plugin_opt_admin_users");
	}
	if(len > t->config.command_max_bytes){
		snprintf(message, sizeof(message), "payload of %zu bytes: at most %zu allowed"
			" (plugin_opt_command_max_bytes)", len, t->config.command_max_bytes);
		return error_response(message);
	}
	if(!ota_utf8_valid(payload, len)){
		return error_response("payload: not valid UTF-8");
	}
	root = cJSON_ParseWithLength(payload, len);
	list = cJSON_GetObjectItemCaseSensitive(root, "commands");
	if(!cJSON_IsArray(list)){
		cJSON_Delete(root);
		return error_response("payload: must be a JSON object with a \"commands\" array");
	}

	reply = cJSON_CreateObject();
	cJSON *responses = cJSON_AddArrayToObject(reply, "responses");
	cJSON_ArrayForEach(request, list){
		run_command(t, client, request, responses);
	}
	text = cJSON_PrintUnformatted(reply);
	cJSON_Delete(reply);
	cJSON_Delete(root);
	return text;
}

/* ===================================================================== */
/* getStats                                                              */
/* ===================================================================== */

void ota__cmd_get_stats(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out)
{
	cJSON *declined = cJSON_AddObjectToObject(out->data, "declined");

	(void)request;
	cJSON_AddNumberToObject(out->data, "accepted", (double)t->accepted);
	for(int i = 1; i < OTA_DECLINE_COUNT; i++){
		cJSON_AddNumberToObject(declined, ota_decline_code(i), (double)t->declined[i]);
	}
	cJSON_AddNumberToObject(out->data, "devicesOnline", (double)t->online.live);
}
