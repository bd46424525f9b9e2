/*
 * The subcommands of mosquitto_ota: their options, and the code that turns
 * a parsed command line into one command object of the admin API.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ota_cli.h"

static const struct ota_cli_option create_task_options[] = {
	{"--version", "VERSION", KIND_LOCAL, NULL,
		"firmware version to install (required); a number such as 1.2 is sent as a JSON number"},
	{"--version-string", NULL, KIND_LOCAL, NULL,
		"send --version as a JSON string even when it looks like a number"},
	{"--url", "URL", KIND_STRING, "url", "firmware URL pushed to the devices (required)"},
	{"--devices-file", "FILE", KIND_LOCAL, NULL,
		"read serial numbers from FILE, one a line; \"-\" reads standard input,"
		" blank lines and lines starting with # are skipped"},
	{"--task-id", "ID", KIND_TASK_ID, "taskId", "task id (default: the largest so far + 1)"},
	{"--name", "NAME", KIND_STRING, "name", "task name shown in listings"},
	{"--timeout", "SECONDS", KIND_COUNT, "timeoutSeconds",
		"seconds a device may stay silent after a push or reply before it counts as failed"
		" (default: plugin_opt_timeout; 0 disables)"},
	{"--max-retries", "N", KIND_COUNT, "maxRetries", "automatic retries of a failed device (default 0)"},
	{"--retry-delay", "SECONDS", KIND_COUNT, "retryDelaySeconds",
		"seconds before an automatic retry (default 60)"},
	{"--max-concurrent", "N", KIND_COUNT, "maxConcurrent", "devices upgrading at the same time"},
	{"--abort-failure-percent", "PERCENT", KIND_PERCENT, "abortFailurePercent",
		"abort the task when this whole percentage (1-100) of finished devices failed"},
	{"--abort-min-finished", "N", KIND_COUNT, "abortMinFinished",
		"finished devices needed before --abort-failure-percent applies"},
	{"--start-at", "TIME", KIND_TIME, "startAt",
		"push nothing before TIME: ms since the epoch, or ISO-8601 such as 2026-12-05T10:00:00Z"},
	{"--end-at", "TIME", KIND_TIME, "endAt", "stop the task at TIME (same forms as --start-at)"},
	{"--sha256", "HEX", KIND_LOCAL, NULL, "SHA-256 of the firmware, pushed as checksum.sha256"},
	{"--md5", "HEX", KIND_LOCAL, NULL, "MD5 of the firmware, pushed as checksum.md5"},
	{"--size", "BYTES", KIND_COUNT, "size", "firmware size in bytes, pushed to the devices"},
	{"--force", NULL, KIND_FLAG, "force",
		"add devices even when they are busy in another task"},
	{NULL, NULL, KIND_FLAG, NULL, NULL},
};

static const struct ota_cli_option get_task_options[] = {
	{"--offset", "N", KIND_COUNT, "offset", "device rows to skip (default 0)"},
	{"--limit", "N", KIND_COUNT, "limit", "device rows to return (default 100, at most 1000)"},
	{"--status", "STATUS", KIND_STATUS, "status",
		"only rows with this status: a code or name (AWAIT 0, SEND 1, REPLY 2, SUCCESS 3,"
		" FAILED 4, STOP 5)"},
	{NULL, NULL, KIND_FLAG, NULL, NULL},
};

static const struct ota_cli_option list_tasks_options[] = {
	{"--offset", "N", KIND_COUNT, "offset", "tasks to skip (default 0)"},
	{"--limit", "N", KIND_COUNT, "limit", "tasks to return (default 100, at most 1000)"},
	{"--state", "STATE", KIND_STRING, "state",
		"only tasks in this state: scheduled, running, finished, cancelled, aborted or expired"},
	{NULL, NULL, KIND_FLAG, NULL, NULL},
};

static const struct ota_cli_option retry_task_options[] = {
	{"--statuses", "LIST", KIND_STATUS_LIST, "statuses",
		"statuses to queue again: 4 (FAILED), 5 (STOP) or 4,5; names work too"
		" (default 4)"},
	{NULL, NULL, KIND_FLAG, NULL, NULL},
};

static const struct ota_cli_option get_device_options[] = {
	{"--offset", "N", KIND_COUNT, "offset", "history entries to skip (default 0)"},
	{"--limit", "N", KIND_COUNT, "limit", "history entries to return (default 100, at most 1000)"},
	{NULL, NULL, KIND_FLAG, NULL, NULL},
};

static const struct ota_cli_option no_options[] = {
	{NULL, NULL, KIND_FLAG, NULL, NULL},
};

static int build_create_task(const struct ota_cli_invocation *inv, cJSON *command);
static int build_task_command(const struct ota_cli_invocation *inv, cJSON *command);
static int build_list_tasks(const struct ota_cli_invocation *inv, cJSON *command);
static int build_cancel_task(const struct ota_cli_invocation *inv, cJSON *command);
static int build_get_device(const struct ota_cli_invocation *inv, cJSON *command);
static int build_get_stats(const struct ota_cli_invocation *inv, cJSON *command);

const struct ota_cli_subcommand ota_cli_subcommands[] = {
	{"create-task", "createTask", "--version VERSION --url URL [SERIAL...]",
		"Create an upgrade task for the given devices.",
		create_task_options, build_create_task},
	{"get-task", "getTask", "TASK_ID",
		"Show a task, its counts by status and its device rows.",
		get_task_options, build_task_command},
	{"list-tasks", "listTasks", "",
		"List tasks with their counts by status.",
		list_tasks_options, build_list_tasks},
	{"cancel-task", "cancelTask", "TASK_ID [SERIAL...]",
		"Cancel a task, or only the devices given.",
		no_options, build_cancel_task},
	{"retry-task", "retryTask", "TASK_ID",
		"Queue failed or stopped devices of a task for a new attempt.",
		retry_task_options, build_task_command},
	{"get-device", "getDevice", "SERIAL",
		"Show a device's installed version and upgrade history.",
		get_device_options, build_get_device},
	{"get-stats", "getStats", "",
		"Show counters of accepted and declined messages.",
		no_options, build_get_stats},
};
const size_t ota_cli_subcommand_count = sizeof(ota_cli_subcommands) / sizeof(ota_cli_subcommands[0]);

const struct ota_cli_subcommand *ota_cli_find_subcommand(const char *name)
{
	for(size_t i = 0; i < ota_cli_subcommand_count; i++){
		const struct ota_cli_subcommand *sub = &ota_cli_subcommands[i];

		if(strcmp(sub->name, name) == 0 || strcmp(sub->api_name, name) == 0){
			return sub;
		}
	}
	return NULL;
}

int ota_cli_option_index(const struct ota_cli_subcommand *sub, const char *name)
{
	for(int i = 0; sub->options[i].name; i++){
		if(strcmp(sub->options[i].name, name) == 0){
			return i;
		}
	}
	return -1;
}

/* ===================================================================== */
/* Request building                                                      */
/* ===================================================================== */

