/*
 * Unit tests of the JSON codec. They cover every reply and `set` variant
 * that devices and FastBee's backend send in the field, and every decline
 * with its reason code. They also pin the exact text of status and `set`
 * payloads, version comparison, serial numbers and UTF-8 validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ota_codec.h"

#include "check.h"

/* Builds `prefix`, `count` copies of `fill`, then `suffix`, in `out`. */
static void build_payload(char *out, size_t size, const char *prefix, char fill,
	size_t count, const char *suffix)
{
	size_t len = strlen(prefix);

	assert_true(len + count + strlen(suffix) < size);
	memcpy(out, prefix, len);
	memset(out + len, fill, count);
	snprintf(out + len + count, size - len - count, "%s", suffix);
}

/* ===================================================================== */
/* ota_codec_parse_reply: accepted variants                              */
/* ===================================================================== */

struct reply_case {
	const char *name;
	const char *payload;
	int64_t task_id;
	int status;
	int progress;
	const char *version; /* JSON text, or NULL when absent */
	const char *message; /* NULL when absent */
};

static const struct reply_case accepted_replies[] = {
	{"trace reply", "{\"taskId\":26,\"progress\":50,\"version\":\"1.2\",\"status\":2}",
		26, 2, 50, "\"1.2\"", NULL},
	{"taskId as numeric string", "{\"taskId\":\"26\",\"progress\":5,\"status\":2}",
		26, 2, 5, NULL, NULL},
	{"taskId as whole float", "{\"taskId\":26.0,\"progress\":5,\"status\":2}",
		26, 2, 5, NULL, NULL},
	{"taskId 2^53 - 1", "{\"taskId\":9007199254740991,\"status\":3}",
		9007199254740991LL, 3, -1, NULL, NULL},
	{"status as numeric string", "{\"taskId\":26,\"status\":\"3\"}",
		26, 3, -1, NULL, NULL},
	{"version as number", "{\"taskId\":26,\"status\":3,\"version\":1.2}",
		26, 3, -1, "1.2", NULL},
	{"version as dotted string", "{\"taskId\":26,\"status\":3,\"version\":\"1.2.3\"}",
		26, 3, -1, "\"1.2.3\"", NULL},
	{"progress as int", "{\"taskId\":26,\"status\":2,\"progress\":50}",
		26, 2, 50, NULL, NULL},
	{"progress as string", "{\"taskId\":26,\"status\":2,\"progress\":\"50\"}",
		26, 2, 50, NULL, NULL},
	{"progress as float", "{\"taskId\":26,\"status\":2,\"progress\":50.0}",
		26, 2, 50, NULL, NULL},
	{"progress as float string", "{\"taskId\":26,\"status\":2,\"progress\":\"50.0\"}",
		26, 2, 50, NULL, NULL},
	{"progress 0", "{\"taskId\":26,\"status\":2,\"progress\":0}",
		26, 2, 0, NULL, NULL},
	{"progress 100", "{\"taskId\":26,\"status\":2,\"progress\":100}",
		26, 2, 100, NULL, NULL},
	{"progress absent with status 2", "{\"taskId\":26,\"status\":2}",
		26, 2, -1, NULL, NULL},
	{"progress absent with status 4", "{\"taskId\":26,\"status\":4}",
		26, 4, -1, NULL, NULL},
	{"msg key", "{\"taskId\":26,\"status\":4,\"msg\":\"flash write failed\"}",
		26, 4, -1, NULL, "flash write failed"},
	{"message key", "{\"taskId\":26,\"status\":4,\"message\":\"checksum mismatch\"}",
		26, 4, -1, NULL, "checksum mismatch"},
	{"UTF-8 message", "{\"taskId\":26,\"status\":4,\"msg\":\"\xe5\x9b\xba\xe4\xbb\xb6\"}",
		26, 4, -1, NULL, "\xe5\x9b\xba\xe4\xbb\xb6"},
	{"unknown keys ignored",
		"{\"taskId\":26,\"status\":2,\"progress\":70,\"rssi\":-67,"
		"\"extra\":{\"a\":[1,2]},\"note\":null}",
		26, 2, 70, NULL, NULL},
	{"nesting of 8 levels",
		"{\"taskId\":26,\"status\":2,\"progress\":1,\"x\":"
		"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}",
		26, 2, 1, NULL, NULL},
};

