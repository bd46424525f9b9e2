/*
 * Unit tests of the plugin options: the defaults, every option with the
 * values it accepts and rejects, unknown options, and the comma-separated
 * user lists. A rejection must name the option and the value, and must
 * leave the setting as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ota_config.h"

#include "check.h"

static void config_defaults(void **state)
{
	struct ota_config config;

	(void)state;
	ota_config_init(&config);
	assert_string_equal(config.db_path, "/var/lib/mosquitto/mosquitto_ota.db");
	assert_true(config.leading_slash);
	assert_int_equal(config.identity, OTA_IDENTITY_AUTO);
	assert_null(config.admin_users);
	assert_null(config.backend_users);
	assert_int_equal(config.timeout_s, 1800);
	assert_int_equal(config.status_qos, 0);
	assert_int_equal(config.push_qos, 1);
	assert_int_equal(config.durability, OTA_DURABILITY_SYNC);
	assert_false(config.exclusive_lock);
	assert_int_equal(config.cache_kib, 4096);
	assert_int_equal(config.checkpoint_pages, 10000);
	assert_int_equal(config.row_cache, 16384);
	ota_config_free(&config);
}

/* ===================================================================== */
/* Accepted values                                                       */
/* ===================================================================== */

enum field_kind {
	FIELD_INT,
	FIELD_SIZE,
	FIELD_BOOL,
	FIELD_STRING,
	FIELD_IDENTITY,
	FIELD_DURABILITY,
};

struct accepted_case {
	const char *key;
	const char *value;
	enum field_kind kind;
	size_t offset;        /* of the field in struct ota_config */
	long long expected;   /* for every kind but FIELD_STRING */
};

#define AT(name) offsetof(struct ota_config, name)

static const struct accepted_case accepted[] = {
	{"db_path", "data/ota.db", FIELD_STRING, AT(db_path), 0},
	{"leading_slash", "false", FIELD_BOOL, AT(leading_slash), 0},
	{"leading_slash", "true", FIELD_BOOL, AT(leading_slash), 1},
	{"leading_slash", "0", FIELD_BOOL, AT(leading_slash), 0},
	{"leading_slash", "1", FIELD_BOOL, AT(leading_slash), 1},
	{"leading_slash", "no", FIELD_BOOL, AT(leading_slash), 0},
	{"leading_slash", "yes", FIELD_BOOL, AT(leading_slash), 1},
	{"device_identity", "clientid", FIELD_IDENTITY, AT(identity), OTA_IDENTITY_CLIENTID},
	{"device_identity", "username", FIELD_IDENTITY, AT(identity), OTA_IDENTITY_USERNAME},
	{"device_identity", "fastbee", FIELD_IDENTITY, AT(identity), OTA_IDENTITY_FASTBEE},
	{"device_identity", "none", FIELD_IDENTITY, AT(identity), OTA_IDENTITY_NONE},
	{"device_identity", "auto", FIELD_IDENTITY, AT(identity), OTA_IDENTITY_AUTO},
	{"admin_users", "admin,ops", FIELD_STRING, AT(admin_users), 0},
	{"backend_users", "fastbee", FIELD_STRING, AT(backend_users), 0},
	{"timeout", "0", FIELD_INT, AT(timeout_s), 0},
	{"timeout", "1", FIELD_INT, AT(timeout_s), 1},
	{"timeout", "31536000", FIELD_INT, AT(timeout_s), 31536000},
	{"status_qos", "0", FIELD_INT, AT(status_qos), 0},
	{"status_qos", "1", FIELD_INT, AT(status_qos), 1},
	{"status_qos", "2", FIELD_INT, AT(status_qos), 2},
	{"push_qos", "0", FIELD_INT, AT(push_qos), 0},
	{"push_qos", "2", FIELD_INT, AT(push_qos), 2},
	{"durability", "full", FIELD_DURABILITY, AT(durability), OTA_DURABILITY_FULL},
	{"durability", "batch", FIELD_DURABILITY, AT(durability), OTA_DURABILITY_BATCH},
	{"durability", "sync", FIELD_DURABILITY, AT(durability), OTA_DURABILITY_SYNC},
	{"batch_ms", "1", FIELD_INT, AT(batch_ms), 1},
	{"batch_ms", "10000", FIELD_INT, AT(batch_ms), 10000},
	{"locking", "exclusive", FIELD_BOOL, AT(exclusive_lock), 1},
	{"locking", "normal", FIELD_BOOL, AT(exclusive_lock), 0},
	{"cache_kib", "256", FIELD_INT, AT(cache_kib), 256},
	{"cache_kib", "4194304", FIELD_INT, AT(cache_kib), 4194304},
	{"checkpoint_pages", "100", FIELD_INT, AT(checkpoint_pages), 100},
	{"checkpoint_pages", "1000000", FIELD_INT, AT(checkpoint_pages), 1000000},
	{"row_cache", "0", FIELD_INT, AT(row_cache), 0},
	{"row_cache", "4194304", FIELD_INT, AT(row_cache), 4194304},
	{"reply_max_bytes", "64", FIELD_SIZE, AT(reply_max_bytes), 64},
	{"reply_max_bytes", "1048576", FIELD_SIZE, AT(reply_max_bytes), 1048576},
	{"command_max_bytes", "1024", FIELD_SIZE, AT(command_max_bytes), 1024},
	{"command_max_bytes", "268435455", FIELD_SIZE, AT(command_max_bytes), 268435455},
	{"log_burst", "0", FIELD_INT, AT(log_burst), 0},
	{"log_burst", "1000000", FIELD_INT, AT(log_burst), 1000000},
	{"watch_subscribe", "true", FIELD_BOOL, AT(watch_subscribe), 1},
	{"push_batch", "1", FIELD_INT, AT(push_batch), 1},
	{"push_batch", "100000", FIELD_INT, AT(push_batch), 100000},
	{"summary_interval_ms", "0", FIELD_INT, AT(summary_interval_ms), 0},
	{"summary_interval_ms", "60000", FIELD_INT, AT(summary_interval_ms), 60000},
	{"retention_days", "0", FIELD_INT, AT(retention_days), 0},
	{"retention_days", "36500", FIELD_INT, AT(retention_days), 36500},
	{"max_tasks", "0", FIELD_INT, AT(max_tasks), 0},
	{"max_tasks", "100000000", FIELD_INT, AT(max_tasks), 100000000},
};

