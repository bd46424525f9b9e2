/*
 * JSON codec for OTA messages. Parsing is strict about what the plugin
 * acts on (types, ranges, lengths, UTF-8, nesting) and lenient about what
 * FastBee's backend accepts in the field: numbers written as strings of
 * digits, versions as numbers or strings, and unknown keys.
 */
#include "ota_codec.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static enum ota_decline reject(char *detail, size_t size, enum ota_decline reason,
	const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(detail, size, fmt, args);
	va_end(args);
	return reason;
}

/* ===================================================================== */
/* UTF-8 and serial numbers                                              */
/* ===================================================================== */

bool ota_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while(i < len){
		unsigned char c = p[i];
		size_t extra;
		uint32_t cp;

		if(c < 0x80){
			i++;
			continue;
		}else if((c & 0xE0) == 0xC0){
			extra = 1;
			cp = c & 0x1F;
		}else if((c & 0xF0) == 0xE0){
			extra = 2;
			cp = c & 0x0F;
		}else if((c & 0xF8) == 0xF0){
			extra = 3;
			cp = c & 0x07;
		}else{
			return false;
		}
		if(i + extra >= len){
			return false;
		}
		for(size_t k = 1; k <= extra; k++){
			if((p[i + k] & 0xC0) != 0x80){
				return false;
			}
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
		if((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800)
				|| (extra == 3 && cp < 0x10000)
				|| (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF){
			return false;
		}
		i += extra + 1;
	}
	return true;
}

bool ota_serial_valid(const char *s)
{
	size_t len = strlen(s);

	if(len == 0 || len > OTA_SERIAL_MAX || !ota_utf8_valid(s, len)){
		return false;
	}
	for(size_t i = 0; i < len; i++){
		unsigned char c = (unsigned char)s[i];

		if(c == '/' || c == '+' || c == '#' || c < 0x20 || c == 0x7F){
			return false;
		}
	}
	return true;
}

/* ===================================================================== */
/* Numbers                                                               */
/* ===================================================================== */

/* Returns true when `s` is an optional '-', digits, and an optional '.'
 * followed by digits: the only numbers accepted inside strings. */
static bool is_numeric_text(const char *s)
{
	const char *p = s;

	if(*p == '-'){
		p++;
	}
	if(*p < '0' || *p > '9'){
		return false;
	}
	while(*p >= '0' && *p <= '9'){
		p++;
	}
	if(*p == '.'){
		p++;
		if(*p < '0' || *p > '9'){
			return false;
		}
		while(*p >= '0' && *p <= '9'){
			p++;
		}
	}
	return *p == '\0';
}

/*
 * Reads a whole number from a JSON number or a numeric string whose
 * fraction, if any, is all zeros ("50", "50.0", 50.0). Returns false for
 * anything else, including values beyond 2^53.
 */
static bool read_whole(const cJSON *item, int64_t *out)
{
	if(cJSON_IsNumber(item)){
		double d = item->valuedouble;

		if(!isfinite(d) || d != floor(d) || fabs(d) > (double)OTA_TASK_ID_MAX){
			return false;
		}
		*out = (int64_t)d;
		return true;
	}
	if(cJSON_IsString(item) && is_numeric_text(item->valuestring)){
		const char *p = item->valuestring;
		bool negative = *p == '-';
		int64_t value = 0;

		p += negative;
		for(; *p >= '0' && *p <= '9'; p++){
			value = value * 10 + (*p - '0');
			if(value > OTA_TASK_ID_MAX){
				return false;
			}
		}
		if(*p == '.'){
			for(p++; *p; p++){
				if(*p != '0'){
					return false;
				}
			}
		}
		*out = negative ? -value : value;
		return true;
	}
	return false;
}

/* Writes a short JSON rendering of `item` for a log line. */
static void describe(const cJSON *item, char *out, size_t size)
{
	char *text;

	if(!item){
		snprintf(out, size, "(missing)");
		return;
	}
	text = cJSON_PrintUnformatted(item);
	if(!text){
		snprintf(out, size, "(unprintable)");
		return;
	}
	if(strlen(text) > 40){
		snprintf(out, size, "%.37s...", text);
	}else{
		snprintf(out, size, "%s", text);
	}
	free(text);
}

/* ===================================================================== */
/* Parsing                                                               */
/* ===================================================================== */

int ota_json_depth(const cJSON *item)
{
	int max = 0;

	for(const cJSON *child = item->child; child; child = child->next){
		int d = ota_json_depth(child);

		if(d > max){
			max = d;
		}
	}
	return (item->child || cJSON_IsArray(item) || cJSON_IsObject(item)) ? max + 1 : 0;
}

/* Parses `payload` into a JSON object within the nesting limit. */
static enum ota_decline parse_object(const void *payload, size_t len,
	cJSON **out, char *detail, size_t size)
{
	cJSON *root;
	int depth;

	if(!ota_utf8_valid(payload, len)){
		return reject(detail, size, OTA_DECLINE_BAD_UTF8,
			"payload of %zu bytes: not valid UTF-8", len);
	}
	root = ota_json_parse_payload(payload, len);
	if(!root){
		return reject(detail, size, OTA_DECLINE_BAD_JSON,
			"payload of %zu bytes: not valid JSON", len);
	}
	if(!cJSON_IsObject(root)){
		cJSON_Delete(root);
		return reject(detail, size, OTA_DECLINE_NOT_OBJECT,
			"payload: must be a JSON object");
	}
	depth = ota_json_depth(root);
	if(depth > OTA_JSON_DEPTH_MAX){
		cJSON_Delete(root);
		return reject(detail, size, OTA_DECLINE_TOO_DEEP,
			"payload nested %d levels: at most %d allowed", depth,
			OTA_JSON_DEPTH_MAX);
	}
	*out = root;
	return OTA_DECLINE_NONE;
}

static enum ota_decline read_task_id(const cJSON *root, int64_t *out,
	char *detail, size_t size)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "taskId");
	char shown[48];

	if(!read_whole(item, out) || *out <= 0){
		describe(item, shown, sizeof(shown));
		return reject(detail, size, OTA_DECLINE_BAD_TASK_ID,
			"taskId %s: must be a positive integer", shown);
	}
	return OTA_DECLINE_NONE;
}

