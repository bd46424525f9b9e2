/*
 * Broker glue: the three plugin entry points and the callbacks that turn
 * Mosquitto's events into tracker calls. Nothing here decides anything
 * about OTA; it only translates.
 *
 * Events used on Mosquitto 2.0 (plugin API version 5): MESSAGE, TICK,
 * DISCONNECT and CONTROL, and ACL_CHECK only behind watch_subscribe. On 2.1
 * and later, CONNECT and SUBSCRIBE are used as well when the broker accepts
 * their registration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "ota_tracker.h"

/* The broker looks the entry points up by name; the build hides the rest. */
#define OTA_PLUGIN_EXPORT __attribute__((visibility("default")))

#define CONTROL_TOPIC "$CONTROL/ota/v1"
#define CONTROL_RESPONSE_TOPIC "$CONTROL/ota/v1/response"

/* Event numbers that Mosquitto 2.1 added; 2.0 rejects their registration
 * with MOSQ_ERR_NOT_SUPPORTED. */
#define OTA_EVT_CONNECT 11
#define OTA_EVT_SUBSCRIBE 12

/* A tick should come at least this often; if none has, the broker delivers
 * none (per_listener_settings true before Mosquitto 2.0.15). */
#define TICK_EXPECTED_MS 10000

/* Event data of 2.1's CONNECT and SUBSCRIBE. The client follows the
 * reserved pointer, as in every other event. */
struct client_event {
	void *future;
	struct mosquitto *client;
};

struct plugin {
	mosquitto_plugin_id_t *id;
	struct ota_tracker *tracker;
	struct ota_config config;
	bool have_connect_event;
	bool have_subscribe_event;
	bool acl_registered;
	int64_t started_ms;
	bool tick_seen;
	bool tick_warned;
};

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ===================================================================== */
/* I/O for the tracker                                                   */
/* ===================================================================== */

static int io_publish(void *ctx, const char *topic, const char *payload,
	size_t len, int qos, bool retain)
{
	(void)ctx;
	return mosquitto_broker_publish_copy(NULL, topic, (int)len, payload, qos,
		retain, NULL);
}

static void io_log(void *ctx, enum ota_log_level level, const char *text)
{
	static const int levels[] = {
		[OTA_LOG_DEBUG] = MOSQ_LOG_DEBUG,
		[OTA_LOG_INFO] = MOSQ_LOG_INFO,
		[OTA_LOG_NOTICE] = MOSQ_LOG_NOTICE,
		[OTA_LOG_WARNING] = MOSQ_LOG_WARNING,
		[OTA_LOG_ERR] = MOSQ_LOG_ERR,
	};

	(void)ctx;
	mosquitto_log_printf(levels[level], "%s", text);
}

static struct ota_client client_of(struct mosquitto *client)
{
	struct ota_client c = {
		.client_id = mosquitto_client_id(client),
		.username = mosquitto_client_username(client),
		.connection = client,
	};

	return c;
}

/* ===================================================================== */
/* Callbacks                                                             */
/* ===================================================================== */

static void check_tick(struct plugin *p)
{
	if(p->tick_seen || p->tick_warned
			|| monotonic_ms() - p->started_ms < TICK_EXPECTED_MS){
		return;
	}
	p->tick_warned = true;
	mosquitto_log_printf(MOSQ_LOG_ERR, "ota: no tick event from the broker in %d s:"
		" timeouts, retries, pushes and summaries will not run. Mosquitto before"
		" 2.0.15 sends no tick when per_listener_settings is true; set it to false"
		" or upgrade the broker.", TICK_EXPECTED_MS / 1000);
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct plugin *p = userdata;
	struct ota_client client = client_of(ed->client);

	(void)event;
	check_tick(p);
	switch(ota_tracker_message(p->tracker, &client, ed->topic, ed->payload,
			ed->payloadlen)){
		case OTA_DROP:
			return MOSQ_ERR_ACL_DENIED;
		case OTA_FAIL:
			/* Any error but ACL_DENIED makes the broker close the
			 * connection without acknowledging the message. */
			return MOSQ_ERR_UNKNOWN;
		default:
			return MOSQ_ERR_SUCCESS;
	}
}