static long long read_field(const struct ota_config *config, enum field_kind kind,
	size_t offset)
{
	const char *base = (const char *)config + offset;

	switch(kind){
		case FIELD_INT: return *(const int *)base;
		case FIELD_SIZE: return (long long)*(const size_t *)base;
		case FIELD_BOOL: return *(const bool *)base;
		case FIELD_IDENTITY: return *(const enum ota_identity *)base;
		case FIELD_DURABILITY: return *(const enum ota_durability *)base;
		default: return -1;
	}
}

static void config_accepts_valid_values(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++){
		const struct accepted_case *c = &accepted[i];
		struct ota_config config;
		char err[256] = "";
		bool ok;

		ota_config_init(&config);
		ok = ota_config_set(&config, c->key, c->value, err, sizeof(err));
		CHECK(ok, "%s %s: rejected with '%s'", c->key, c->value, err);
		if(c->kind == FIELD_STRING){
			const char *got = *(char *const *)((const char *)&config + c->offset);

			CHECK(got != NULL, "%s %s: stored as NULL", c->key, c->value);
			if(got){
				CHECK(strcmp(got, c->value) == 0, "%s %s: stored as %s", c->key,
					c->value, got);
			}
		}else{
			long long got = read_field(&config, c->kind, c->offset);

			CHECK(got == c->expected, "%s %s: stored as %lld, expected %lld", c->key,
				c->value, got, c->expected);
		}
		ota_config_free(&config);
	}
	assert_checks_passed();
}

/* Setting a string option twice keeps the second value only. */
static void config_string_option_replaced(void **state)
{
	struct ota_config config;
	char err[256] = "";

	(void)state;
	ota_config_init(&config);
	assert_true(ota_config_set(&config, "admin_users", "admin", err, sizeof(err)));
	assert_true(ota_config_set(&config, "admin_users", "ops", err, sizeof(err)));
	assert_string_equal(config.admin_users, "ops");
	assert_true(ota_config_set(&config, "db_path", "other.db", err, sizeof(err)));
	assert_string_equal(config.db_path, "other.db");
	ota_config_free(&config);
}

