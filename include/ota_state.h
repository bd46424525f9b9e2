/*
 * The per-device upgrade state machine: one pure function from a row and an
 * event to the next row and the status events to publish. It reads no
 * clock and touches no storage, so every row of the transition table is
 * unit-tested directly, and every caller (replies, observed `set`
 * messages, pushes, timeouts, cancel) goes through the same table.
 */
#ifndef OTA_STATE_H
#define OTA_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ota_protocol.h"

/* The mutable part of one (task, device) row. */
struct ota_row {
	int status;    /* enum ota_status; OTA_NONE before the row exists */
	int progress;  /* 0..100 within the current attempt */
	int reason;    /* enum ota_reason for STOP, FAILED and SUCCESS */
	int attempts;  /* pushes since creation or the last retryTask */
	bool announced; /* status 0 was published for this row */
};

enum ota_event_kind {
	OTA_EV_SET_OBSERVED,   /* a backend published `set` for the device */
	OTA_EV_PUSH_ONLINE,    /* the push gate opened and the device is online */
	OTA_EV_PUSH_OFFLINE,   /* the push gate opened but the device is offline */
	OTA_EV_AT_TARGET,      /* task created, device already runs the target */
	OTA_EV_REPLY_PROGRESS, /* reply status 2 */
	OTA_EV_REPLY_SUCCESS,  /* reply status 3 */
	OTA_EV_REPLY_FAILED,   /* reply status 4 */
	OTA_EV_TIMEOUT,        /* no accepted reply within timeoutSeconds */
	OTA_EV_CANCEL,
	OTA_EV_ABORT,
	OTA_EV_EXPIRE,
	OTA_EV_RETRY_TASK,     /* an operator's retryTask selected the row */
};

struct ota_event {
	enum ota_event_kind kind;
	int progress;        /* REPLY_PROGRESS: 0..100, or -1 to keep the last */
	bool version_matches; /* REPLY_SUCCESS: no version, or the target's */
	int max_retries;     /* the task's maxRetries, for FAILED rows */
};

/* One status event to publish on the task's status topic. */
struct ota_emit {
	int status;
	int progress; /* with status 2 only, else -1 */
	int reason;   /* enum ota_reason; OTA_REASON_NONE for no message */
};

struct ota_outcome {
	bool changed;        /* false: the event is declined */
	enum ota_decline decline; /* why, when not changed */
	struct ota_row next;
	int emit_count;
	struct ota_emit emits[2];
	bool new_attempt;    /* a push or `set`: restart the timeout */
};

/*
 * Applies `event` to `row`. Returns the outcome: the next row and up to two
 * status events, or `changed == false` with the decline reason
 * (OTA_DECLINE_DUPLICATE, OTA_DECLINE_STALE or OTA_DECLINE_ILLEGAL).
 */
struct ota_outcome ota_state_apply(const struct ota_row *row,
	const struct ota_event *event);

/* Returns true for rows that still take part in the task's rollout. */
bool ota_state_is_active(const struct ota_row *row);

/* Returns true for a FAILED row that still has automatic retries left. */
bool ota_state_retry_pending(const struct ota_row *row, int max_retries);

/* Returns the text for an event's `message` key, or NULL for none. */
const char *ota_reason_message(int reason);

#endif
