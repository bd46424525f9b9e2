/*
 * Private interface of the mosquitto_ota command-line tool: the connection
 * settings, the request/response exchange over MQTT, and the text output.
 */
#ifndef OTA_CLI_H
#define OTA_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#define OTA_CLI_CONTROL_TOPIC "$CONTROL/ota/v1"
#define OTA_CLI_RESPONSE_TOPIC "$CONTROL/ota/v1/response"

/* Exit statuses, listed in the help text. */
enum ota_cli_exit {
	OTA_CLI_OK = 0,
	OTA_CLI_SERVER_ERROR = 1, /* the plugin returned an error */
	OTA_CLI_USAGE = 2,        /* invalid command line or input file */
	OTA_CLI_CONNECTION = 3,   /* could not connect, or the connection failed */
	OTA_CLI_TIMEOUT = 4,      /* no response within the timeout */
	OTA_CLI_OUTPUT = 5,       /* writing to stdout failed */
};

#define OTA_CLI_MAX_OPTIONS 24

/* Value type of a subcommand option, which decides how it is checked and sent. */
enum ota_cli_value_kind {
	KIND_FLAG,        /* no value; sends true */
	KIND_STRING,
	KIND_COUNT,       /* whole number 0 .. 2^53-1 */
	KIND_TASK_ID,     /* whole number 1 .. 2^53-1 */
	KIND_PERCENT,     /* whole number 1..100 */
	KIND_TIME,        /* ms since the epoch, or ISO-8601 */
	KIND_STATUS,      /* status code or name */
	KIND_STATUS_LIST, /* comma-separated status codes or names */
	KIND_LOCAL,       /* read by the subcommand's own code */
};

struct ota_cli_option {
	const char *name;       /* "--max-retries" */
	const char *value_name; /* "N"; NULL for flags */
	enum ota_cli_value_kind kind;
	const char *json_key;   /* request key; NULL for KIND_LOCAL */
	const char *help;
};

struct ota_cli_subcommand;

struct ota_cli_invocation {
	const struct ota_cli_subcommand *subcommand;
	const char *values[OTA_CLI_MAX_OPTIONS]; /* by index into its options */
	char **arguments;
	int argument_count;
	bool json;
	bool help;
};

struct ota_cli_subcommand {
	const char *name;     /* "create-task" */
	const char *api_name; /* "createTask" */
	const char *arguments;
	const char *summary;
	const struct ota_cli_option *options;
	int (*build)(const struct ota_cli_invocation *inv, cJSON *command);
};

/* Connection settings, from the connection options. */
struct ota_cli_connection {
	const char *host;
	int port;             /* 0: 1883, or 8883 with TLS */
	const char *username;
	const char *password;
	const char *client_id;
	const char *cafile;
	const char *capath;
	const char *certfile;
	const char *keyfile;
	bool insecure;
	int protocol_version; /* MQTT_PROTOCOL_V31, _V311 or _V5 */
	int timeout_seconds;
	bool debug;           /* print the request and response payloads */
};

/* The subcommands, in the order the help lists them (ota_cli_commands.c). */
extern const struct ota_cli_subcommand ota_cli_subcommands[];
extern const size_t ota_cli_subcommand_count;

/* Finds a subcommand by its name or by the admin API's command name. */
const struct ota_cli_subcommand *ota_cli_find_subcommand(const char *name);

/* Returns the index of option `name` in the subcommand's table, or -1. */
int ota_cli_option_index(const struct ota_cli_subcommand *sub, const char *name);

/*
 * Reads the command line into `conn` and `inv` (ota_cli_args.c). Returns
 * OTA_CLI_OK, or OTA_CLI_USAGE after printing what is wrong.
 */
int ota_cli_parse_command_line(int argc, char **argv, struct ota_cli_connection *conn,
	struct ota_cli_invocation *inv);

/* Checks option combinations, such as --cert without --key. */
int ota_cli_check_connection(const struct ota_cli_connection *conn);

/* Parses a whole decimal number in min..max with nothing around it. */
bool ota_cli_parse_integer(const char *text, long long min, long long max, long long *out);

/* Returns true for the protocol's numeric text: an optional '-', digits,
 * and an optional '.' followed by digits; no exponent, no spaces. */
bool ota_cli_is_numeric_text(const char *s);

/*
 * Converts an option's value by its kind (ota_cli_values.c). Returns the
 * JSON value, or NULL after printing what is wrong with it.
 */
cJSON *ota_cli_convert_value(const struct ota_cli_option *o, const char *text);

/*
 * Sends `payload` to $CONTROL/ota/v1 and waits for the response element
 * whose correlationData equals `correlation`. On success stores that element
 * (a detached cJSON object the caller deletes) in `*response` and returns
 * OTA_CLI_OK; otherwise prints the reason to stderr and returns
 * OTA_CLI_CONNECTION or OTA_CLI_TIMEOUT.
 */
int ota_cli_exchange(const struct ota_cli_connection *conn, const char *payload,
	const char *correlation, cJSON **response);

/*
 * Prints a response's `data` object as text: scalar fields as aligned
 * "name: value" lines, nested objects as indented sections, arrays of
 * objects as tables. Status codes print with their names and times in ms
 * since the epoch as ISO-8601 UTC.
 */
void ota_cli_print_data(FILE *out, const cJSON *data);

#endif
