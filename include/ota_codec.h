/*
 * JSON codec for FastBee OTA messages, built on cJSON: parses device replies
 * and backend `set` messages into fixed-size structs, formats the status,
 * summary and push payloads, and compares versions the way FastBee does.
 */
#ifndef OTA_CODEC_H
#define OTA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ota_protocol.h"

/* Room for the value that explains a decline, as logged. */
#define OTA_DETAIL_MAX 160

/* A device's `reply` payload after validation. */
struct ota_reply {
	int64_t task_id;
	int status;   /* 2, 3 or 4 */
	int progress; /* 0..100, or -1 when the key is absent */
	bool has_version;
	/* Reported version as JSON text: `"1.2"` for a string, `1.2` for a number. */
	char version[OTA_VERSION_MAX + 3];
	bool has_message;
	char message[OTA_MESSAGE_MAX + 1]; /* the device's `msg` or `message` */
};

/* A backend's `set` payload after validation. */
struct ota_set {
	int64_t task_id;
	char url[OTA_URL_MAX + 1];
	/* Target version as JSON text, kept as the operator wrote its type. */
	char version[OTA_VERSION_MAX + 3];
};

/*
 * Parses a reply payload of `len` bytes. Returns OTA_DECLINE_NONE and fills
 * `out`, or returns the decline reason and writes the offending value and
 * the rule it broke into `detail` (for example "progress 140: must be a
 * whole number 0..100").
 */
enum ota_decline ota_codec_parse_reply(const void *payload, size_t len,
	struct ota_reply *out, char *detail, size_t detail_size);

/* Parses a `set` payload; same contract as ota_codec_parse_reply. */
enum ota_decline ota_codec_parse_set(const void *payload, size_t len,
	struct ota_set *out, char *detail, size_t detail_size);

/*
 * Formats a dashboard status event with keys in FastBee's order:
 * serialNumber, status, timestamp, then progress (status 2 only) and
 * message (when not NULL). Returns a string from malloc, or NULL when out of
 * memory.
 */
char *ota_codec_format_status(const char *serial, int status,
	int64_t timestamp_ms, int progress, const char *message);

/*
 * Formats a `set` push: taskId, url, version, status 1, then the members of
 * `extra_json` (a JSON object, or NULL). Returns a string from malloc, or
 * NULL when out of memory or when `version_json` or `extra_json` is not
 * valid JSON.
 */
char *ota_codec_format_set(int64_t task_id, const char *url,
	const char *version_json, const char *extra_json);

/*
 * Returns true when two versions given as JSON text are the same version:
 * as numbers when both are numeric (a JSON number, or a string of an
 * optional '-', digits and an optional fraction), else as exact text.
 */
bool ota_version_equal(const char *a_json, const char *b_json);

/*
 * Writes the plain text of a version given as JSON text (`"1.2.3"` becomes
 * `1.2.3`, `1.2` stays `1.2`) into `out`. Returns false when it does not fit.
 */
bool ota_version_text(const char *version_json, char *out, size_t out_size);

/* Returns true when `s` is 1..64 bytes of valid UTF-8 without '/', '+', '#'
 * or control characters. */
bool ota_serial_valid(const char *s);

/* Returns the levels of arrays and objects in a parsed cJSON value. */
struct cJSON;
int ota_json_depth(const struct cJSON *item);

/* Parses `len` bytes as exactly one JSON value with only white space
 * after it. Returns NULL on failure. */
struct cJSON *ota_json_parse_payload(const void *payload, size_t len);

/* Parses `text` as exactly one JSON value; trailing text fails. Returns
 * NULL on failure. */
struct cJSON *ota_json_parse_exact(const char *text);

/* Bytes ota_int_text() writes at most, the terminating NUL included. */
#define OTA_INT_TEXT_MAX 21

/* Writes `value` in decimal and a NUL into `out`; returns its length. */
size_t ota_int_text(char *out, int64_t value);

/* Adds an integer member printed exactly, even beyond 15 digits. Returns
 * the new item, or NULL when out of memory. */
struct cJSON *ota_json_add_int(struct cJSON *object, const char *key, int64_t value);

/* Returns true when the `len` bytes at `s` are valid UTF-8. */
bool ota_utf8_valid(const char *s, size_t len);

#endif