/* Stores a version given as a JSON number or non-empty string as JSON text. */
static enum ota_decline read_version(const cJSON *item, char *out, size_t out_size,
	char *detail, size_t size)
{
	char shown[48];
	char *text;

	if(cJSON_IsString(item) && item->valuestring[0] != '\0'
			&& strlen(item->valuestring) <= OTA_VERSION_MAX){
		text = cJSON_PrintUnformatted(item);
	}else if(cJSON_IsNumber(item) && isfinite(item->valuedouble)){
		text = cJSON_PrintUnformatted(item);
	}else{
		describe(item, shown, sizeof(shown));
		return reject(detail, size, OTA_DECLINE_BAD_VERSION,
			"version %s: must be a number or a string of 1-%d bytes",
			shown, OTA_VERSION_MAX);
	}
	if(!text || strlen(text) >= out_size){
		free(text);
		return reject(detail, size, OTA_DECLINE_BAD_VERSION,
			"version: longer than %d bytes once encoded", OTA_VERSION_MAX);
	}
	memcpy(out, text, strlen(text) + 1);
	free(text);
	return OTA_DECLINE_NONE;
}

static enum ota_decline read_reply_fields(const cJSON *root, struct ota_reply *out,
	char *detail, size_t size)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
	const cJSON *progress = cJSON_GetObjectItemCaseSensitive(root, "progress");
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(root, "msg");
	enum ota_decline rc;
	int64_t value;
	char shown[48];

	if(!read_whole(status, &value) || value < OTA_REPLY || value > OTA_FAILED){
		describe(status, shown, sizeof(shown));
		return reject(detail, size, OTA_DECLINE_BAD_STATUS,
			"status %s: must be 2, 3 or 4", shown);
	}
	out->status = (int)value;

	rc = read_task_id(root, &out->task_id, detail, size);
	if(rc){
		return rc;
	}

	out->progress = -1;
	if(progress){
		if(!read_whole(progress, &value) || value < 0 || value > 100){
			describe(progress, shown, sizeof(shown));
			return reject(detail, size, OTA_DECLINE_BAD_PROGRESS,
				"progress %s: must be a whole number 0..100", shown);
		}
		out->progress = (int)value;
	}

	if(version){
		rc = read_version(version, out->version, sizeof(out->version), detail, size);
		if(rc){
			return rc;
		}
		out->has_version = true;
	}

	if(!message){
		message = cJSON_GetObjectItemCaseSensitive(root, "message");
	}
	if(message){
		if(!cJSON_IsString(message) || strlen(message->valuestring) > OTA_MESSAGE_MAX){
			describe(message, shown, sizeof(shown));
			return reject(detail, size, OTA_DECLINE_BAD_MESSAGE,
				"message %s: must be a string of at most %d bytes",
				shown, OTA_MESSAGE_MAX);
		}
		snprintf(out->message, sizeof(out->message), "%s", message->valuestring);
		out->has_message = out->message[0] != '\0';
	}
	return OTA_DECLINE_NONE;
}

