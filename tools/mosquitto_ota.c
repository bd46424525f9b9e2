/*
 * mosquitto_ota: command-line client of the OTA plugin's admin API on
 * $CONTROL/ota/v1. Each subcommand builds one command object of the API,
 * ota_cli_exchange sends it and waits for the response, and the response's
 * `data` is printed as text tables or, with --json, as JSON.
 *
 * Connection options use mosquitto_ctrl's names. Options after the
 * subcommand belong to it first: `create-task --timeout 60` sets the task's
 * timeoutSeconds, while `-W` always sets the time to wait for the response.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#include "ota_cli.h"
#include "ota_protocol.h"

#define DEFAULT_TIMEOUT_SECONDS 10
#define HELP_WIDTH 79

/* ===================================================================== */
/* Help                                                                  */
/* ===================================================================== */

static void print_usage(FILE *out)
{
	fputs("mosquitto_ota manages firmware upgrade tasks of the Mosquitto OTA plugin\n"
		"through its admin API on $CONTROL/ota/v1.\n"
		"\n"
		"Usage: mosquitto_ota [connection options] COMMAND [command options] [arguments]\n"
		"       mosquitto_ota COMMAND --help\n"
		"\n"
		"Commands:\n", out);
	for(size_t i = 0; i < ota_cli_subcommand_count; i++){
		fprintf(out, "  %-12s %s\n", ota_cli_subcommands[i].name, ota_cli_subcommands[i].summary);
	}
	fputs("The admin API's names (createTask, getTask, ...) work as well.\n"
		"\n"
		"Connection options:\n"
		"  -h, --host HOST           broker host (default localhost)\n"
		"  -p, --port PORT           broker port (default 1883, or 8883 with TLS)\n"
		"  -u, --username USER       username; the plugin answers only users in\n"
		"                            plugin_opt_admin_users\n"
		"  -P, --pw PASSWORD         password\n"
		"  -i, --id CLIENT_ID        client id (default: generated)\n"
		"  -V, --protocol-version V  mqttv5 (default), mqttv311 or mqttv31\n"
		"      --cafile FILE         PEM file of trusted CA certificates; enables TLS\n"
		"      --capath DIR          directory of trusted CA certificates; enables TLS\n"
		"      --cert FILE           PEM client certificate\n"
		"      --key FILE            PEM private key of --cert\n"
		"      --insecure            skip the check of the broker's host name\n"
		"\n"
		"Other options:\n"
		"      --json                print the response's data as JSON\n"
		"  -W, --timeout SECONDS     seconds to wait for the response (default 10)\n"
		"  -d, --debug               print the request and the response to stderr\n"
		"      --help                print this help\n"
		"\n"
		"Exit status: 0 success, 1 the plugin returned an error, 2 invalid command\n"
		"line or input file, 3 connection failed, 4 no response in time, 5 writing\n"
		"the output failed.\n", out);
}

/* Prints `text` wrapped at HELP_WIDTH columns, continuation lines indented
 * by `indent`; the first line starts at column `indent`. */
static void print_wrapped(FILE *out, const char *text, int indent)
{
	int column = indent;

	while(*text){
		int word = (int)strcspn(text, " ");

		if(column > indent && column + 1 + word > HELP_WIDTH){
			fprintf(out, "\n%*s", indent, "");
			column = indent;
		}else if(column > indent){
			fputc(' ', out);
			column++;
		}
		fprintf(out, "%.*s", word, text);
		column += word;
		text += word;
		text += strspn(text, " ");
	}
	fputc('\n', out);
}

static void print_subcommand_usage(FILE *out, const struct ota_cli_subcommand *sub)
{
	int width = 0;

	fprintf(out, "Usage: mosquitto_ota %s%s%s%s\n\n%s\n", sub->name,
		sub->options[0].name ? " [options]" : "", sub->arguments[0] ? " " : "",
		sub->arguments, sub->summary);
	for(const struct ota_cli_option *o = sub->options; o->name; o++){
		int len = (int)strlen(o->name) + (o->value_name ? 1 + (int)strlen(o->value_name) : 0);

		width = len > width ? len : width;
	}
	if(sub->options[0].name){
		fputs("\nOptions:\n", out);
	}
	for(const struct ota_cli_option *o = sub->options; o->name; o++){
		char left[64];

		snprintf(left, sizeof(left), "%s%s%s", o->name, o->value_name ? " " : "",
			o->value_name ? o->value_name : "");
		fprintf(out, "  %-*s  ", width, left);
		print_wrapped(out, o->help, width + 4);
	}
	fputs("\nConnection options and --json, -W, -d: see mosquitto_ota --help.\n", out);
}

