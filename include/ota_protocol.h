/*
 * FastBee OTA protocol constants shared by every module: device status
 * codes, the reasons a row stopped or failed, limits on field sizes, and the
 * stable reason codes under which declined messages are counted.
 *
 * Nothing here depends on Mosquitto, so unit tests, the command-line tool and
 * the benchmarks include it as they are.
 */
#ifndef OTA_PROTOCOL_H
#define OTA_PROTOCOL_H

#include <stdint.h>

/* Device status codes as FastBee numbers them on the wire. */
enum ota_status {
	OTA_NONE = -1, /* no row yet: only the state machine uses it */
	OTA_AWAIT = 0,
	OTA_SEND = 1,
	OTA_REPLY = 2,
	OTA_SUCCESS = 3,
	OTA_FAILED = 4,
	OTA_STOP = 5,
	OTA_UNKNOWN = 404,
};

/* The reason a row is in STOP, FAILED or SUCCESS, stored with the row. */
enum ota_reason {
	OTA_REASON_NONE = 0,
	OTA_REASON_OFFLINE = 1,
	OTA_REASON_CANCELLED = 2,
	OTA_REASON_ABORTED = 3,
	OTA_REASON_EXPIRED = 4,
	OTA_REASON_TIMED_OUT = 5,
	OTA_REASON_DEVICE = 6,           /* device reported status 4 */
	OTA_REASON_VERSION_MISMATCH = 7, /* status 3 with another version */
	OTA_REASON_AT_TARGET = 8,        /* already at target version */
};

/* Limits on what devices and operators may send. */
#define OTA_SERIAL_MAX 64        /* bytes of a serial number */
#define OTA_VERSION_MAX 64       /* bytes of a version string */
#define OTA_URL_MAX 1024         /* bytes of a firmware url */
#define OTA_MESSAGE_MAX 256      /* bytes of a device's failure text */
#define OTA_NAME_MAX 128         /* bytes of a task name */
#define OTA_TASK_ID_MAX 9007199254740991LL /* 2^53 - 1, exact in a double */
#define OTA_JSON_DEPTH_MAX 8     /* nesting of a reply or set payload */

/*
 * Stable short codes for every way a message can be declined. They key the
 * counters that getStats returns, so existing codes never change meaning.
 */
enum ota_decline {
	OTA_DECLINE_NONE = 0,
	OTA_DECLINE_TOO_LARGE,
	OTA_DECLINE_BAD_JSON,
	OTA_DECLINE_NOT_OBJECT,
	OTA_DECLINE_TOO_DEEP,
	OTA_DECLINE_BAD_UTF8,
	OTA_DECLINE_BAD_STATUS,
	OTA_DECLINE_BAD_PROGRESS,
	OTA_DECLINE_BAD_TASK_ID,
	OTA_DECLINE_BAD_VERSION,
	OTA_DECLINE_BAD_MESSAGE,
	OTA_DECLINE_BAD_URL,
	OTA_DECLINE_BAD_SERIAL,
	OTA_DECLINE_UNKNOWN_TASK,
	OTA_DECLINE_NOT_THIS_DEVICE,
	OTA_DECLINE_DUPLICATE,
	OTA_DECLINE_STALE,
	OTA_DECLINE_ILLEGAL,
	OTA_DECLINE_CONFLICT,
	OTA_DECLINE_NOT_BACKEND,
	OTA_DECLINE_IDENTITY,
	OTA_DECLINE_RESERVED_TOPIC,
	OTA_DECLINE_STORE,
	OTA_DECLINE_TASK_LIMIT,
	OTA_DECLINE_COUNT
};

/* Returns the stable code of a decline reason, such as "bad_progress". */
const char *ota_decline_code(enum ota_decline reason);

/* Returns FastBee's English name of a status code, such as "REPLY". */
const char *ota_status_name(int status);

#endif