static void check_accepted_reply(const struct reply_case *c, const char *payload,
	size_t len)
{
	struct ota_reply reply;
	char detail[OTA_DETAIL_MAX] = "";
	enum ota_decline rc = ota_codec_parse_reply(payload, len, &reply, detail,
		sizeof(detail));

	CHECK(rc == OTA_DECLINE_NONE,
		"%s: declined as %s (%s)", c->name, ota_decline_code(rc), detail);
	CHECK(reply.task_id == c->task_id, "%s: taskId %" PRId64 ", expected %" PRId64,
		c->name, reply.task_id, c->task_id);
	CHECK(reply.status == c->status,
		"%s: status %d, expected %d", c->name, reply.status, c->status);
	CHECK(reply.progress == c->progress,
		"%s: progress %d, expected %d", c->name, reply.progress, c->progress);
	CHECK(reply.has_version == (c->version != NULL),
		"%s: has_version is %d", c->name, reply.has_version);
	CHECK(!c->version || strcmp(reply.version, c->version) == 0,
		"%s: version %s, expected %s", c->name, reply.version, c->version);
	CHECK(reply.has_message == (c->message != NULL),
		"%s: has_message is %d", c->name, reply.has_message);
	CHECK(!c->message || strcmp(reply.message, c->message) == 0,
		"%s: message '%s', expected '%s'", c->name, reply.message, c->message);
}

static void reply_accepts_field_variants(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(accepted_replies) / sizeof(accepted_replies[0]); i++){
		const struct reply_case *c = &accepted_replies[i];

		check_accepted_reply(c, c->payload, strlen(c->payload));
	}
	assert_checks_passed();
}

static void reply_accepts_longest_version(void **state)
{
	char payload[256];
	char expected[OTA_VERSION_MAX + 3];
	struct reply_case c = {"version of 64 bytes", NULL, 26, 3, -1, expected, NULL};

	(void)state;
	build_payload(payload, sizeof(payload), "{\"taskId\":26,\"status\":3,\"version\":\"",
		'v', OTA_VERSION_MAX, "\"}");
	build_payload(expected, sizeof(expected), "\"", 'v', OTA_VERSION_MAX, "\"");
	check_accepted_reply(&c, payload, strlen(payload));
	assert_checks_passed();
}

static void reply_accepts_longest_message(void **state)
{
	char payload[512];
	char expected[OTA_MESSAGE_MAX + 1];
	struct reply_case c = {"message of 256 bytes", NULL, 26, 4, -1, NULL, expected};

	(void)state;
	build_payload(payload, sizeof(payload), "{\"taskId\":26,\"status\":4,\"msg\":\"",
		'm', OTA_MESSAGE_MAX, "\"}");
	build_payload(expected, sizeof(expected), "", 'm', OTA_MESSAGE_MAX, "");
	check_accepted_reply(&c, payload, strlen(payload));
	assert_checks_passed();
}

/* ===================================================================== */
/* ota_codec_parse_reply: declines                                       */
/* ===================================================================== */

struct decline_case {
	const char *name;
	const char *payload;
	enum ota_decline reason;
	const char *detail_word; /* the detail must name the field or rule */
};