/* ===================================================================== */
/* Rejected values                                                       */
/* ===================================================================== */

static const struct {
	const char *key;
	const char *value;
} rejected[] = {
	{"leading_slash", "maybe"},
	{"leading_slash", "2"},
	{"device_identity", "serial"},
	{"device_identity", "AUTO"},
	{"timeout", "-1"},
	{"timeout", "31536001"},
	{"timeout", "abc"},
	{"timeout", "10s"},
	{"timeout", "1.5"},
	{"timeout", "99999999999999999999"},
	{"timeout", ""},
	{"status_qos", "3"},
	{"status_qos", "-1"},
	{"status_qos", "one"},
	{"push_qos", "3"},
	{"push_qos", "-1"},
	{"durability", "fast"},
	{"batch_ms", "0"},
	{"batch_ms", "10001"},
	{"locking", "shared"},
	{"cache_kib", "255"},
	{"cache_kib", "4194305"},
	{"checkpoint_pages", "99"},
	{"checkpoint_pages", "1000001"},
	{"row_cache", "-1"},
	{"row_cache", "4194305"},
	{"reply_max_bytes", "63"},
	{"reply_max_bytes", "1048577"},
	{"command_max_bytes", "1023"},
	{"command_max_bytes", "268435456"},
	{"log_burst", "-1"},
	{"log_burst", "1000001"},
	{"watch_subscribe", "sometimes"},
	{"push_batch", "0"},
	{"push_batch", "100001"},
	{"summary_interval_ms", "-1"},
	{"summary_interval_ms", "60001"},
	{"retention_days", "-1"},
	{"retention_days", "36501"},
	{"max_tasks", "-1"},
	{"max_tasks", "100000001"},
};

/* Returns true when every setting of `a` equals that of `b`. */
static bool configs_equal(const struct ota_config *a, const struct ota_config *b)
{
	bool same_strings = strcmp(a->db_path, b->db_path) == 0
		&& !a->admin_users == !b->admin_users
		&& !a->backend_users == !b->backend_users;

	return same_strings && a->leading_slash == b->leading_slash
		&& a->identity == b->identity && a->timeout_s == b->timeout_s
		&& a->status_qos == b->status_qos && a->push_qos == b->push_qos
		&& a->durability == b->durability && a->batch_ms == b->batch_ms
		&& a->exclusive_lock == b->exclusive_lock && a->cache_kib == b->cache_kib
		&& a->checkpoint_pages == b->checkpoint_pages && a->row_cache == b->row_cache
		&& a->reply_max_bytes == b->reply_max_bytes
		&& a->command_max_bytes == b->command_max_bytes
		&& a->log_burst == b->log_burst && a->watch_subscribe == b->watch_subscribe
		&& a->push_batch == b->push_batch
		&& a->summary_interval_ms == b->summary_interval_ms
		&& a->retention_days == b->retention_days && a->max_tasks == b->max_tasks;
}

static void config_rejects_invalid_values(void **state)
{
	struct ota_config defaults;

	(void)state;
	ota_config_init(&defaults);
	for(size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++){
		const char *key = rejected[i].key;
		const char *value = rejected[i].value;
		struct ota_config config;
		char quoted[64];
		char err[256] = "";
		bool ok;

		ota_config_init(&config);
		ok = ota_config_set(&config, key, value, err, sizeof(err));
		snprintf(quoted, sizeof(quoted), "\"%s\"", value);
		CHECK(!ok, "%s '%s': accepted", key, value);
		CHECK(strstr(err, key) != NULL, "%s '%s': error '%s' does not name the option",
			key, value, err);
		CHECK(strstr(err, quoted) != NULL, "%s '%s': error '%s' does not quote the value",
			key, value, err);
		CHECK(configs_equal(&config, &defaults), "%s '%s': changed the configuration",
			key, value);
		ota_config_free(&config);
	}
	ota_config_free(&defaults);
	assert_checks_passed();
}