static int on_tick(int event, void *event_data, void *userdata)
{
	struct plugin *p = userdata;

	(void)event;
	(void)event_data;
	p->tick_seen = true;
	ota_tracker_tick(p->tracker);
	return MOSQ_ERR_SUCCESS;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct plugin *p = userdata;
	struct ota_client client = client_of(ed->client);

	(void)event;
	ota_tracker_client_gone(p->tracker, &client);
	return MOSQ_ERR_SUCCESS;
}

/* CONNECT and SUBSCRIBE on 2.1: the client is online. */
static int on_client_event(int event, void *event_data, void *userdata)
{
	struct client_event *ed = event_data;
	struct plugin *p = userdata;
	struct ota_client client = client_of(ed->client);

	(void)event;
	ota_tracker_client_seen(p->tracker, &client);
	return MOSQ_ERR_SUCCESS;
}

/* Only with watch_subscribe: a subscribe shows the device is online. The
 * plugin defers every decision, so another ACL source must grant access. */
static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct plugin *p = userdata;
	struct ota_client client = client_of(ed->client);

	(void)event;
	if(ed->access == MOSQ_ACL_SUBSCRIBE){
		ota_tracker_client_seen(p->tracker, &client);
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int on_control(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_control *ed = event_data;
	struct plugin *p = userdata;
	struct ota_client client = client_of(ed->client);
	char *response;

	(void)event;
	response = ota_tracker_control(p->tracker, &client, ed->payload, ed->payloadlen);
	if(!response){
		return MOSQ_ERR_NOMEM;
	}
	/* Only the requesting client gets the response: it may hold device
	 * lists and firmware urls that other subscribers must not see. */
	mosquitto_broker_publish_copy(mosquitto_client_id(ed->client),
		CONTROL_RESPONSE_TOPIC, (int)strlen(response), response, 1, false, NULL);
	free(response);
	return MOSQ_ERR_SUCCESS;
}

/* ===================================================================== */
/* Entry points                                                          */
/* ===================================================================== */

OTA_PLUGIN_EXPORT int mosquitto_plugin_version(int supported_version_count,
	const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5){
			return 5;
		}
	}
	return -1;
}

static bool read_options(struct ota_config *config, struct mosquitto_opt *options,
	int option_count)
{
	char err[256];

	for(int i = 0; i < option_count; i++){
		if(!ota_config_set(config, options[i].key, options[i].value, err, sizeof(err))){
			mosquitto_log_printf(MOSQ_LOG_ERR, "ota: %s", err);
			return false;
		}
	}
	return true;
}

/* Logs, in one line, a database that failed to open and whether its folder
 * exists and is writable. The broker drops from root to the `mosquitto`
 * user before it loads plugins, so root's access proves nothing. */
static void log_open_failure(const struct ota_config *config, const char *cause)
{
	char dir[1024];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", config->db_path);
	slash = strrchr(dir, '/');
	if(slash == dir){
		slash[1] = '\0';
	}else if(slash){
		*slash = '\0';
	}else{
		snprintf(dir, sizeof(dir), ".");
	}
	if(stat(dir, &st) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "ota: cannot open database %s; folder %s"
			" does not exist: create it, give it to the user the broker runs as"
			" (mosquitto when started as root), or set plugin_opt_db_path", cause, dir);
	}else if(access(dir, W_OK | X_OK) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "ota: cannot open database %s; folder %s"
			" is not writable by uid %d, the user the broker runs as (mosquitto when"
			" started as root): give the folder to that user, or set"
			" plugin_opt_db_path", cause, dir, (int)geteuid());
	}else{
		mosquitto_log_printf(MOSQ_LOG_ERR, "ota: cannot open database %s", cause);
	}
}