static const struct decline_case declined_replies[] = {
	{"not JSON", "taskId=26&status=2", OTA_DECLINE_BAD_JSON, "JSON"},
	{"empty payload", "", OTA_DECLINE_BAD_JSON, "JSON"},
	{"truncated object", "{\"taskId\":26,", OTA_DECLINE_BAD_JSON, "JSON"},
	{"array", "[{\"taskId\":26,\"status\":2}]", OTA_DECLINE_NOT_OBJECT, "object"},
	{"number", "42", OTA_DECLINE_NOT_OBJECT, "object"},
	{"string", "\"status\"", OTA_DECLINE_NOT_OBJECT, "object"},
	{"null", "null", OTA_DECLINE_NOT_OBJECT, "object"},
	{"nesting of 9 levels",
		"{\"taskId\":26,\"status\":2,\"x\":"
		"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}",
		OTA_DECLINE_TOO_DEEP, "nested"},
	{"nesting in arrays",
		"{\"taskId\":26,\"status\":2,\"x\":[[[[[[[[1]]]]]]]]}",
		OTA_DECLINE_TOO_DEEP, "nested"},
	{"invalid byte in msg", "{\"taskId\":26,\"status\":4,\"msg\":\"\xff\"}",
		OTA_DECLINE_BAD_UTF8, "UTF-8"},
	{"overlong slash in msg", "{\"taskId\":26,\"status\":4,\"msg\":\"\xc0\xaf\"}",
		OTA_DECLINE_BAD_UTF8, "UTF-8"},
	{"surrogate in version", "{\"taskId\":26,\"status\":3,\"version\":\"\xed\xa0\x80\"}",
		OTA_DECLINE_BAD_UTF8, "UTF-8"},
	{"status missing", "{\"taskId\":26,\"progress\":5}", OTA_DECLINE_BAD_STATUS, "status"},
	{"status 1", "{\"taskId\":26,\"status\":1}", OTA_DECLINE_BAD_STATUS, "status"},
	{"status 5", "{\"taskId\":26,\"status\":5}", OTA_DECLINE_BAD_STATUS, "status"},
	{"status x", "{\"taskId\":26,\"status\":\"x\"}", OTA_DECLINE_BAD_STATUS, "status"},
	{"status 2.5", "{\"taskId\":26,\"status\":2.5}", OTA_DECLINE_BAD_STATUS, "status"},
	{"status true", "{\"taskId\":26,\"status\":true}", OTA_DECLINE_BAD_STATUS, "status"},
	{"progress 140", "{\"taskId\":26,\"status\":2,\"progress\":140}",
		OTA_DECLINE_BAD_PROGRESS, "progress"},
	{"progress 101", "{\"taskId\":26,\"status\":2,\"progress\":101}",
		OTA_DECLINE_BAD_PROGRESS, "progress"},
	{"progress -1", "{\"taskId\":26,\"status\":2,\"progress\":-1}",
		OTA_DECLINE_BAD_PROGRESS, "progress"},
	{"progress 50.5", "{\"taskId\":26,\"status\":2,\"progress\":50.5}",
		OTA_DECLINE_BAD_PROGRESS, "progress"},
	{"progress 5e1 string", "{\"taskId\":26,\"status\":2,\"progress\":\"5e1\"}",
		OTA_DECLINE_BAD_PROGRESS, "progress"},
	{"progress leading space", "{\"taskId\":26,\"status\":2,\"progress\":\" 50\"}",
		OTA_DECLINE_BAD_PROGRESS, "progress"},
	{"progress trailing dot", "{\"taskId\":26,\"status\":2,\"progress\":\"50.\"}",
		OTA_DECLINE_BAD_PROGRESS, "progress"},
	{"progress null", "{\"taskId\":26,\"status\":2,\"progress\":null}",
		OTA_DECLINE_BAD_PROGRESS, "progress"},
	{"progress on status 3", "{\"taskId\":26,\"status\":3,\"progress\":\"half\"}",
		OTA_DECLINE_BAD_PROGRESS, "progress"},
	{"taskId 0", "{\"taskId\":0,\"status\":2}", OTA_DECLINE_BAD_TASK_ID, "taskId"},
	{"taskId -3", "{\"taskId\":-3,\"status\":2}", OTA_DECLINE_BAD_TASK_ID, "taskId"},
	{"taskId -3 string", "{\"taskId\":\"-3\",\"status\":2}",
		OTA_DECLINE_BAD_TASK_ID, "taskId"},
	{"taskId 1.5", "{\"taskId\":1.5,\"status\":2}", OTA_DECLINE_BAD_TASK_ID, "taskId"},
	{"taskId abc", "{\"taskId\":\"abc\",\"status\":2}", OTA_DECLINE_BAD_TASK_ID, "taskId"},
	{"taskId 2^53", "{\"taskId\":9007199254740992,\"status\":2}",
		OTA_DECLINE_BAD_TASK_ID, "taskId"},
	{"taskId 2^53 string", "{\"taskId\":\"9007199254740992\",\"status\":2}",
		OTA_DECLINE_BAD_TASK_ID, "taskId"},
	{"taskId missing", "{\"status\":2,\"progress\":5}", OTA_DECLINE_BAD_TASK_ID, "taskId"},
	{"version empty", "{\"taskId\":26,\"status\":3,\"version\":\"\"}",
		OTA_DECLINE_BAD_VERSION, "version"},
	{"version bool", "{\"taskId\":26,\"status\":3,\"version\":true}",
		OTA_DECLINE_BAD_VERSION, "version"},
	{"version null", "{\"taskId\":26,\"status\":3,\"version\":null}",
		OTA_DECLINE_BAD_VERSION, "version"},
	{"version array", "{\"taskId\":26,\"status\":3,\"version\":[1,2]}",
		OTA_DECLINE_BAD_VERSION, "version"},
	{"msg not a string", "{\"taskId\":26,\"status\":4,\"msg\":17}",
		OTA_DECLINE_BAD_MESSAGE, "message"},
};

