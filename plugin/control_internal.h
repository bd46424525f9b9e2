/* Admin command handlers, one per command of $CONTROL/ota/v1. */
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

void ota__cmd_get_stats(struct ota_tracker *t, const cJSON *request,
	struct ota_reply_builder *out);

#endif