static const char *option_value(const struct ota_cli_invocation *inv, const char *name)
{
	int i = ota_cli_option_index(inv->subcommand, name);

	return i >= 0 ? inv->values[i] : NULL;
}

/* Adds every given option that maps to a request key. */
static int add_options(const struct ota_cli_invocation *inv, cJSON *command)
{
	const struct ota_cli_option *options = inv->subcommand->options;

	for(int i = 0; options[i].name; i++){
		cJSON *value;

		if(!inv->values[i] || !options[i].json_key){
			continue;
		}
		if(!(value = ota_cli_convert_value(&options[i], inv->values[i]))){
			return OTA_CLI_USAGE;
		}
		cJSON_AddItemToObject(command, options[i].json_key, value);
	}
	return OTA_CLI_OK;
}

static int check_argument_count(const struct ota_cli_invocation *inv, int min, int max)
{
	const struct ota_cli_subcommand *sub = inv->subcommand;

	if(inv->argument_count < min){
		fprintf(stderr, "Error: %s: missing %s; see mosquitto_ota %s --help\n",
			sub->name, sub->arguments, sub->name);
		return OTA_CLI_USAGE;
	}
	if(max >= 0 && inv->argument_count > max){
		fprintf(stderr, "Error: %s: unexpected argument \"%s\"; see mosquitto_ota %s --help\n",
			sub->name, inv->arguments[max], sub->name);
		return OTA_CLI_USAGE;
	}
	return OTA_CLI_OK;
}