/* ===================================================================== */
/* Main                                                                  */
/* ===================================================================== */

/* Writes 32 random hex digits, from /dev/urandom when it can be read. */
static void make_correlation(char *out, size_t size)
{
	unsigned char bytes[16];
	int fd = open("/dev/urandom", O_RDONLY);
	bool filled = fd >= 0 && read(fd, bytes, sizeof(bytes)) == (ssize_t)sizeof(bytes);

	if(fd >= 0){
		close(fd);
	}
	if(!filled){
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		srand((unsigned)(ts.tv_nsec ^ ts.tv_sec ^ getpid()));
		for(size_t i = 0; i < sizeof(bytes); i++){
			bytes[i] = (unsigned char)rand();
		}
	}
	for(size_t i = 0; i < sizeof(bytes) && 2 * i + 2 < size; i++){
		snprintf(out + 2 * i, 3, "%02x", bytes[i]);
	}
}

/* Prints the response: its data on success, or the plugin's error. */
static int print_response(const cJSON *response, bool json)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(response, "error");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(response, "data");
	char *text;

	if(cJSON_IsString(error) || !data){
		if(json && (text = cJSON_Print(response))){
			printf("%s\n", text);
			free(text);
		}
		fprintf(stderr, "Error: %s\n", cJSON_IsString(error) ? error->valuestring
			: "the response has neither data nor error");
		return OTA_CLI_SERVER_ERROR;
	}

	if(json){
		text = cJSON_Print(data);
		printf("%s\n", text ? text : "null");
		free(text);
	}else{
		ota_cli_print_data(stdout, data);
	}
	if(fflush(stdout) != 0 || ferror(stdout)){
		fprintf(stderr, "Error: writing the output failed: %s\n", strerror(errno));
		return OTA_CLI_OUTPUT;
	}
	return OTA_CLI_OK;
}

/* Builds {"commands":[command]} for the invocation. Returns NULL after
 * printing the reason when the command line or an input file is invalid. */
static char *build_request(const struct ota_cli_invocation *inv, const char *correlation)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *command = cJSON_CreateObject();
	char *payload = NULL;

	cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "commands"), command);
	cJSON_AddStringToObject(command, "command", inv->subcommand->api_name);
	if(inv->subcommand->build(inv, command) == OTA_CLI_OK){
		cJSON_AddStringToObject(command, "correlationData", correlation);
		payload = cJSON_PrintUnformatted(root);
		if(!payload){
			fprintf(stderr, "Error: out of memory building the request\n");
		}
	}
	cJSON_Delete(root);
	return payload;
}

int main(int argc, char **argv)
{
	struct ota_cli_connection conn = {
		.host = "localhost",
		.protocol_version = MQTT_PROTOCOL_V5,
		.timeout_seconds = DEFAULT_TIMEOUT_SECONDS,
	};
	struct ota_cli_invocation inv = {0};
	char correlation[40] = "";
	cJSON *response;
	char *payload;
	int rc;

	inv.arguments = calloc((size_t)argc + 1, sizeof(char *));
	if(!inv.arguments){
		fprintf(stderr, "Error: out of memory\n");
		return OTA_CLI_USAGE;
	}
	rc = ota_cli_parse_command_line(argc, argv, &conn, &inv);
	if(rc == OTA_CLI_OK && inv.help && inv.subcommand){
		print_subcommand_usage(stdout, inv.subcommand);
	}else if(rc == OTA_CLI_OK && inv.help){
		print_usage(stdout);
	}else if(rc == OTA_CLI_OK && !inv.subcommand){
		print_usage(stderr);
		rc = OTA_CLI_USAGE;
	}
	if(rc != OTA_CLI_OK || inv.help || (rc = ota_cli_check_connection(&conn)) != OTA_CLI_OK){
		free(inv.arguments);
		return rc;
	}

	make_correlation(correlation, sizeof(correlation));
	payload = build_request(&inv, correlation);
	free(inv.arguments);
	if(!payload){
		return OTA_CLI_USAGE;
	}

	rc = ota_cli_exchange(&conn, payload, correlation, &response);
	free(payload);
	if(rc == OTA_CLI_OK){
		rc = print_response(response, inv.json);
		cJSON_Delete(response);
	}
	return rc;
}