static void check_declined(const char *name, enum ota_decline rc,
	enum ota_decline expected, const char *detail, const char *detail_word)
{
	CHECK(rc == expected, "%s: reason %s, expected %s", name, ota_decline_code(rc),
		ota_decline_code(expected));
	CHECK(strstr(detail, detail_word) != NULL,
		"%s: detail '%s' does not mention '%s'", name, detail, detail_word);
}

static void reply_declines_invalid_payloads(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(declined_replies) / sizeof(declined_replies[0]); i++){
		const struct decline_case *c = &declined_replies[i];
		struct ota_reply reply;
		char detail[OTA_DETAIL_MAX] = "";
		enum ota_decline rc = ota_codec_parse_reply(c->payload, strlen(c->payload),
			&reply, detail, sizeof(detail));

		check_declined(c->name, rc, c->reason, detail, c->detail_word);
	}
	assert_checks_passed();
}

static void reply_declines_long_version(void **state)
{
	char payload[256];
	char detail[OTA_DETAIL_MAX] = "";
	struct ota_reply reply;
	enum ota_decline rc;

	(void)state;
	build_payload(payload, sizeof(payload), "{\"taskId\":26,\"status\":3,\"version\":\"",
		'v', OTA_VERSION_MAX + 1, "\"}");
	rc = ota_codec_parse_reply(payload, strlen(payload), &reply, detail, sizeof(detail));
	check_declined("version of 65 bytes", rc, OTA_DECLINE_BAD_VERSION, detail, "version");
	assert_checks_passed();
}

static void reply_declines_long_message(void **state)
{
	char payload[512];
	char detail[OTA_DETAIL_MAX] = "";
	struct ota_reply reply;
	enum ota_decline rc;

	(void)state;
	build_payload(payload, sizeof(payload), "{\"taskId\":26,\"status\":4,\"message\":\"",
		'm', OTA_MESSAGE_MAX + 1, "\"}");
	rc = ota_codec_parse_reply(payload, strlen(payload), &reply, detail, sizeof(detail));
	check_declined("message of 257 bytes", rc, OTA_DECLINE_BAD_MESSAGE, detail, "message");
	assert_checks_passed();
}

/* The length argument, not a terminating NUL, bounds the payload. */
static void reply_parses_only_given_length(void **state)
{
	const char *payload = "{\"taskId\":26,\"status\":2,\"progress\":5}garbage";
	size_t len = strlen("{\"taskId\":26,\"status\":2,\"progress\":5}");
	char detail[OTA_DETAIL_MAX] = "";
	struct ota_reply reply;

	(void)state;
	assert_int_equal(ota_codec_parse_reply(payload, len, &reply, detail, sizeof(detail)),
		OTA_DECLINE_NONE);
	assert_int_equal(reply.progress, 5);
}

/* ===================================================================== */
/* ota_codec_parse_set                                                   */
/* ===================================================================== */

struct set_case {
	const char *name;
	const char *payload;
	int64_t task_id;
	const char *url;
	const char *version; /* JSON text */
};

static const struct set_case accepted_sets[] = {
	{"trace set",
		"{\"taskId\":26,\"url\":\"/profile/iot/1/2024-0824-001954.bin\","
		"\"version\":1.2,\"status\":1}",
		26, "/profile/iot/1/2024-0824-001954.bin", "1.2"},
	{"taskId and version as strings",
		"{\"taskId\":\"27\",\"url\":\"http://fw.example/a.bin\",\"version\":\"1.2.3\","
		"\"status\":\"1\"}",
		27, "http://fw.example/a.bin", "\"1.2.3\""},
	{"numeric version string",
		"{\"taskId\":28,\"url\":\"/fw.bin\",\"version\":\"1.20\"}",
		28, "/fw.bin", "\"1.20\""},
	{"unknown keys ignored",
		"{\"taskId\":29,\"url\":\"/fw.bin\",\"version\":2,\"status\":1,"
		"\"checksum\":{\"sha256\":\"9f86d0\"},\"size\":1024}",
		29, "/fw.bin", "2"},
};

