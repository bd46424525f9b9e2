/*
 * A broker plugin for the benchmarks only, never for a deployment. For
 * each reply it publishes the status message the OTA plugin derives, and
 * for each `set` the two announcements (status 0 and 1). It checks,
 * tracks and stores nothing.
 *
 * A broker with it carries the same messages as one with the OTA plugin,
 * so it measures what the protocol's messages alone cost the broker: a
 * floor that no tracking plugin can beat. Fields are found by scanning
 * for their keys, which suits the generator's fixed payloads only.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RELAY_EXPORT __attribute__((visibility("default")))
#define PAYLOAD_MAX 512

static mosquitto_plugin_id_t *plugin_id;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the integer after `"key":` in `json`. Returns false when the key
 * is missing. */
static bool read_int(const char *json, const char *key, long long *out)
{
	char pattern[32];
	const char *at;

	snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	at = strstr(json, pattern);
	if(!at){
		return false;
	}
	*out = strtoll(at + strlen(pattern), NULL, 10);
	return true;
}

static void publish_status(bool leading_slash, long long task_id, const char *serial,
	size_t serial_len, long long status, long long progress)
{
	char topic[64];
	char payload[256];
	int len;

	snprintf(topic, sizeof(topic), "%s%lld/ws/ota/status", leading_slash ? "/" : "", task_id);
	if(progress >= 0){
		len = snprintf(payload, sizeof(payload),
			"{\"serialNumber\":\"%.*s\",\"status\":%lld,\"timestamp\":%" PRId64
			",\"progress\":%lld}", (int)serial_len, serial, status, now_ms(), progress);
	}else{
		len = snprintf(payload, sizeof(payload),
			"{\"serialNumber\":\"%.*s\",\"status\":%lld,\"timestamp\":%" PRId64 "}",
			(int)serial_len, serial, status, now_ms());
	}
	mosquitto_broker_publish_copy(NULL, topic, len, payload, 0, false, NULL);
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	const char *topic = ed->topic;
	bool leading_slash = topic[0] == '/';
	const char *serial = topic + leading_slash;
	const char *slash = strchr(serial, '/');
	char json[PAYLOAD_MAX];
	long long task_id;
	long long status;
	long long progress = -1;

	(void)event;
	(void)userdata;
	if(!slash || ed->payloadlen >= PAYLOAD_MAX){
		return MOSQ_ERR_SUCCESS;
	}
	memcpy(json, ed->payload, ed->payloadlen);
	json[ed->payloadlen] = '\0';
	if(!read_int(json, "taskId", &task_id)){
		return MOSQ_ERR_SUCCESS;
	}
	if(strcmp(slash, "/http/upgrade/set") == 0){
		publish_status(leading_slash, task_id, serial, (size_t)(slash - serial), 0, -1);
		publish_status(leading_slash, task_id, serial, (size_t)(slash - serial), 1, -1);
	}else if(strcmp(slash, "/http/upgrade/reply") == 0 && read_int(json, "status", &status)){
		if(status == 2 && !read_int(json, "progress", &progress)){
			progress = -1;
		}
		publish_status(leading_slash, task_id, serial, (size_t)(slash - serial), status,
			status == 2 ? progress : -1);
	}
	return MOSQ_ERR_SUCCESS;
}

RELAY_EXPORT int mosquitto_plugin_version(int supported_version_count,
	const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5){
			return 5;
		}
	}
	return -1;
}

RELAY_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier,
	void **userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	plugin_id = identifier;
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL, NULL);
}

RELAY_EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
	int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	return mosquitto_callback_unregister(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL);
}