enum ota_decline ota_codec_parse_reply(const void *payload, size_t len,
	struct ota_reply *out, char *detail, size_t detail_size)
{
	cJSON *root = NULL;
	enum ota_decline rc;

	memset(out, 0, sizeof(*out));
	rc = parse_object(payload, len, &root, detail, detail_size);
	if(rc){
		return rc;
	}
	rc = read_reply_fields(root, out, detail, detail_size);
	cJSON_Delete(root);
	return rc;
}

enum ota_decline ota_codec_parse_set(const void *payload, size_t len,
	struct ota_set *out, char *detail, size_t detail_size)
{
	cJSON *root = NULL;
	const cJSON *url;
	enum ota_decline rc;
	char shown[48];

	memset(out, 0, sizeof(*out));
	rc = parse_object(payload, len, &root, detail, detail_size);
	if(rc){
		return rc;
	}
	rc = read_task_id(root, &out->task_id, detail, detail_size);
	if(rc){
		goto done;
	}
	url = cJSON_GetObjectItemCaseSensitive(root, "url");
	if(!cJSON_IsString(url) || url->valuestring[0] == '\0'
			|| strlen(url->valuestring) > OTA_URL_MAX){
		describe(url, shown, sizeof(shown));
		rc = reject(detail, detail_size, OTA_DECLINE_BAD_URL,
			"url %s: must be a string of 1-%d bytes", shown, OTA_URL_MAX);
		goto done;
	}
	snprintf(out->url, sizeof(out->url), "%s", url->valuestring);
	rc = read_version(cJSON_GetObjectItemCaseSensitive(root, "version"),
		out->version, sizeof(out->version), detail, detail_size);

done:
	cJSON_Delete(root);
	return rc;
}

/* ===================================================================== */
/* Formatting                                                            */
/* ===================================================================== */

cJSON *ota_json_parse_payload(const void *payload, size_t len)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(payload, len, &end, false);
	const char *limit = (const char *)payload + len;

	/* cJSON stops after the first value; anything but white space after
	 * it makes the payload invalid, not a shorter message. */
	while(root && end < limit){
		if(*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n'){
			cJSON_Delete(root);
			return NULL;
		}
		end++;
	}
	return root;
}

cJSON *ota_json_parse_exact(const char *text)
{
	return text ? cJSON_ParseWithOpts(text, NULL, true) : NULL;
}

/* cJSON 1.7.15 prints numbers with 15 significant digits when that reads
 * back within its tolerance, which turns 9007199254740991 into
 * 9.00719925474099e+15; integers therefore go out as raw JSON text. */
cJSON *ota_json_add_int(cJSON *object, const char *key, int64_t value)
{
	char text[OTA_INT_TEXT_MAX];

	ota_int_text(text, value);
	return cJSON_AddRawToObject(object, key, text);
}

/* snprintf's format parsing costs more than the digits on the reply path,
 * which writes two integers per status message and one per topic. */
size_t ota_int_text(char *out, int64_t value)
{
	char digits[20];
	uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
	size_t count = 0;
	size_t len = 0;

	do{
		digits[count++] = (char)('0' + magnitude % 10);
		magnitude /= 10;
	}while(magnitude);
	if(value < 0){
		out[len++] = '-';
	}
	while(count){
		out[len++] = digits[--count];
	}
	out[len] = '\0';
	return len;
}

