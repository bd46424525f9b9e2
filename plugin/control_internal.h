/*
 * Admin command handlers, one per command of $CONTROL/ota/v1, and the
 * helpers that read request fields with precise errors.
 */
#ifndef OTA_CONTROL_INTERNAL_H
#define OTA_CONTROL_INTERNAL_H

#include <cjson/cJSON.h>

#include "tracker_internal.h"

/* A handler fills `data` or writes `error`; a non-empty error wins. */
struct ota_reply_builder {
	cJSON *data;
	char error[256];
};

struct ota_command {
	const char *name;
	void (*handler)(struct ota_tracker *t, const cJSON *request,
		struct ota_reply_builder *out);
};

/* Writes a formatted error into `out`; returns false for `return fail(...)`. */
bool ota__cmd_fail(struct ota_reply_builder *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Reads the whole number `key` in [min, max]. Returns false with an error
 * when it is present but invalid, or missing while `required`; leaves
 * `*value` unchanged when it is absent and optional.
 */
bool ota__cmd_int(const cJSON *request, const char *key, int64_t min, int64_t max,
	bool required, int64_t *value, struct ota_reply_builder *out);

/* Reads the task id `taskId` and loads the task. */
bool ota__cmd_task(struct ota_tracker *t, const cJSON *request,
	struct ota_task *task, struct ota_reply_builder *out);

void ota__cmd_create_task(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out);
void ota__cmd_cancel_task(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out);
void ota__cmd_retry_task(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out);
void ota__cmd_get_task(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out);
void ota__cmd_list_tasks(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out);
void ota__cmd_get_device(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out);
void ota__cmd_get_stats(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out);

#endif
