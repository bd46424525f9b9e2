/*
 * Private header of the tracker: its struct and the functions its files
 * share. Cross-file functions are named ota__verb_object.
 */
#ifndef OTA_TRACKER_INTERNAL_H
#define OTA_TRACKER_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ota_codec.h"
#include "ota_config.h"
#include "ota_state.h"
#include "ota_store.h"
#include "ota_tracker.h"

enum ota_topic_kind {
	OTA_TOPIC_OTHER,
	OTA_TOPIC_SET,
	OTA_TOPIC_REPLY,
	OTA_TOPIC_STATUS,  /* only the plugin may publish here */
	OTA_TOPIC_SUMMARY, /* likewise */
};

struct ota_topic {
	enum ota_topic_kind kind;
	bool leading_slash;
	char id[OTA_SERIAL_MAX + 1]; /* serial number, or task id text */
	bool id_valid;               /* id is a valid serial number */
};

/* A message waiting for the transaction that caused it to commit. */
struct ota_outbox_msg {
	char *topic;
	char *payload;
	size_t len;
	int qos;
	bool retain;
};

struct ota_log_slot {
	uint64_t key;
	int64_t window_start_ms;
	int count;
};

#define OTA_LOG_SLOTS 256

struct ota_online_entry {
	char *serial;          /* NULL: empty slot */
	const void *connection;
	bool tombstone;        /* slot was used: keep probing past it */
};

struct ota_online {
	struct ota_online_entry *slots;
	size_t capacity;       /* power of two */
	size_t used;           /* live entries plus tombstones */
	size_t live;
};

/* A task the tracker has touched in this run; see registry.c. */
struct ota_task_entry {
	int64_t id;            /* 0: empty slot */
	struct ota_task task;  /* settings as stored, without `extra` */
	int state;             /* enum ota_task_state */
	bool leading_slash;
	bool from_api;
	int max_concurrent;
	int abort_failure_percent;
	int abort_min_finished;
	int64_t start_at;
	int64_t end_at;
	struct ota_task_counts counts;
	bool counts_valid;
	bool dirty;            /* a summary is due */
	int64_t summary_at;    /* when the last summary went out */
	bool gate_pending;     /* AWAIT rows may wait for a push */
	int sweep_reason;      /* rows still to stop: OTA_REASON_CANCELLED, ... */
	char sweep_after[OTA_SERIAL_MAX + 1]; /* the sweep's position */
	bool in_attention;
	bool deleted;          /* removed by retention */
};

struct ota_registry {
	struct ota_task_entry *slots;
	size_t capacity;
	size_t count;
	int64_t *attention;    /* ids of tasks the tick must look at */
	size_t attention_len;
	size_t attention_cap;
};

/* Serial numbers that came online and may have rows waiting for them. */
struct ota_wake_list {
	char (*serials)[OTA_SERIAL_MAX + 1];
	size_t len;
	size_t cap;
};

struct ota_tracker {
	struct ota_config config;
	struct ota_io io;
	struct ota_store *store;
	int64_t last_ms;       /* the clock never goes back within a run */

	uint64_t accepted;
	uint64_t declined[OTA_DECLINE_COUNT];
	struct ota_log_slot log_slots[OTA_LOG_SLOTS];

	struct ota_outbox_msg *outbox;
	size_t outbox_len;
	size_t outbox_cap;
	int64_t batch_started_ms; /* 0: no batched transaction open */
	/* No row is due before this; may be early, never late. */
	int64_t next_due_ms;

	struct ota_online online;
	struct ota_registry registry;
	struct ota_wake_list wake;
	bool started;          /* every task is in the registry */
	int64_t *start_ids;    /* tasks still to load after a start */
	size_t start_count;
	size_t start_next;
	int64_t retention_at;  /* next retention run */
};

