/*
 * Topic names. Every OTA topic has four levels, `{id}/http/upgrade/set`
 * and the like, or five with an empty first level in FastBee's form
 * `/{id}/http/upgrade/set`.
 */
#include "tracker_internal.h"

#include <stdio.h>
#include <string.h>

struct topic_shape {
	const char *tail; /* the levels after the id */
	enum ota_topic_kind kind;
};

static const struct topic_shape shapes[] = {
	{"/http/upgrade/reply", OTA_TOPIC_REPLY},
	{"/http/upgrade/set", OTA_TOPIC_SET},
	{"/ws/ota/status", OTA_TOPIC_STATUS},
	{"/ws/ota/summary", OTA_TOPIC_SUMMARY},
};

void ota__parse_topic(const char *topic, struct ota_topic *out)
{
	const char *id = topic;
	const char *slash;
	size_t id_len;

	memset(out, 0, sizeof(*out));
	out->kind = OTA_TOPIC_OTHER;
	if(*id == '/'){
		out->leading_slash = true;
		id++;
	}
	slash = strchr(id, '/');
	if(!slash || slash == id){
		return;
	}
	id_len = (size_t)(slash - id);
	for(size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++){
		if(strcmp(slash, shapes[i].tail) == 0){
			out->kind = shapes[i].kind;
			break;
		}
	}
	if(out->kind == OTA_TOPIC_OTHER){
		return;
	}
	if(id_len <= OTA_SERIAL_MAX){
		memcpy(out->id, id, id_len);
		out->id[id_len] = '\0';
		out->id_valid = ota_serial_valid(out->id);
	}
}

#define TASK_TOPIC_TAIL_MAX sizeof("/ws/ota/summary")

/* Writes `{taskId}{tail}` or `/{taskId}{tail}`, cut to `size`. The tail is
 * one of the two below. */
static void task_topic(char *out, size_t size, bool leading_slash, int64_t task_id,
	const char *tail)
{
	char text[1 + OTA_INT_TEXT_MAX + TASK_TOPIC_TAIL_MAX];
	size_t len = 0;

	if(leading_slash){
		text[len++] = '/';
	}
	len += ota_int_text(text + len, task_id);
	memcpy(text + len, tail, strlen(tail));
	len += strlen(tail);
	if(len >= size){
		len = size - 1;
	}
	memcpy(out, text, len);
	out[len] = '\0';
}

void ota__status_topic(char *out, size_t size, bool leading_slash, int64_t task_id)
{
	task_topic(out, size, leading_slash, task_id, "/ws/ota/status");
}

void ota__summary_topic(char *out, size_t size, bool leading_slash, int64_t task_id)
{
	task_topic(out, size, leading_slash, task_id, "/ws/ota/summary");
}

void ota__set_topic(char *out, size_t size, bool leading_slash, const char *serial)
{
	snprintf(out, size, "%s%s/http/upgrade/set", leading_slash ? "/" : "", serial);
}