static int add_task_id_argument(const struct ota_cli_invocation *inv, cJSON *command)
{
	static const struct ota_cli_option task_id = {"TASK_ID", "ID", KIND_TASK_ID, "taskId", ""};
	cJSON *value = ota_cli_convert_value(&task_id, inv->arguments[0]);

	if(!value){
		return OTA_CLI_USAGE;
	}
	cJSON_AddItemToObject(command, "taskId", value);
	return OTA_CLI_OK;
}

static cJSON *string_array(char **strings, int count)
{
	cJSON *array = cJSON_CreateArray();

	for(int i = 0; array && i < count; i++){
		cJSON_AddItemToArray(array, cJSON_CreateString(strings[i]));
	}
	return array;
}

/* Removes leading and trailing blanks, including a CR before the newline. */
static char *trim(char *s)
{
	char *end;

	while(*s == ' ' || *s == '\t'){
		s++;
	}
	end = s + strlen(s);
	while(end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')){
		*--end = '\0';
	}
	return s;
}

/* Appends the serial numbers in `path` ("-" for stdin) to `devices`. */
static int read_devices_file(const char *path, cJSON *devices)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *file = is_stdin ? stdin : fopen(path, "r");
	char *line = NULL;
	size_t size = 0;
	int result = OTA_CLI_OK;

	if(!file){
		fprintf(stderr, "Error: failed to open devices file %s: %s\n", path, strerror(errno));
		return OTA_CLI_USAGE;
	}
	errno = 0;
	while(getline(&line, &size, file) >= 0){
		char *serial = trim(line);

		if(serial[0] && serial[0] != '#'){
			cJSON_AddItemToArray(devices, cJSON_CreateString(serial));
		}
	}
	if(ferror(file)){
		fprintf(stderr, "Error: failed to read devices file %s: %s\n",
			is_stdin ? "(standard input)" : path, strerror(errno));
		result = OTA_CLI_USAGE;
	}
	free(line);
	if(!is_stdin){
		fclose(file);
	}
	return result;
}

static bool is_hex(const char *s, size_t len)
{
	if(strlen(s) != len){
		return false;
	}
	for(; *s; s++){
		if(!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'))){
			return false;
		}
	}
	return true;
}

static int add_checksum(const struct ota_cli_invocation *inv, cJSON *command)
{
	const char *sha256 = option_value(inv, "--sha256");
	const char *md5 = option_value(inv, "--md5");
	cJSON *checksum;

	if(sha256 && md5){
		fprintf(stderr, "Error: create-task: give --sha256 or --md5, not both\n");
		return OTA_CLI_USAGE;
	}
	if(sha256 && !is_hex(sha256, 64)){
		fprintf(stderr, "Error: --sha256 \"%s\": must be 64 hexadecimal digits\n", sha256);
		return OTA_CLI_USAGE;
	}
	if(md5 && !is_hex(md5, 32)){
		fprintf(stderr, "Error: --md5 \"%s\": must be 32 hexadecimal digits\n", md5);
		return OTA_CLI_USAGE;
	}
	if(sha256 || md5){
		checksum = cJSON_AddObjectToObject(command, "checksum");
		cJSON_AddStringToObject(checksum, sha256 ? "sha256" : "md5", sha256 ? sha256 : md5);
	}
	return OTA_CLI_OK;
}