/* tracker.c */
int64_t ota__now(struct ota_tracker *t);
void ota__log(struct ota_tracker *t, enum ota_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ota__decline(struct ota_tracker *t, const struct ota_client *client,
	const char *topic, enum ota_decline reason, const char *detail);
/* Declines a reply or `set` whose topic names no valid serial number or
 * whose payload exceeds reply_max_bytes. Returns true when it may go on. */
bool ota__check_payload(struct ota_tracker *t, const struct ota_client *client,
	const char *topic, const struct ota_topic *parsed, size_t len);
int ota__queue(struct ota_tracker *t, const char *topic, const char *payload,
	int qos, bool retain);
int ota__tx_begin(struct ota_tracker *t);
int ota__tx_end(struct ota_tracker *t, bool ok);

/* topic.c */
void ota__parse_topic(const char *topic, struct ota_topic *out);
void ota__status_topic(char *out, size_t size, bool leading_slash, int64_t task_id);
void ota__summary_topic(char *out, size_t size, bool leading_slash, int64_t task_id);
void ota__set_topic(char *out, size_t size, bool leading_slash, const char *serial);

/* identity.c */
bool ota__identity_matches(enum ota_identity mode, const char *serial,
	const char *client_id, const char *username);
/* Writes the serial number a FastBee client id {type}&{serial}&... names. */
bool ota__fastbee_serial(const char *client_id, char *out, size_t size);

/* apply.c */
struct ota_apply_context {
	const char *device_message;   /* the device's own failure text */
	const char *reported_version; /* JSON text, for a version mismatch */
};
/* Applies `event` to `row` and, when it changes, stores the row and its
 * history and queues the status events. Returns 1 when changed, 0 when
 * declined (with the reason in `decline`), OTA_STORE_ERROR on store errors. */
int ota__apply(struct ota_tracker *t, const struct ota_task *task,
	struct ota_device_row *row, const struct ota_event *event,
	const struct ota_apply_context *context, enum ota_decline *decline);

/* Stores a row changed outside the state machine (a deadline moved) and
 * keeps the task's counts in step. */
int ota__row_store(struct ota_tracker *t, const struct ota_task *task,
	const struct ota_device_row *before, const struct ota_device_row *row);

/* reply.c, observe.c */
enum ota_verdict ota__handle_reply(struct ota_tracker *t,
	const struct ota_client *client, const char *topic,
	const struct ota_topic *parsed, const void *payload, size_t len);
enum ota_verdict ota__handle_set(struct ota_tracker *t,
	const struct ota_client *client, const char *topic,
	const struct ota_topic *parsed, const void *payload, size_t len);

/* online.c */
void ota__online_init(struct ota_online *online);
void ota__online_free(struct ota_online *online);
/* Marks `serial` online on `connection`. Returns true when it was not. */
bool ota__online_set(struct ota_online *online, const char *serial,
	const void *connection);
/* Marks `serial` offline if `connection` is still its current one. */
void ota__online_clear(struct ota_online *online, const char *serial,
	const void *connection);
bool ota__online_has(const struct ota_online *online, const char *serial);

/* registry.c */
void ota__registry_free(struct ota_registry *r);
struct ota_task_entry *ota__registry_find(struct ota_registry *r, int64_t id);
/* Returns the task's entry, creating it with counts from the store. The
 * pointer is valid until the next entry is created. */
struct ota_task_entry *ota__registry_get(struct ota_tracker *t, const struct ota_task *task);
struct ota_task_entry *ota__registry_get_id(struct ota_tracker *t, int64_t id);
/* Reads the task's settings from its entry (state as now, no `extra`).
 * Returns false when the task has no valid entry. */
bool ota__registry_task(struct ota_tracker *t, int64_t id, struct ota_task *out);
int ota__registry_load_counts(struct ota_tracker *t, struct ota_task_entry *e);
void ota__registry_attend(struct ota_registry *r, struct ota_task_entry *e);
/* Moves a row from the counter of `before` to that of `after`. */
void ota__registry_count(struct ota_registry *r, struct ota_task_entry *e,
	const struct ota_device_row *before, const struct ota_device_row *after);
/* Marks every entry's counts for reloading, after a rollback. */
void ota__registry_invalidate(struct ota_registry *r);
int64_t ota__counts_in_flight(const struct ota_task_counts *c);
bool ota__counts_all_final(const struct ota_task_counts *c);

/* rollout.c */
/* Pushes `row` to its device if the task's gate is open: queues status
 * events and the `set` message. Returns 1 when pushed or stopped offline,
 * 0 when the gate is closed, OTA_STORE_ERROR on errors. */
int ota__push(struct ota_tracker *t, const struct ota_task *task,
	struct ota_device_row *row);
int ota__task_set_state(struct ota_tracker *t, struct ota_task_entry *e, int state);
void ota__tick_tasks(struct ota_tracker *t, int64_t now);
void ota__tick_wake(struct ota_tracker *t);
void ota__wake_add(struct ota_tracker *t, const char *serial);
void ota__wake_free(struct ota_wake_list *wake);
/* Adds a task's per-status counts to a JSON object. */
void ota__json_add_counts(struct cJSON *object, const struct ota_task_counts *counts);
/* Builds the retained summary of a task. Returns JSON text from malloc. */
char *ota__summary_json(struct ota_tracker *t, const struct ota_task *task,
	const struct ota_task_entry *e);

/* retention.c */
/* Returns true, with the reason in `detail`, when max_tasks is reached. */
bool ota__task_limit_reached(struct ota_tracker *t, char *detail, size_t size);
void ota__tick_retention(struct ota_tracker *t, int64_t now);

/* tick.c */
void ota__tick_deadlines(struct ota_tracker *t, int64_t now);
void ota__reload_next_due(struct ota_tracker *t);

#endif
