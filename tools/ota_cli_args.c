/*
 * Command-line parsing of mosquitto_ota. Connection and output options use
 * mosquitto_ctrl's names and may come anywhere. Options after the
 * subcommand are looked up in its table first, so `create-task --timeout`
 * sets the task's timeout, while -W always sets the wait for the response.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>

#include "ota_cli.h"

enum global_option {
	OPT_HOST,
	OPT_PORT,
	OPT_USERNAME,
	OPT_PASSWORD,
	OPT_CLIENT_ID,
	OPT_PROTOCOL_VERSION,
	OPT_CAFILE,
	OPT_CAPATH,
	OPT_CERT,
	OPT_KEY,
	OPT_INSECURE,
	OPT_JSON,
	OPT_WAIT,
	OPT_DEBUG,
	OPT_HELP,
};

struct global_spec {
	const char *short_name;
	const char *long_name;
	bool takes_value;
	enum global_option id;
};

static const struct global_spec global_options[] = {
	{"-h", "--host", true, OPT_HOST},
	{"-p", "--port", true, OPT_PORT},
	{"-u", "--username", true, OPT_USERNAME},
	{"-P", "--pw", true, OPT_PASSWORD},
	{"-i", "--id", true, OPT_CLIENT_ID},
	{"-V", "--protocol-version", true, OPT_PROTOCOL_VERSION},
	{NULL, "--cafile", true, OPT_CAFILE},
	{NULL, "--capath", true, OPT_CAPATH},
	{NULL, "--cert", true, OPT_CERT},
	{NULL, "--key", true, OPT_KEY},
	{NULL, "--insecure", false, OPT_INSECURE},
	{NULL, "--json", false, OPT_JSON},
	{"-W", "--timeout", true, OPT_WAIT},
	{"-d", "--debug", false, OPT_DEBUG},
	{NULL, "--help", false, OPT_HELP},
};
#define GLOBAL_OPTION_COUNT (sizeof(global_options) / sizeof(global_options[0]))

static const struct global_spec *find_global_option(const char *name)
{
	for(size_t i = 0; i < GLOBAL_OPTION_COUNT; i++){
		const struct global_spec *g = &global_options[i];

		if((g->short_name && strcmp(g->short_name, name) == 0) || strcmp(g->long_name, name) == 0){
			return g;
		}
	}
	return NULL;
}

static bool parse_protocol_version(const char *text, int *out)
{
	if(strcmp(text, "mqttv5") == 0 || strcmp(text, "5") == 0){
		*out = MQTT_PROTOCOL_V5;
	}else if(strcmp(text, "mqttv311") == 0 || strcmp(text, "311") == 0){
		*out = MQTT_PROTOCOL_V311;
	}else if(strcmp(text, "mqttv31") == 0 || strcmp(text, "31") == 0){
		*out = MQTT_PROTOCOL_V31;
	}else{
		return false;
	}
	return true;
}

/* Applies a connection or output option; `value` is NULL for flags. */
static int apply_global_option(const struct global_spec *g, const char *name, const char *value,
	struct ota_cli_connection *conn, struct ota_cli_invocation *inv)
{
	long long number;

	switch(g->id){
		case OPT_HOST: conn->host = value; break;
		case OPT_USERNAME: conn->username = value; break;
		case OPT_PASSWORD: conn->password = value; break;
		case OPT_CLIENT_ID: conn->client_id = value; break;
		case OPT_CAFILE: conn->cafile = value; break;
		case OPT_CAPATH: conn->capath = value; break;
		case OPT_CERT: conn->certfile = value; break;
		case OPT_KEY: conn->keyfile = value; break;
		case OPT_INSECURE: conn->insecure = true; break;
		case OPT_JSON: inv->json = true; break;
		case OPT_DEBUG: conn->debug = true; break;
		case OPT_HELP: inv->help = true; break;
		case OPT_PORT:
			if(!ota_cli_parse_integer(value, 1, 65535, &number)){
				fprintf(stderr, "Error: %s \"%s\": must be a port number 1..65535\n", name, value);
				return OTA_CLI_USAGE;
			}
			conn->port = (int)number;
			break;
		case OPT_PROTOCOL_VERSION:
			if(!parse_protocol_version(value, &conn->protocol_version)){
				fprintf(stderr, "Error: %s \"%s\": must be mqttv5, mqttv311 or mqttv31\n",
					name, value);
				return OTA_CLI_USAGE;
			}
			break;
		case OPT_WAIT:
			if(!ota_cli_parse_integer(value, 1, 86400, &number)){
				fprintf(stderr, "Error: %s \"%s\": must be whole seconds 1..86400\n", name, value);
				return OTA_CLI_USAGE;
			}
			conn->timeout_seconds = (int)number;
			break;
	}
	return OTA_CLI_OK;
}

