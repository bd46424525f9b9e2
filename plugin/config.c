/*
 * Plugin options: defaults, parsing and validation. Each option is one row
 * of a table naming its parser, so the README's option list and this file
 * can be checked against each other at a glance.
 */
#include "ota_config.h"

#include <stddef.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ota_config_init(struct ota_config *config)
{
	memset(config, 0, sizeof(*config));
	config->db_path = strdup(OTA_DEFAULT_DB_PATH);
	config->leading_slash = true;
	config->identity = OTA_IDENTITY_AUTO;
	config->timeout_s = 1800;
	config->status_qos = 0;
	config->push_qos = 1;
	config->durability = OTA_DURABILITY_SYNC;
	config->batch_ms = 50;
	config->cache_kib = 4096;
	config->checkpoint_pages = 10000;
	config->row_cache = 16384;
	config->reply_max_bytes = 4096;
	config->command_max_bytes = 8 * 1024 * 1024;
	config->log_burst = 5;
	config->push_batch = 500;
	config->summary_interval_ms = 250;
}

void ota_config_free(struct ota_config *config)
{
	free(config->db_path);
	free(config->admin_users);
	free(config->backend_users);
	memset(config, 0, sizeof(*config));
}

static bool parse_long(const char *value, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if(errno || end == value || *end != '\0' || v < min || v > max){
		return false;
	}
	*out = v;
	return true;
}

static bool parse_bool(const char *value, bool *out)
{
	if(!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes")){
		*out = true;
		return true;
	}
	if(!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no")){
		*out = false;
		return true;
	}
	return false;
}

/* ===================================================================== */
/* One parser per kind of value                                          */
/* ===================================================================== */

struct option_def;
typedef bool (*option_parser)(struct ota_config *config,
	const struct option_def *def, const char *value, char *err, size_t size);

struct option_def {
	const char *key;
	option_parser parse;
	size_t offset;    /* of the field in struct ota_config */
	long min, max;    /* integer options */
	const char *rule; /* shown when the value is rejected */
};

#define FIELD(name) offsetof(struct ota_config, name)
#define AT(config, def, type) ((type *)((char *)(config) + (def)->offset))

static bool invalid(const struct option_def *def, const char *value,
	char *err, size_t size)
{
	snprintf(err, size, "invalid %s \"%s\": %s", def->key, value, def->rule);
	return false;
}

static bool set_int(struct ota_config *config, const struct option_def *def,
	const char *value, char *err, size_t size)
{
	long v;

	if(!parse_long(value, def->min, def->max, &v)){
		return invalid(def, value, err, size);
	}
	*AT(config, def, int) = (int)v;
	return true;
}

static bool set_size(struct ota_config *config, const struct option_def *def,
	const char *value, char *err, size_t size)
{
	long v;

	if(!parse_long(value, def->min, def->max, &v)){
		return invalid(def, value, err, size);
	}
	*AT(config, def, size_t) = (size_t)v;
	return true;
}

static bool set_flag(struct ota_config *config, const struct option_def *def,
	const char *value, char *err, size_t size)
{
	if(!parse_bool(value, AT(config, def, bool))){
		return invalid(def, value, err, size);
	}
	return true;
}

static bool set_string(struct ota_config *config, const struct option_def *def,
	const char *value, char *err, size_t size)
{
	char **field = AT(config, def, char *);
	char *copy = strdup(value);

	if(!copy){
		snprintf(err, size, "%s: out of memory", def->key);
		return false;
	}
	free(*field);
	*field = copy;
	return true;
}

static const char *const identity_names[] = {
	[OTA_IDENTITY_AUTO] = "auto",
	[OTA_IDENTITY_CLIENTID] = "clientid",
	[OTA_IDENTITY_USERNAME] = "username",
	[OTA_IDENTITY_FASTBEE] = "fastbee",
	[OTA_IDENTITY_NONE] = "none",
};

static const char *const durability_names[] = {
	[OTA_DURABILITY_SYNC] = "sync",
	[OTA_DURABILITY_FULL] = "full",
	[OTA_DURABILITY_BATCH] = "batch",
};

const char *ota_identity_name(enum ota_identity identity)
{
	return identity_names[identity];
}

const char *ota_durability_name(enum ota_durability durability)
{
	return durability_names[durability];
}

static int find_name(const char *const *names, int count, const char *value)
{
	for(int i = 0; i < count; i++){
		if(!strcmp(names[i], value)){
			return i;
		}
	}
	return -1;
}