char *ota_codec_format_status(const char *serial, int status,
	int64_t timestamp_ms, int progress, const char *message)
{
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;

	if(!root
			|| !cJSON_AddStringToObject(root, "serialNumber", serial)
			|| !ota_json_add_int(root, "status", status)
			|| !ota_json_add_int(root, "timestamp", timestamp_ms)){
		goto done;
	}
	if(status == OTA_REPLY && progress >= 0
			&& !ota_json_add_int(root, "progress", progress)){
		goto done;
	}
	if(message && !cJSON_AddStringToObject(root, "message", message)){
		goto done;
	}
	text = cJSON_PrintUnformatted(root);

done:
	cJSON_Delete(root);
	return text;
}

char *ota_codec_format_set(int64_t task_id, const char *url,
	const char *version_json, const char *extra_json)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *version = ota_json_parse_exact(version_json);
	cJSON *extra = extra_json ? ota_json_parse_exact(extra_json) : NULL;
	char *text = NULL;

	if(!root || !version || (extra_json && !cJSON_IsObject(extra))){
		goto done;
	}
	if(!ota_json_add_int(root, "taskId", task_id)
			|| !cJSON_AddStringToObject(root, "url", url)){
		goto done;
	}
	cJSON_AddItemToObject(root, "version", version);
	version = NULL;
	if(!ota_json_add_int(root, "status", OTA_SEND)){
		goto done;
	}
	while(extra && extra->child){
		cJSON *member = cJSON_DetachItemViaPointer(extra, extra->child);

		cJSON_AddItemToObject(root, member->string, member);
	}
	text = cJSON_PrintUnformatted(root);

done:
	cJSON_Delete(root);
	cJSON_Delete(version);
	cJSON_Delete(extra);
	return text;
}

/* ===================================================================== */
/* Versions                                                              */
/* ===================================================================== */

bool ota_version_text(const char *version_json, char *out, size_t out_size)
{
	cJSON *item = ota_json_parse_exact(version_json);
	bool ok = false;

	if(cJSON_IsString(item)){
		ok = (size_t)snprintf(out, out_size, "%s", item->valuestring) < out_size;
	}else if(item){
		ok = (size_t)snprintf(out, out_size, "%s", version_json) < out_size;
	}
	cJSON_Delete(item);
	return ok;
}

/* Writes a numeric text in canonical form: no '+', no leading zeros, no
 * trailing fractional zeros, "-0" as "0". */
static void canonical_decimal(const char *s, char *out, size_t size)
{
	bool negative = *s == '-';
	const char *digits = s + negative;
	const char *dot;
	size_t int_len;
	size_t frac_len = 0;

	while(*digits == '0' && digits[1] >= '0' && digits[1] <= '9'){
		digits++;
	}
	dot = strchr(digits, '.');
	int_len = dot ? (size_t)(dot - digits) : strlen(digits);
	if(dot){
		frac_len = strlen(dot + 1);
		while(frac_len > 0 && dot[frac_len] == '0'){
			frac_len--;
		}
	}
	if(int_len == 1 && digits[0] == '0' && frac_len == 0){
		negative = false;
	}
	snprintf(out, size, "%s%.*s%s%.*s", negative ? "-" : "", (int)int_len,
		digits, frac_len ? "." : "", (int)frac_len, dot ? dot + 1 : "");
}

/* Returns true when the version is numeric, with its text in `text`. */
static bool numeric_version(const cJSON *item, char *text, size_t size)
{
	if(cJSON_IsString(item)){
		snprintf(text, size, "%s", item->valuestring);
		return is_numeric_text(item->valuestring);
	}
	if(cJSON_IsNumber(item)){
		char *printed = cJSON_PrintUnformatted(item);

		snprintf(text, size, "%s", printed ? printed : "");
		free(printed);
		return true;
	}
	return false;
}

static bool numbers_equal(const char *a, const char *b)
{
	char ca[OTA_VERSION_MAX + 8];
	char cb[OTA_VERSION_MAX + 8];

	if(is_numeric_text(a) && is_numeric_text(b)){
		canonical_decimal(a, ca, sizeof(ca));
		canonical_decimal(b, cb, sizeof(cb));
		return strcmp(ca, cb) == 0;
	}
	/* A JSON number that cJSON printed with an exponent. */
	return strtod(a, NULL) == strtod(b, NULL);
}

/* Returns true, without parsing, for the same JSON text, or for a number
 * and a string that contain the same decimal text of at most 15
 * characters. A double keeps such a number exactly. The usual pair of a
 * task and a reply is 1.2 and "1.2". */