static void set_accepts_field_variants(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(accepted_sets) / sizeof(accepted_sets[0]); i++){
		const struct set_case *c = &accepted_sets[i];
		struct ota_set set;
		char detail[OTA_DETAIL_MAX] = "";
		enum ota_decline rc = ota_codec_parse_set(c->payload, strlen(c->payload),
			&set, detail, sizeof(detail));

		CHECK(rc == OTA_DECLINE_NONE,
			"%s: declined as %s (%s)", c->name, ota_decline_code(rc), detail);
		CHECK(set.task_id == c->task_id, "%s: taskId %" PRId64 ", expected %" PRId64,
			c->name, set.task_id, c->task_id);
		CHECK(strcmp(set.url, c->url) == 0,
			"%s: url %s, expected %s", c->name, set.url, c->url);
		CHECK(strcmp(set.version, c->version) == 0,
			"%s: version %s, expected %s", c->name, set.version, c->version);
	}
	assert_checks_passed();
}

static const struct decline_case declined_sets[] = {
	{"not JSON", "set 26", OTA_DECLINE_BAD_JSON, "JSON"},
	{"array", "[26]", OTA_DECLINE_NOT_OBJECT, "object"},
	{"invalid UTF-8 url", "{\"taskId\":26,\"url\":\"/\xfe.bin\",\"version\":1.2}",
		OTA_DECLINE_BAD_UTF8, "UTF-8"},
	{"nesting of 9 levels",
		"{\"taskId\":26,\"url\":\"/fw.bin\",\"version\":1.2,\"x\":"
		"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}",
		OTA_DECLINE_TOO_DEEP, "nested"},
	{"taskId 0", "{\"taskId\":0,\"url\":\"/fw.bin\",\"version\":1.2}",
		OTA_DECLINE_BAD_TASK_ID, "taskId"},
	{"taskId missing", "{\"url\":\"/fw.bin\",\"version\":1.2}",
		OTA_DECLINE_BAD_TASK_ID, "taskId"},
	{"url missing", "{\"taskId\":26,\"version\":1.2}", OTA_DECLINE_BAD_URL, "url"},
	{"url empty", "{\"taskId\":26,\"url\":\"\",\"version\":1.2}", OTA_DECLINE_BAD_URL, "url"},
	{"url number", "{\"taskId\":26,\"url\":5,\"version\":1.2}", OTA_DECLINE_BAD_URL, "url"},
	{"version missing", "{\"taskId\":26,\"url\":\"/fw.bin\"}",
		OTA_DECLINE_BAD_VERSION, "version"},
	{"version bool", "{\"taskId\":26,\"url\":\"/fw.bin\",\"version\":false}",
		OTA_DECLINE_BAD_VERSION, "version"},
	{"version empty", "{\"taskId\":26,\"url\":\"/fw.bin\",\"version\":\"\"}",
		OTA_DECLINE_BAD_VERSION, "version"},
};

static void set_declines_invalid_payloads(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(declined_sets) / sizeof(declined_sets[0]); i++){
		const struct decline_case *c = &declined_sets[i];
		struct ota_set set;
		char detail[OTA_DETAIL_MAX] = "";
		enum ota_decline rc = ota_codec_parse_set(c->payload, strlen(c->payload),
			&set, detail, sizeof(detail));

		check_declined(c->name, rc, c->reason, detail, c->detail_word);
	}
	assert_checks_passed();
}

static void set_declines_long_url(void **state)
{
	char payload[OTA_URL_MAX + 128];
	char detail[OTA_DETAIL_MAX] = "";
	struct ota_set set;
	enum ota_decline rc;

	(void)state;
	build_payload(payload, sizeof(payload), "{\"taskId\":26,\"version\":1.2,\"url\":\"/",
		'u', OTA_URL_MAX, "\"}");
	rc = ota_codec_parse_set(payload, strlen(payload), &set, detail, sizeof(detail));
	check_declined("url of 1025 bytes", rc, OTA_DECLINE_BAD_URL, detail, "url");
	assert_checks_passed();
}

/* ===================================================================== */
/* ota_codec_format_status                                               */
/* ===================================================================== */

struct status_case {
	const char *name;
	int status;
	int64_t timestamp_ms;
	int progress;
	const char *message;
	const char *expected;
};