/*
 * Handles the option at argv[*i], taking its value from "--name=value" or
 * from the next argument. Options of the subcommand take precedence over
 * global options of the same name.
 */
static int parse_option(int argc, char **argv, int *i, struct ota_cli_connection *conn,
	struct ota_cli_invocation *inv)
{
	char name[64];
	const char *arg = argv[*i];
	const char *equals = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
	const char *value = equals ? equals + 1 : NULL;
	const struct global_spec *global = NULL;
	int index = -1;
	bool takes_value;

	snprintf(name, sizeof(name), "%.*s", equals ? (int)(equals - arg) : (int)strlen(arg), arg);
	if(inv->subcommand){
		index = ota_cli_option_index(inv->subcommand, name);
	}
	if(index < 0 && !(global = find_global_option(name))){
		if(inv->subcommand){
			fprintf(stderr, "Error: unknown option %s for %s; see mosquitto_ota %s --help\n",
				name, inv->subcommand->name, inv->subcommand->name);
		}else{
			fprintf(stderr, "Error: unknown option %s; see mosquitto_ota --help\n", name);
		}
		return OTA_CLI_USAGE;
	}

	takes_value = global ? global->takes_value : inv->subcommand->options[index].value_name != NULL;
	if(!takes_value && value){
		fprintf(stderr, "Error: option %s takes no value\n", name);
		return OTA_CLI_USAGE;
	}
	if(takes_value && !value){
		if(*i + 1 >= argc){
			fprintf(stderr, "Error: option %s needs a value\n", name);
			return OTA_CLI_USAGE;
		}
		value = argv[++*i];
	}

	if(global){
		return apply_global_option(global, name, value, conn, inv);
	}
	inv->values[index] = value ? value : "";
	return OTA_CLI_OK;
}

int ota_cli_parse_command_line(int argc, char **argv, struct ota_cli_connection *conn,
	struct ota_cli_invocation *inv)
{
	bool options_ended = false;
	int rc;

	for(int i = 1; i < argc; i++){
		const char *arg = argv[i];

		if(!options_ended && strcmp(arg, "--") == 0){
			options_ended = true;
		}else if(!options_ended && arg[0] == '-' && arg[1] != '\0'){
			if((rc = parse_option(argc, argv, &i, conn, inv)) != OTA_CLI_OK){
				return rc;
			}
		}else if(!inv->subcommand){
			if(!(inv->subcommand = ota_cli_find_subcommand(arg))){
				fprintf(stderr, "Error: unknown command \"%s\"; see mosquitto_ota --help\n", arg);
				return OTA_CLI_USAGE;
			}
		}else{
			inv->arguments[inv->argument_count++] = argv[i];
		}
	}
	return OTA_CLI_OK;
}

static bool readable(const char *option, const char *path)
{
	if(path && access(path, R_OK) != 0){
		fprintf(stderr, "Error: %s %s: %s\n", option, path, strerror(errno));
		return false;
	}
	return true;
}

int ota_cli_check_connection(const struct ota_cli_connection *conn)
{
	if(conn->password && !conn->username && conn->protocol_version != MQTT_PROTOCOL_V5){
		fprintf(stderr, "Error: -P needs -u with MQTT v3.1 and v3.1.1\n");
		return OTA_CLI_USAGE;
	}
	if(!conn->certfile != !conn->keyfile){
		fprintf(stderr, "Error: --cert and --key must be given together\n");
		return OTA_CLI_USAGE;
	}
	if(conn->certfile && !conn->cafile && !conn->capath){
		fprintf(stderr, "Error: --cert needs --cafile or --capath\n");
		return OTA_CLI_USAGE;
	}
	/* libmosquitto rejects unreadable files with a generic "invalid
	 * arguments" error, so name the file here. */
	if(!readable("--cafile", conn->cafile) || !readable("--capath", conn->capath)
			|| !readable("--cert", conn->certfile) || !readable("--key", conn->keyfile)){
		return OTA_CLI_USAGE;
	}
	return OTA_CLI_OK;
}