static void register_events(struct plugin *p)
{
	mosquitto_callback_register(p->id, MOSQ_EVT_MESSAGE, on_message, NULL, p);
	mosquitto_callback_register(p->id, MOSQ_EVT_TICK, on_tick, NULL, p);
	mosquitto_callback_register(p->id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, p);
	mosquitto_callback_register(p->id, MOSQ_EVT_CONTROL, on_control, CONTROL_TOPIC, p);

	/* NOTE: Mosquitto 2.1's CONNECT and SUBSCRIBE events are untested here,
	 * because the tests run on Debian 12's 2.0.11, which refuses them. */
	p->have_connect_event = mosquitto_callback_register(p->id, OTA_EVT_CONNECT,
		on_client_event, NULL, p) == MOSQ_ERR_SUCCESS;
	p->have_subscribe_event = mosquitto_callback_register(p->id, OTA_EVT_SUBSCRIBE,
		on_client_event, NULL, p) == MOSQ_ERR_SUCCESS;
	if(p->config.watch_subscribe && !p->have_subscribe_event){
		p->acl_registered = mosquitto_callback_register(p->id, MOSQ_EVT_ACL_CHECK,
			on_acl_check, NULL, p) == MOSQ_ERR_SUCCESS;
	}
}

OTA_PLUGIN_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier,
	void **userdata, struct mosquitto_opt *options, int option_count)
{
	struct plugin *p = calloc(1, sizeof(*p));
	struct ota_io io = {.publish = io_publish, .log = io_log};
	char err[768];

	if(!p){
		return MOSQ_ERR_NOMEM;
	}
	p->id = identifier;
	ota_config_init(&p->config);
	if(!read_options(&p->config, options, option_count)){
		goto fail;
	}
	p->tracker = ota_tracker_new(&p->config, &io, err, sizeof(err));
	if(!p->tracker){
		log_open_failure(&p->config, err);
		goto fail;
	}
	p->started_ms = monotonic_ms();
	register_events(p);
	mosquitto_log_printf(MOSQ_LOG_INFO, "ota: tracking OTA upgrades in %s"
		" (durability %s, locking %s, cache_kib %d, row_cache %d, device_identity %s,"
		" connect events %s)",
		p->config.db_path, ota_durability_name(p->config.durability),
		p->config.exclusive_lock ? "exclusive" : "normal", p->config.cache_kib,
		p->config.row_cache, ota_identity_name(p->config.identity),
		p->have_connect_event ? "yes" : "no, online means seen publishing");
	*userdata = p;
	return MOSQ_ERR_SUCCESS;

fail:
	ota_config_free(&p->config);
	free(p);
	return MOSQ_ERR_UNKNOWN;
}

OTA_PLUGIN_EXPORT int mosquitto_plugin_cleanup(void *userdata,
	struct mosquitto_opt *options, int option_count)
{
	struct plugin *p = userdata;

	(void)options;
	(void)option_count;
	if(!p){
		return MOSQ_ERR_SUCCESS;
	}
	mosquitto_callback_unregister(p->id, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(p->id, MOSQ_EVT_TICK, on_tick, NULL);
	mosquitto_callback_unregister(p->id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
	mosquitto_callback_unregister(p->id, MOSQ_EVT_CONTROL, on_control, CONTROL_TOPIC);
	if(p->have_connect_event){
		mosquitto_callback_unregister(p->id, OTA_EVT_CONNECT, on_client_event, NULL);
	}
	if(p->have_subscribe_event){
		mosquitto_callback_unregister(p->id, OTA_EVT_SUBSCRIBE, on_client_event, NULL);
	}
	if(p->acl_registered){
		mosquitto_callback_unregister(p->id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	}
	ota_tracker_free(p->tracker);
	ota_config_free(&p->config);
	free(p);
	return MOSQ_ERR_SUCCESS;
}