static const struct status_case status_cases[] = {
	{"await", 0, 1724482221250LL, -1, NULL,
		"{\"serialNumber\":\"D1832O34Z5M1\",\"status\":0,\"timestamp\":1724482221250}"},
	{"progress on status 2", 2, 1724482231404LL, 50, NULL,
		"{\"serialNumber\":\"D1832O34Z5M1\",\"status\":2,\"timestamp\":1724482231404,"
		"\"progress\":50}"},
	{"progress 0 on status 2", 2, 1724482231404LL, 0, NULL,
		"{\"serialNumber\":\"D1832O34Z5M1\",\"status\":2,\"timestamp\":1724482231404,"
		"\"progress\":0}"},
	{"status 2 without progress", 2, 1724482231404LL, -1, NULL,
		"{\"serialNumber\":\"D1832O34Z5M1\",\"status\":2,\"timestamp\":1724482231404}"},
	{"no progress on status 3", 3, 1724482308749LL, 100, NULL,
		"{\"serialNumber\":\"D1832O34Z5M1\",\"status\":3,\"timestamp\":1724482308749}"},
	{"message on status 4", 4, 1724482308749LL, -1, "timed out",
		"{\"serialNumber\":\"D1832O34Z5M1\",\"status\":4,\"timestamp\":1724482308749,"
		"\"message\":\"timed out\"}"},
	{"message on status 5", 5, 1724482308749LL, -1, "cancelled",
		"{\"serialNumber\":\"D1832O34Z5M1\",\"status\":5,\"timestamp\":1724482308749,"
		"\"message\":\"cancelled\"}"},
	{"message escaped", 4, 1724482308749LL, -1, "bad \"crc\"",
		"{\"serialNumber\":\"D1832O34Z5M1\",\"status\":4,\"timestamp\":1724482308749,"
		"\"message\":\"bad \\\"crc\\\"\"}"},
	{"timestamp in 2100", 1, 4102444800000LL, -1, NULL,
		"{\"serialNumber\":\"D1832O34Z5M1\",\"status\":1,\"timestamp\":4102444800000}"},
};

static void format_status_exact_text(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++){
		const struct status_case *c = &status_cases[i];
		char *text = ota_codec_format_status("D1832O34Z5M1", c->status,
			c->timestamp_ms, c->progress, c->message);

		CHECK(text != NULL, "%s: returned NULL", c->name);
		if(text){
			CHECK(strcmp(text, c->expected) == 0, "%s: got %s\nexpected %s", c->name,
				text, c->expected);
		}
		free(text);
	}
	assert_checks_passed();
}

/* ===================================================================== */
/* ota_codec_format_set                                                  */
/* ===================================================================== */

struct push_case {
	const char *name;
	int64_t task_id;
	const char *version_json;
	const char *extra_json;
	const char *expected; /* NULL: the call must fail */
};

static const struct push_case push_cases[] = {
	{"number version", 26, "1.2", NULL,
		"{\"taskId\":26,\"url\":\"/profile/iot/1/2024-0824-001954.bin\","
		"\"version\":1.2,\"status\":1}"},
	{"string version", 26, "\"1.2\"", NULL,
		"{\"taskId\":26,\"url\":\"/profile/iot/1/2024-0824-001954.bin\","
		"\"version\":\"1.2\",\"status\":1}"},
	{"dotted string version", 26, "\"1.10.0\"", NULL,
		"{\"taskId\":26,\"url\":\"/profile/iot/1/2024-0824-001954.bin\","
		"\"version\":\"1.10.0\",\"status\":1}"},
	{"extra keys after status", 26, "1.2",
		"{\"checksum\":{\"sha256\":\"9f86d0\"},\"size\":1024}",
		"{\"taskId\":26,\"url\":\"/profile/iot/1/2024-0824-001954.bin\","
		"\"version\":1.2,\"status\":1,\"checksum\":{\"sha256\":\"9f86d0\"},"
		"\"size\":1024}"},
	{"empty extra object", 26, "1.2", "{}",
		"{\"taskId\":26,\"url\":\"/profile/iot/1/2024-0824-001954.bin\","
		"\"version\":1.2,\"status\":1}"},
	{"task id 10^15", 1000000000000000LL, "1.2", NULL,
		"{\"taskId\":1000000000000000,\"url\":\"/profile/iot/1/2024-0824-001954.bin\","
		"\"version\":1.2,\"status\":1}"},
	{"largest task id", 9007199254740991LL, "1.2", NULL,
		"{\"taskId\":9007199254740991,\"url\":\"/profile/iot/1/2024-0824-001954.bin\","
		"\"version\":1.2,\"status\":1}"},
	{"version not JSON", 26, "1.2.3", NULL, NULL},
	{"extra not an object", 26, "1.2", "[1]", NULL},
	{"extra not JSON", 26, "1.2", "{\"size\":1024} trailing", NULL},
};