static void config_rejects_unknown_option(void **state)
{
	static const char *const keys[] = {"db-path", "timeout_s", "qos", "DB_PATH", ""};

	(void)state;
	for(size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++){
		struct ota_config config;
		char expected[64];
		char err[256] = "";

		ota_config_init(&config);
		snprintf(expected, sizeof(expected), "plugin_opt_%s", keys[i]);
		CHECK(!ota_config_set(&config, keys[i], "1", err, sizeof(err)),
			"unknown option '%s' accepted", keys[i]);
		CHECK(strstr(err, "unknown") != NULL, "'%s': error '%s' does not say unknown",
			keys[i], err);
		CHECK(strstr(err, expected) != NULL, "'%s': error '%s' does not name %s",
			keys[i], err, expected);
		ota_config_free(&config);
	}
	assert_checks_passed();
}

static void config_names_round_trip(void **state)
{
	static const char *const identities[] = {"auto", "clientid", "username",
		"fastbee", "none"};
	static const char *const durabilities[] = {"sync", "full", "batch"};

	(void)state;
	for(size_t i = 0; i < sizeof(identities) / sizeof(identities[0]); i++){
		struct ota_config config;
		char err[256] = "";

		ota_config_init(&config);
		CHECK(ota_config_set(&config, "device_identity", identities[i], err, sizeof(err)),
			"device_identity %s rejected", identities[i]);
		CHECK(strcmp(ota_identity_name(config.identity), identities[i]) == 0,
			"device_identity %s is named %s", identities[i],
			ota_identity_name(config.identity));
		ota_config_free(&config);
	}
	for(size_t i = 0; i < sizeof(durabilities) / sizeof(durabilities[0]); i++){
		struct ota_config config;
		char err[256] = "";

		ota_config_init(&config);
		CHECK(ota_config_set(&config, "durability", durabilities[i], err, sizeof(err)),
			"durability %s rejected", durabilities[i]);
		CHECK(strcmp(ota_durability_name(config.durability), durabilities[i]) == 0,
			"durability %s is named %s", durabilities[i],
			ota_durability_name(config.durability));
		ota_config_free(&config);
	}
	assert_checks_passed();
}

/* ===================================================================== */
/* User lists                                                            */
/* ===================================================================== */

static const struct {
	const char *list;
	const char *name;
	bool expected;
} list_cases[] = {
	{"admin", "admin", true},
	{"admin,ops", "admin", true},
	{"admin,ops", "ops", true},
	{" admin , ops ", "admin", true},
	{" admin , ops ", "ops", true},
	{"admin,  ops", "ops", true},
	{"admin,", "admin", true},
	{",admin", "admin", true},
	{"admin,ops", "adm", false},
	{"admin,ops", "admins", false},
	{"admin,ops", "dmin", false},
	{"admin,ops", "admin,ops", false},
	{"admin ops", "admin", false},
	{"ADMIN", "admin", false},
	{"admin,ops", " admin", false},
	{"", "admin", false},
	{"admin,ops", "", false},
	/* An empty entry names no user, so a client without a username must not
	 * match it. */
	{"admin,,ops", "", false},
	{"admin, ,ops", "", false},
	{" ", "", false},
	{",", "", false},
};

static void config_list_has_entries(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++){
		bool got = ota_config_list_has(list_cases[i].list, list_cases[i].name);

		CHECK(got == list_cases[i].expected,
			"ota_config_list_has(\"%s\", \"%s\") is %d, expected %d",
			list_cases[i].list, list_cases[i].name, got, list_cases[i].expected);
	}
	assert_checks_passed();
}

static void config_list_has_null_arguments(void **state)
{
	(void)state;
	assert_false(ota_config_list_has(NULL, "admin"));
	assert_false(ota_config_list_has("admin", NULL));
	assert_false(ota_config_list_has(NULL, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		table_test(config_defaults),
		table_test(config_accepts_valid_values),
		table_test(config_string_option_replaced),
		table_test(config_rejects_invalid_values),
		table_test(config_rejects_unknown_option),
		table_test(config_names_round_trip),
		table_test(config_list_has_entries),
		table_test(config_list_has_null_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
