/*
 * Plugin options, parsed from `plugin_opt_*` lines without any Mosquitto
 * types so that unit tests check every default and every rejected value.
 */
#ifndef OTA_CONFIG_H
#define OTA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "ota_store.h"

#define OTA_DEFAULT_DB_PATH "/var/lib/mosquitto/mosquitto_ota.db"

enum ota_identity {
	OTA_IDENTITY_AUTO,     /* client id, username, or FastBee client id */
	OTA_IDENTITY_CLIENTID, /* client id equals the serial number */
	OTA_IDENTITY_USERNAME, /* username equals the serial number */
	OTA_IDENTITY_FASTBEE,  /* client id is {type}&{serial}&{product}&{user} */
	OTA_IDENTITY_NONE,     /* no check */
};

struct ota_config {
	char *db_path;
	bool leading_slash;
	enum ota_identity identity;
	char *admin_users;    /* comma-separated; NULL: no one */
	char *backend_users;  /* comma-separated; NULL: any client */
	int timeout_s;        /* default timeoutSeconds; 0 disables */
	int status_qos;
	int push_qos;
	enum ota_durability durability;
	int batch_ms;         /* batch durability: longest wait before a commit */
	bool exclusive_lock;  /* no other process may read the database */
	int cache_kib;        /* SQLite page cache */
	int checkpoint_pages; /* WAL length at which the broker thread checkpoints */
	int row_cache;        /* device rows kept in memory; 0: none */
	size_t reply_max_bytes;
	size_t command_max_bytes;
	int log_burst;        /* declines logged per reason and client per minute */
	bool watch_subscribe; /* register the ACL check to see subscribes */
	int push_batch;       /* pushes sent per tick at most */
	int summary_interval_ms; /* shortest gap between two summaries of a task */
	int retention_days;   /* finished tasks are deleted after it; 0 keeps */
	int max_tasks;        /* tasks kept at most; 0: no limit */
};

/* Fills `config` with the defaults. */
void ota_config_init(struct ota_config *config);
void ota_config_free(struct ota_config *config);

/*
 * Applies one option, `key` without the `plugin_opt_` prefix. Returns true,
 * or false with the reason in `err`, such as "invalid status_qos 3: must be
 * 0, 1 or 2". Keys this plugin does not know are rejected too, so a typo
 * does not pass unnoticed.
 */
bool ota_config_set(struct ota_config *config, const char *key,
	const char *value, char *err, size_t err_size);

/* Returns true when `name` is one of the comma-separated names in `list`. */
bool ota_config_list_has(const char *list, const char *name);

const char *ota_identity_name(enum ota_identity identity);
const char *ota_durability_name(enum ota_durability durability);

#endif