static void format_set_exact_text(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(push_cases) / sizeof(push_cases[0]); i++){
		const struct push_case *c = &push_cases[i];
		char *text = ota_codec_format_set(c->task_id,
			"/profile/iot/1/2024-0824-001954.bin", c->version_json, c->extra_json);

		if(!c->expected){
			CHECK(text == NULL, "%s: expected NULL, got %s", c->name, text);
		}else{
			CHECK(text != NULL, "%s: returned NULL", c->name);
			if(text){
				CHECK(strcmp(text, c->expected) == 0, "%s: got %s\nexpected %s",
					c->name, text, c->expected);
			}
		}
		free(text);
	}
	assert_checks_passed();
}

/* ===================================================================== */
/* Versions                                                              */
/* ===================================================================== */

struct version_case {
	const char *a;
	const char *b;
	bool equal;
};

static const struct version_case version_cases[] = {
	{"1.2", "\"1.2\"", true},
	{"\"1.2\"", "\"1.20\"", true},
	{"1.2", "\"1.20\"", true},
	{"\"1.10\"", "1.1", true},
	{"\"01.2\"", "1.2", true},
	{"\"-0\"", "0", true},
	{"\"2\"", "2.0", true},
	{"\"-1.5\"", "-1.5", true},
	{"\"1.2.3\"", "\"1.2.3\"", true},
	{"\"1.2.3\"", "\"1.2.4\"", false},
	{"\"1.10.0\"", "\"1.1.0\"", false},
	{"1.2", "1.3", false},
	{"\"1.2\"", "\"-1.2\"", false},
	{"\"1.2.3\"", "1.2", false},
	{"\"v1.2\"", "\"1.2\"", false},
	{"\" 1.2\"", "1.2", false},
	{"\"1.2\"", "\"1.2 \"", false},
	/* Texts that the comparison without parsing must leave to the parser. */
	{"1.2", "1.2", true},
	{"\"1.2\"", "\"1.2\"", true},
	{"\"12\"", "1.2", false},
	{"\"1.2\"", "1.23", false},
	{"\"1.2", "1.2", false},
	{"\"1\\u002e2\"", "1.2", true},
	{"\"1234567890.12345\"", "1234567890.12345", true},
	{"\"123456789012345678\"", "123456789012345678", true},
};

static void version_equal_numeric_and_text(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(version_cases) / sizeof(version_cases[0]); i++){
		const struct version_case *c = &version_cases[i];

		CHECK(ota_version_equal(c->a, c->b) == c->equal,
			"ota_version_equal(%s, %s) is %d, expected %d", c->a, c->b,
				!c->equal, c->equal);
		CHECK(ota_version_equal(c->b, c->a) == c->equal,
			"ota_version_equal(%s, %s) is %d, expected %d", c->b, c->a,
				!c->equal, c->equal);
	}
	assert_checks_passed();
}

static void int_text_matches_printf(void **state)
{
	static const int64_t values[] = {
		0, 1, -1, 9, 10, 99, 100, 1796423333540, 9007199254740991,
		INT64_MAX, INT64_MIN, INT64_MIN + 1,
	};

	(void)state;
	for(size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++){
		char got[OTA_INT_TEXT_MAX];
		char want[32];
		size_t len = ota_int_text(got, values[i]);

		snprintf(want, sizeof(want), "%" PRId64, values[i]);
		CHECK(strcmp(got, want) == 0, "ota_int_text(%s) wrote \"%s\"", want, got);
		CHECK(len == strlen(want), "ota_int_text(%s) returned length %zu", want, len);
	}
	assert_checks_passed();
}

static void version_text_strips_quotes(void **state)
{
	char out[OTA_VERSION_MAX + 1];
	char small[4];

	(void)state;
	assert_true(ota_version_text("\"1.2.3\"", out, sizeof(out)));
	assert_string_equal(out, "1.2.3");
	assert_true(ota_version_text("1.2", out, sizeof(out)));
	assert_string_equal(out, "1.2");
	assert_false(ota_version_text("\"1.2.3\"", small, sizeof(small)));
}

/* ===================================================================== */
/* Serial numbers and UTF-8                                              */
/* ===================================================================== */