/*
 * Adds the version as a JSON number when it is numeric text, as FastBee's
 * backend sends it, else as a string. A number that cJSON prints differently
 * (1.10 goes out as 1.1) gets a note, because devices will see the printed
 * form.
 */
static void add_version(const struct ota_cli_invocation *inv, const char *version, cJSON *command)
{
	cJSON *number;
	char *printed;

	if(option_value(inv, "--version-string") || !ota_cli_is_numeric_text(version)){
		cJSON_AddStringToObject(command, "version", version);
		return;
	}

	number = cJSON_AddNumberToObject(command, "version", strtod(version, NULL));
	printed = number ? cJSON_PrintUnformatted(number) : NULL;
	if(printed && strcmp(printed, version) != 0){
		fprintf(stderr, "Note: version %s is sent as the JSON number %s; pass --version-string"
			" to send the text as given.\n", version, printed);
	}
	free(printed);
}

static int build_create_task(const struct ota_cli_invocation *inv, cJSON *command)
{
	const char *version = option_value(inv, "--version");
	const char *devices_file = option_value(inv, "--devices-file");
	cJSON *devices;
	int rc;

	if(!version || !option_value(inv, "--url")){
		fprintf(stderr, "Error: create-task: --version and --url are required\n");
		return OTA_CLI_USAGE;
	}
	add_version(inv, version, command);
	rc = add_options(inv, command);
	if(rc == OTA_CLI_OK){
		rc = add_checksum(inv, command);
	}
	if(rc != OTA_CLI_OK){
		return rc;
	}

	devices = string_array(inv->arguments, inv->argument_count);
	cJSON_AddItemToObject(command, "devices", devices);
	if(devices_file && (rc = read_devices_file(devices_file, devices)) != OTA_CLI_OK){
		return rc;
	}
	if(cJSON_GetArraySize(devices) == 0){
		fprintf(stderr, "Error: create-task: no devices given; pass serial numbers as arguments"
			" or with --devices-file\n");
		return OTA_CLI_USAGE;
	}
	return OTA_CLI_OK;
}

/* Builds a command of one TASK_ID argument and options: getTask, retryTask. */
static int build_task_command(const struct ota_cli_invocation *inv, cJSON *command)
{
	int rc = check_argument_count(inv, 1, 1);

	if(rc == OTA_CLI_OK){
		rc = add_task_id_argument(inv, command);
	}
	return rc == OTA_CLI_OK ? add_options(inv, command) : rc;
}

static int build_list_tasks(const struct ota_cli_invocation *inv, cJSON *command)
{
	int rc = check_argument_count(inv, 0, 0);

	return rc == OTA_CLI_OK ? add_options(inv, command) : rc;
}

static int build_cancel_task(const struct ota_cli_invocation *inv, cJSON *command)
{
	int rc = check_argument_count(inv, 1, -1);

	if(rc == OTA_CLI_OK){
		rc = add_task_id_argument(inv, command);
	}
	if(rc == OTA_CLI_OK && inv->argument_count > 1){
		cJSON_AddItemToObject(command, "devices",
			string_array(inv->arguments + 1, inv->argument_count - 1));
	}
	return rc;
}

static int build_get_device(const struct ota_cli_invocation *inv, cJSON *command)
{
	int rc = check_argument_count(inv, 1, 1);

	if(rc == OTA_CLI_OK){
		cJSON_AddStringToObject(command, "serialNumber", inv->arguments[0]);
		rc = add_options(inv, command);
	}
	return rc;
}

static int build_get_stats(const struct ota_cli_invocation *inv, cJSON *command)
{
	(void)command;
	return check_argument_count(inv, 0, 0);
}
