/*
 * libFuzzer target for admin commands. Each input is a request payload
 * that ota_tracker_control() handles for a user in admin_users, on a real
 * store, followed by a tick that runs what the commands queued (pushes,
 * cancels, summaries). The response must always be a JSON object with a
 * "responses" array whose elements each name their command and carry
 * exactly one of "data" and "error". The array has one element per
 * command, or a single error when the request as a whole is rejected.
 *
 * State carries over from input to input, as in a broker, so tasks that
 * one input creates are there for the next one to read, cancel or retry,
 * until the tracker starts over on an empty database every
 * FUZZ_RESET_INPUTS inputs. max_tasks bounds the database in between.
 *
 * The seed corpus is test/fuzz/control: a valid request of every command
 * and every malformed case of the end-to-end tests.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const options[] = {
		"admin_users", "fuzz-admin",
		"max_tasks", "200",
		"log_burst", "1000",
		NULL,
	};

	(void)argc;
	(void)argv;
	fuzz_tracker_options(options);
	return 0;
}

/* Returns the number of commands in a request, as the plugin parses it,
 * or -1 when it has no "commands" array. */
static int command_count(const uint8_t *data, size_t size)
{
	cJSON *request = cJSON_ParseWithLength((const char *)data, size);
	const cJSON *commands = cJSON_GetObjectItemCaseSensitive(request, "commands");
	int count = cJSON_IsArray(commands) ? cJSON_GetArraySize(commands) : -1;

	cJSON_Delete(request);
	return count;
}

/* Returns true for the response to a request rejected as a whole: one
 * element with an error and an empty command name. */
static bool rejected_whole(const cJSON *responses)
{
	const cJSON *only = cJSON_GetArrayItem(responses, 0);
	const cJSON *command = cJSON_GetObjectItemCaseSensitive(only, "command");

	return cJSON_GetArraySize(responses) == 1 && cJSON_IsString(command)
		&& command->valuestring[0] == '\0' && cJSON_HasObjectItem(only, "error");
}

static void check_response(const char *text, int commands)
{
	cJSON *root = cJSON_Parse(text);
	const cJSON *responses = cJSON_GetObjectItemCaseSensitive(root, "responses");
	const cJSON *item;

	if(!cJSON_IsObject(root) || !cJSON_IsArray(responses)){
		fuzz_fail("response is not an object with a \"responses\" array");
	}
	if(cJSON_GetArraySize(responses) != commands && !rejected_whole(responses)){
		fuzz_fail("response elements do not match the request's commands one to one");
	}
	cJSON_ArrayForEach(item, responses){
		bool has_data = cJSON_HasObjectItem(item, "data");
		bool has_error = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "error"));

		if(!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "command"))){
			fuzz_fail("response element without a \"command\" string");
		}
		if(has_data == has_error){
			fuzz_fail("response element without exactly one of \"data\" and \"error\"");
		}
	}
	cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ota_client admin = {
		.client_id = "fuzz-admin-client",
		.username = "fuzz-admin",
		.connection = &admin,
	};
	struct ota_tracker *tracker = fuzz_tracker();
	char *response = ota_tracker_control(tracker, &admin, data, size);

	if(!response){
		fuzz_fail("no response");
	}
	check_response(response, command_count(data, size));
	free(response);
	ota_tracker_tick(tracker);
	return 0;
}