struct text_case {
	const char *name;
	const char *text;
	size_t len; /* 0: strlen(text) */
	bool valid;
};

static const struct text_case serial_cases[] = {
	{"FastBee serial", "D1832O34Z5M1", 0, true},
	{"one byte", "D", 0, true},
	{"UTF-8 letters", "\xe8\xae\xbe\xe5\xa4\x87-7", 0, true},
	{"inner space", "D1 A", 0, true},
	{"empty", "", 0, false},
	{"slash", "D1/A", 0, false},
	{"plus", "D1+A", 0, false},
	{"hash", "D1#A", 0, false},
	{"newline", "D1\nA", 0, false},
	{"tab", "D1\tA", 0, false},
	{"DEL", "D1\x7f", 0, false},
	{"invalid UTF-8", "D1\xff", 0, false},
};

static void serial_valid_rules(void **state)
{
	char longest[OTA_SERIAL_MAX + 2];

	(void)state;
	for(size_t i = 0; i < sizeof(serial_cases) / sizeof(serial_cases[0]); i++){
		const struct text_case *c = &serial_cases[i];

		CHECK(ota_serial_valid(c->text) == c->valid,
			"%s: ota_serial_valid is %d, expected %d", c->name,
				!c->valid, c->valid);
	}
	assert_checks_passed();

	memset(longest, 'S', OTA_SERIAL_MAX);
	longest[OTA_SERIAL_MAX] = '\0';
	assert_true(ota_serial_valid(longest));
	longest[OTA_SERIAL_MAX] = 'S';
	longest[OTA_SERIAL_MAX + 1] = '\0';
	assert_false(ota_serial_valid(longest));
}

static const struct text_case utf8_cases[] = {
	{"ASCII", "reply", 0, true},
	{"empty", "", 0, true},
	{"two bytes", "\xc3\xa9", 0, true},
	{"three bytes", "\xe2\x82\xac", 0, true},
	{"four bytes", "\xf0\x9f\x98\x80", 0, true},
	{"U+10FFFF", "\xf4\x8f\xbf\xbf", 0, true},
	{"U+D7FF", "\xed\x9f\xbf", 0, true},
	{"U+E000", "\xee\x80\x80", 0, true},
	{"NUL byte", "a\0b", 3, true},
	{"overlong two bytes", "\xc0\xaf", 0, false},
	{"overlong C1", "\xc1\xbf", 0, false},
	{"overlong three bytes", "\xe0\x80\xaf", 0, false},
	{"overlong four bytes", "\xf0\x80\x80\xaf", 0, false},
	{"high surrogate", "\xed\xa0\x80", 0, false},
	{"low surrogate", "\xed\xbf\xbf", 0, false},
	{"above U+10FFFF", "\xf4\x90\x80\x80", 0, false},
	{"lead byte F5", "\xf5\x80\x80\x80", 0, false},
	{"lead byte FF", "\xff", 0, false},
	{"lone continuation", "\x80", 0, false},
	{"truncated two bytes", "a\xc3", 0, false},
	{"truncated three bytes", "a\xe2\x82", 0, false},
	{"truncated four bytes", "a\xf0\x9f\x98", 0, false},
	{"missing continuation", "\xe2\x28\xa1", 0, false},
	{"truncated by length", "\xc3\xa9", 1, false},
};

static void utf8_valid_rules(void **state)
{
	(void)state;
	for(size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++){
		const struct text_case *c = &utf8_cases[i];
		size_t len = c->len ? c->len : strlen(c->text);

		CHECK(ota_utf8_valid(c->text, len) == c->valid,
			"%s: ota_utf8_valid is %d, expected %d", c->name,
				!c->valid, c->valid);
	}
	assert_checks_passed();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		table_test(reply_accepts_field_variants),
		table_test(reply_accepts_longest_version),
		table_test(reply_accepts_longest_message),
		table_test(reply_declines_invalid_payloads),
		table_test(reply_declines_long_version),
		table_test(reply_declines_long_message),
		table_test(reply_parses_only_given_length),
		table_test(set_accepts_field_variants),
		table_test(set_declines_invalid_payloads),
		table_test(set_declines_long_url),
		table_test(format_status_exact_text),
		table_test(format_set_exact_text),
		table_test(version_equal_numeric_and_text),
		table_test(version_text_strips_quotes),
		table_test(int_text_matches_printf),
		table_test(serial_valid_rules),
		table_test(utf8_valid_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