static bool set_identity(struct ota_config *config, const struct option_def *def,
	const char *value, char *err, size_t size)
{
	int i = find_name(identity_names, 5, value);

	if(i < 0){
		return invalid(def, value, err, size);
	}
	config->identity = (enum ota_identity)i;
	return true;
}

static bool set_durability(struct ota_config *config, const struct option_def *def,
	const char *value, char *err, size_t size)
{
	int i = find_name(durability_names, 3, value);

	if(i < 0){
		return invalid(def, value, err, size);
	}
	config->durability = (enum ota_durability)i;
	return true;
}

static bool set_locking(struct ota_config *config, const struct option_def *def,
	const char *value, char *err, size_t size)
{
	if(!strcmp(value, "normal")){
		config->exclusive_lock = false;
	}else if(!strcmp(value, "exclusive")){
		config->exclusive_lock = true;
	}else{
		return invalid(def, value, err, size);
	}
	return true;
}

static const struct option_def options[] = {
	{"db_path", set_string, FIELD(db_path), 0, 0, "must be a file path"},
	{"leading_slash", set_flag, FIELD(leading_slash), 0, 0, "must be true or false"},
	{"device_identity", set_identity, 0, 0, 0,
		"must be auto, clientid, username, fastbee or none"},
	{"admin_users", set_string, FIELD(admin_users), 0, 0, "must be a list of usernames"},
	{"backend_users", set_string, FIELD(backend_users), 0, 0, "must be a list of usernames"},
	{"timeout", set_int, FIELD(timeout_s), 0, 31536000,
		"must be seconds from 0 (no timeout) to 31536000"},
	{"status_qos", set_int, FIELD(status_qos), 0, 2, "must be 0, 1 or 2"},
	{"push_qos", set_int, FIELD(push_qos), 0, 2, "must be 0, 1 or 2"},
	{"durability", set_durability, 0, 0, 0, "must be sync, full or batch"},
	{"batch_ms", set_int, FIELD(batch_ms), 1, 10000,
		"must be milliseconds from 1 to 10000"},
	{"locking", set_locking, 0, 0, 0, "must be normal or exclusive"},
	{"cache_kib", set_int, FIELD(cache_kib), 256, 4194304,
		"must be KiB from 256 to 4194304"},
	{"checkpoint_pages", set_int, FIELD(checkpoint_pages), 100, 1000000,
		"must be pages from 100 to 1000000"},
	{"row_cache", set_int, FIELD(row_cache), 0, 4194304,
		"must be a count of rows from 0 (no cache) to 4194304"},
	{"reply_max_bytes", set_size, FIELD(reply_max_bytes), 64, 1048576,
		"must be bytes from 64 to 1048576"},
	{"command_max_bytes", set_size, FIELD(command_max_bytes), 1024, 268435455,
		"must be bytes from 1024 to 268435455"},
	{"log_burst", set_int, FIELD(log_burst), 0, 1000000,
		"must be a count from 0 to 1000000"},
	{"watch_subscribe", set_flag, FIELD(watch_subscribe), 0, 0,
		"must be true or false"},
	{"push_batch", set_int, FIELD(push_batch), 1, 100000,
		"must be a count from 1 to 100000"},
	{"summary_interval_ms", set_int, FIELD(summary_interval_ms), 0, 60000,
		"must be milliseconds from 0 to 60000"},
	{"retention_days", set_int, FIELD(retention_days), 0, 36500,
		"must be days from 0 (keep forever) to 36500"},
	{"max_tasks", set_int, FIELD(max_tasks), 0, 100000000,
		"must be a count from 0 (no limit) to 100000000"},
};

bool ota_config_set(struct ota_config *config, const char *key,
	const char *value, char *err, size_t err_size)
{
	for(size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++){
		if(!strcmp(options[i].key, key)){
			return options[i].parse(config, &options[i], value, err, err_size);
		}
	}
	snprintf(err, err_size, "unknown option plugin_opt_%s", key);
	return false;
}

bool ota_config_list_has(const char *list, const char *name)
{
	size_t len;

	/* An empty item names no one, so a client without a username never
	 * matches "admin,,ops". */
	if(!list || !name || !name[0]){
		return false;
	}
	len = strlen(name);
	while(*list){
		const char *end = strchr(list, ',');
		size_t item = end ? (size_t)(end - list) : strlen(list);

		while(item > 0 && *list == ' '){
			list++;
			item--;
		}
		while(item > 0 && list[item - 1] == ' '){
			item--;
		}
		if(item == len && strncmp(list, name, len) == 0){
			return true;
		}
		if(!end){
			break;
		}
		list = end + 1;
	}
	return false;
}
