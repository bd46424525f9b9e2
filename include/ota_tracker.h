/*
 * The OTA tracker: everything the plugin does, without Mosquitto types.
 * The broker glue turns broker events into the calls below and passes the
 * tracker an I/O table through which it publishes and logs. The external
 * tracker of the benchmarks and the tests link the same code.
 *
 * The tracker is single-threaded: every call must come from the thread
 * that created it (in the broker, the event-loop thread).
 */
#ifndef OTA_TRACKER_H
#define OTA_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ota_config.h"

/* The broker's action on a client's message. */
enum ota_verdict {
	OTA_PASS = 0, /* deliver it as it is */
	OTA_DROP = 1, /* drop it: MOSQ_ERR_ACL_DENIED */
	OTA_FAIL = 2, /* could not be committed: close the connection unacknowledged */
};

enum ota_log_level {
	OTA_LOG_DEBUG,
	OTA_LOG_INFO,
	OTA_LOG_NOTICE,
	OTA_LOG_WARNING,
	OTA_LOG_ERR,
};

struct ota_io {
	/* Publishes a message; the tracker keeps ownership of every argument. */
	int (*publish)(void *ctx, const char *topic, const char *payload,
		size_t len, int qos, bool retain);
	void (*log)(void *ctx, enum ota_log_level level, const char *text);
	/* Milliseconds since the Unix epoch; NULL reads CLOCK_REALTIME. */
	int64_t (*clock_ms)(void *ctx);
	void *ctx;
};

/* The publishing or connecting client, as the broker identifies it. */
struct ota_client {
	const char *client_id;
	const char *username;      /* NULL when none */
	const void *connection;    /* identifies one connection of the client */
};

struct ota_tracker;

/* Opens the store and prepares the tracker. On failure returns NULL with
 * the cause, naming the database path, in `err`. */
struct ota_tracker *ota_tracker_new(const struct ota_config *config,
	const struct ota_io *io, char *err, size_t err_size);
void ota_tracker_free(struct ota_tracker *tracker);

/* Handles a client's PUBLISH. Topics that are not the tracker's pass. */
enum ota_verdict ota_tracker_message(struct ota_tracker *tracker,
	const struct ota_client *client, const char *topic,
	const void *payload, size_t len);

/* Handles a PUBLISH on the admin topic. Returns the response payload, from
 * malloc, to publish on the response topic, or NULL when out of memory. */
char *ota_tracker_control(struct ota_tracker *tracker,
	const struct ota_client *client, const void *payload, size_t len);

/* Notes that a client connected, subscribed or published: it is online. */
void ota_tracker_client_seen(struct ota_tracker *tracker,
	const struct ota_client *client);
/* Notes that one connection of a client ended. */
void ota_tracker_client_gone(struct ota_tracker *tracker,
	const struct ota_client *client);

/* Runs timeouts, retries, pushes, summaries and batched commits that are
 * due. Cheap when nothing is due. */
void ota_tracker_tick(struct ota_tracker *tracker);

/* Returns true once every stored task is loaded, which the first ticks
 * after a start do a few tasks at a time. */
bool ota_tracker_started(const struct ota_tracker *tracker);

/* Commits any batched transitions; called before the broker stops. */
void ota_tracker_flush(struct ota_tracker *tracker);

#endif