static bool same_version_text(const char *a_json, const char *b_json)
{
	const char *quoted = a_json[0] == '"' ? a_json : b_json;
	const char *bare = quoted == a_json ? b_json : a_json;
	size_t len = strlen(bare);
	char inner[16];

	if(strcmp(a_json, b_json) == 0){
		return true;
	}
	if(quoted[0] != '"' || bare[0] == '"' || len == 0 || len >= sizeof(inner)
			|| strlen(quoted) != len + 2 || quoted[len + 1] != '"'
			|| strncmp(quoted + 1, bare, len) != 0){
		return false;
	}
	memcpy(inner, bare, len);
	inner[len] = '\0';
	return is_numeric_text(inner);
}

bool ota_version_equal(const char *a_json, const char *b_json)
{
	cJSON *a;
	cJSON *b;
	char ta[OTA_VERSION_MAX + 8];
	char tb[OTA_VERSION_MAX + 8];
	bool equal = false;

	if(!a_json || !b_json){
		return false;
	}
	if(same_version_text(a_json, b_json)){
		return true;
	}
	a = ota_json_parse_exact(a_json);
	b = ota_json_parse_exact(b_json);
	if(a && b){
		bool na = numeric_version(a, ta, sizeof(ta));
		bool nb = numeric_version(b, tb, sizeof(tb));

		if(na && nb){
			equal = numbers_equal(ta, tb);
		}else if(cJSON_IsString(a) && cJSON_IsString(b)){
			equal = strcmp(a->valuestring, b->valuestring) == 0;
		}
	}
	cJSON_Delete(a);
	cJSON_Delete(b);
	return equal;
}

/* ===================================================================== */
/* Names                                                                 */
/* ===================================================================== */

static const char *const decline_codes[OTA_DECLINE_COUNT] = {
	[OTA_DECLINE_NONE] = "none",
	[OTA_DECLINE_TOO_LARGE] = "too_large",
	[OTA_DECLINE_BAD_JSON] = "bad_json",
	[OTA_DECLINE_NOT_OBJECT] = "not_object",
	[OTA_DECLINE_TOO_DEEP] = "too_deep",
	[OTA_DECLINE_BAD_UTF8] = "bad_utf8",
	[OTA_DECLINE_BAD_STATUS] = "bad_status",
	[OTA_DECLINE_BAD_PROGRESS] = "bad_progress",
	[OTA_DECLINE_BAD_TASK_ID] = "bad_task_id",
	[OTA_DECLINE_BAD_VERSION] = "bad_version",
	[OTA_DECLINE_BAD_MESSAGE] = "bad_message",
	[OTA_DECLINE_BAD_URL] = "bad_url",
	[OTA_DECLINE_BAD_SERIAL] = "bad_serial",
	[OTA_DECLINE_UNKNOWN_TASK] = "unknown_task",
	[OTA_DECLINE_NOT_THIS_DEVICE] = "not_this_device",
	[OTA_DECLINE_DUPLICATE] = "duplicate",
	[OTA_DECLINE_STALE] = "stale",
	[OTA_DECLINE_ILLEGAL] = "illegal_transition",
	[OTA_DECLINE_CONFLICT] = "conflict",
	[OTA_DECLINE_NOT_BACKEND] = "not_backend",
	[OTA_DECLINE_IDENTITY] = "identity",
	[OTA_DECLINE_RESERVED_TOPIC] = "reserved_topic",
	[OTA_DECLINE_STORE] = "store_error",
	[OTA_DECLINE_TASK_LIMIT] = "task_limit",
};

const char *ota_decline_code(enum ota_decline reason)
{
	if(reason < 0 || reason >= OTA_DECLINE_COUNT || !decline_codes[reason]){
		return "unknown";
	}
	return decline_codes[reason];
}

const char *ota_status_name(int status)
{
	switch(status){
		case OTA_AWAIT: return "AWAIT";
		case OTA_SEND: return "SEND";
		case OTA_REPLY: return "REPLY";
		case OTA_SUCCESS: return "SUCCESS";
		case OTA_FAILED: return "FAILED";
		case OTA_STOP: return "STOP";
		default: return "UNKNOWN";
	}
}
