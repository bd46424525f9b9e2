/*
 * Text output of mosquitto_ota. The admin API's `data` objects differ per
 * command, so they are printed by shape rather than by command: scalar
 * fields become aligned "name: value" lines, nested objects indented
 * sections, and arrays of objects (tasks, device rows, history) tables.
 *
 * Tables show the columns of `known_columns` that occur in the rows, looking
 * one level into nested objects so that a task's summary counts line up
 * with its other fields. Rows with none of those keys show all their scalar
 * fields instead. --json prints every field.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ota_cli.h"
#include "ota_protocol.h"

#define INDENT_STEP 2

struct column {
	const char *key;
	const char *header;
	bool right_aligned;
};

static const struct column known_columns[] = {
	{"taskId", "TASK", true},
	{"serialNumber", "SERIAL", false},
	{"name", "NAME", false},
	{"version", "VERSION", false},
	{"state", "STATE", false},
	{"status", "STATUS", false},
	{"progress", "PROGRESS", true},
	{"attempts", "ATTEMPTS", true},
	{"total", "TOTAL", true},
	{"await", "AWAIT", true},
	{"send", "SEND", true},
	{"upgrading", "UPGRADING", true},
	{"success", "SUCCESS", true},
	{"failed", "FAILED", true},
	{"stopped", "STOPPED", true},
	{"at", "TIME", false},
	{"createdAt", "CREATED", false},
	{"updatedAt", "UPDATED", false},
	{"message", "MESSAGE", false},
	{"reason", "REASON", false},
};
#define KNOWN_COLUMN_COUNT (sizeof(known_columns) / sizeof(known_columns[0]))

/* ===================================================================== */
/* Values                                                                */
/* ===================================================================== */

static char *copy_string(const char *s)
{
	size_t len = strlen(s);
	char *copy = malloc(len + 1);

	if(copy){
		memcpy(copy, s, len + 1);
	}
	return copy;
}

/* Returns true for keys that hold milliseconds since the Unix epoch: "at",
 * "timestamp" and camelCase names ending in "At" (updatedAt, startAt). */
static bool is_time_key(const char *key)
{
	size_t len = strlen(key);

	if(strcmp(key, "at") == 0 || strcmp(key, "timestamp") == 0){
		return true;
	}
	return len > 2 && strcmp(key + len - 2, "At") == 0
		&& key[len - 3] >= 'a' && key[len - 3] <= 'z';
}

static char *format_time(double ms)
{
	char text[40];
	time_t seconds = (time_t)(ms / 1000.0);
	struct tm tm;

	if(ms <= 0 || !gmtime_r(&seconds, &tm)){
		return copy_string("-");
	}
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return copy_string(text);
}

static char *format_status(int status)
{
	char text[40];

	snprintf(text, sizeof(text), "%s (%d)", ota_status_name(status), status);
	return copy_string(text);
}

/*
 * Formats one field for display; `key` selects the special forms (status
 * name with code, ISO-8601 time, progress in percent). Returns a string from
 * malloc, or NULL when out of memory.
 */
static char *format_value(const char *key, const cJSON *item)
{
	char text[40];

	if(!item || cJSON_IsNull(item)){
		return copy_string("-");
	}
	if(cJSON_IsString(item)){
		return copy_string(item->valuestring);
	}
	if(cJSON_IsBool(item)){
		return copy_string(cJSON_IsTrue(item) ? "yes" : "no");
	}
	if(cJSON_IsNumber(item) && key){
		if(strcmp(key, "status") == 0 && item->valuedouble == (double)item->valueint){
			return format_status(item->valueint);
		}
		if(is_time_key(key)){
			return format_time(item->valuedouble);
		}
		if(strcmp(key, "progress") == 0){
			snprintf(text, sizeof(text), "%.0f%%", item->valuedouble);
			return copy_string(text);
		}
	}
	/* Numbers keep the text cJSON gives them, exact up to 2^53; objects and
	 * arrays print as compact JSON. */
	return cJSON_PrintUnformatted(item);
}

/*
 * Returns the number of terminal columns `s` takes: one per code point, two
 * for the East Asian wide ranges that task names and device messages from
 * FastBee deployments often use (CJK, Hangul, full-width forms).
 */
static size_t display_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t width = 0;

	while(*p){
		uint32_t cp = *p;
		int extra = 0;

		if(cp >= 0xF0){
			cp &= 0x07;
			extra = 3;
		}else if(cp >= 0xE0){
			cp &= 0x0F;
			extra = 2;
		}else if(cp >= 0xC0){
			cp &= 0x1F;
			extra = 1;
		}
		p++;
		for(; extra > 0 && (*p & 0xC0) == 0x80; extra--, p++){
			cp = (cp << 6) | (*p & 0x3F);
		}
		if((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF)
				|| (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF)
				|| (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60)
				|| (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD)){
			width += 2;
		}else{
			width += 1;
		}
	}
	return width;
}

static void print_padded(FILE *out, const char *text, size_t width, bool right_aligned)
{
	size_t used = display_width(text);
	size_t pad = used < width ? width - used : 0;

	if(right_aligned){
		fprintf(out, "%*s%s", (int)pad, "", text);
	}else{
		fprintf(out, "%s%*s", text, (int)pad, "");
	}
}

/* Writes a camelCase key as lower-case words: "devicesOnline" becomes
 * "devices online". */
static void humanize(const char *key, char *out, size_t size)
{
	size_t n = 0;

	for(const char *p = key; *p && n + 2 < size; p++){
		if(*p >= 'A' && *p <= 'Z' && p != key){
			out[n++] = ' ';
			out[n++] = (char)(*p - 'A' + 'a');
		}else{
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static bool is_table(const cJSON *item)
{
	return cJSON_IsArray(item) && cJSON_GetArraySize(item) > 0
		&& cJSON_IsObject(cJSON_GetArrayItem(item, 0));
}

/* ===================================================================== */
/* Tables                                                                */
/* ===================================================================== */

/* Finds `key` in a row, or in one of the row's nested objects. */
static const cJSON *row_field(const cJSON *row, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(row, key);
	const cJSON *child;

	if(item){
		return item;
	}
	cJSON_ArrayForEach(child, row){
		if(cJSON_IsObject(child) && (item = cJSON_GetObjectItemCaseSensitive(child, key))){
			return item;
		}
	}
	return NULL;
}

/* Picks the columns for `rows`: the known columns present in any row, or
 * else every scalar field of the rows in first-seen order. */
static size_t choose_columns(const cJSON *rows, struct column *columns, size_t max)
{
	const cJSON *row;
	const cJSON *field;
	size_t count = 0;

	for(size_t i = 0; i < KNOWN_COLUMN_COUNT; i++){
		cJSON_ArrayForEach(row, rows){
			if(row_field(row, known_columns[i].key)){
				columns[count++] = known_columns[i];
				break;
			}
		}
	}
	if(count > 0){
		return count;
	}

	cJSON_ArrayForEach(row, rows){
		cJSON_ArrayForEach(field, row){
			bool seen = false;

			if(cJSON_IsObject(field) || cJSON_IsArray(field)){
				continue;
			}
			for(size_t i = 0; i < count && !seen; i++){
				seen = strcmp(columns[i].key, field->string) == 0;
			}
			if(!seen && count < max){
				columns[count].key = field->string;
				columns[count].header = field->string;
				columns[count].right_aligned = cJSON_IsNumber(field);
				count++;
			}
		}
	}
	return count;
}

static void print_table(FILE *out, const cJSON *rows, int indent)
{
	struct column columns[32];
	size_t widths[32];
	size_t column_count = choose_columns(rows, columns, 32);
	size_t row_count = (size_t)cJSON_GetArraySize(rows);
	char **cells = calloc(row_count * column_count + 1, sizeof(char *));
	const cJSON *row;
	size_t r = 0;

	if(!cells){
		fprintf(stderr, "Error: out of memory\n");
		return;
	}
	for(size_t c = 0; c < column_count; c++){
		widths[c] = display_width(columns[c].header);
	}
	cJSON_ArrayForEach(row, rows){
		for(size_t c = 0; c < column_count; c++){
			char *cell = format_value(columns[c].key, row_field(row, columns[c].key));
			size_t width = cell ? display_width(cell) : 0;

			cells[r * column_count + c] = cell;
			if(width > widths[c]){
				widths[c] = width;
			}
		}
		r++;
	}

	fprintf(out, "%*s", indent, "");
	for(size_t c = 0; c < column_count; c++){
		bool last = c + 1 == column_count;

		print_padded(out, columns[c].header, last ? 0 : widths[c], columns[c].right_aligned);
		fputs(last ? "\n" : "  ", out);
	}
	for(r = 0; r < row_count; r++){
		fprintf(out, "%*s", indent, "");
		for(size_t c = 0; c < column_count; c++){
			const char *cell = cells[r * column_count + c];
			bool last = c + 1 == column_count;

			print_padded(out, cell ? cell : "?", last && !columns[c].right_aligned ? 0 : widths[c],
				columns[c].right_aligned);
			fputs(last ? "\n" : "  ", out);
		}
	}

	for(size_t i = 0; i < row_count * column_count; i++){
		free(cells[i]);
	}
	free(cells);
}

/* ===================================================================== */
/* Objects                                                               */
/* ===================================================================== */

static void print_object(FILE *out, const cJSON *object, int indent, bool humanize_keys);

static void label_of(const cJSON *item, bool humanize_keys, char *label, size_t size)
{
	if(humanize_keys){
		humanize(item->string, label, size);
	}else{
		snprintf(label, size, "%s", item->string);
	}
}

/* Prints an array of scalars on one line, comma-separated. */
static void print_list(FILE *out, const cJSON *array)
{
	const cJSON *item;
	bool first = true;

	if(cJSON_GetArraySize(array) == 0){
		fputs("(none)", out);
	}
	cJSON_ArrayForEach(item, array){
		char *text = format_value(NULL, item);

		fprintf(out, "%s%s", first ? "" : ", ", text ? text : "?");
		free(text);
		first = false;
	}
}

/* Prints the members that fit on one line each, with aligned labels. */
static void print_scalars(FILE *out, const cJSON *object, int indent, bool humanize_keys)
{
	const cJSON *item;
	char label[128];
	size_t width = 0;

	cJSON_ArrayForEach(item, object){
		if(!cJSON_IsObject(item) && !is_table(item)){
			label_of(item, humanize_keys, label, sizeof(label));
			if(display_width(label) > width){
				width = display_width(label);
			}
		}
	}
	cJSON_ArrayForEach(item, object){
		if(cJSON_IsObject(item) || is_table(item)){
			continue;
		}
		label_of(item, humanize_keys, label, sizeof(label));
		fprintf(out, "%*s%s:", indent, "", label);
		fprintf(out, "%*s ", (int)(width - display_width(label)), "");
		if(cJSON_IsArray(item)){
			print_list(out, item);
		}else{
			char *text = format_value(item->string, item);

			fputs(text ? text : "?", out);
			free(text);
		}
		fputc('\n', out);
	}
}

/* Prints nested objects as indented sections and arrays of objects as
 * tables, each under its own heading. */
static void print_sections(FILE *out, const cJSON *object, int indent, bool humanize_keys)
{
	const cJSON *item;
	char label[128];

	cJSON_ArrayForEach(item, object){
		if(!cJSON_IsObject(item) && !is_table(item)){
			continue;
		}
		label_of(item, humanize_keys, label, sizeof(label));
		if(cJSON_IsObject(item)){
			fprintf(out, "%*s%s:%s\n", indent, "", label, item->child ? "" : " (none)");
			print_object(out, item, indent + INDENT_STEP, false);
		}else{
			fprintf(out, "\n%*s%s (%d):\n", indent, "", label, cJSON_GetArraySize(item));
			print_table(out, item, indent + INDENT_STEP);
		}
	}
}

static void print_object(FILE *out, const cJSON *object, int indent, bool humanize_keys)
{
	print_scalars(out, object, indent, humanize_keys);
	print_sections(out, object, indent, humanize_keys);
}

void ota_cli_print_data(FILE *out, const cJSON *data)
{
	if(cJSON_IsObject(data)){
		print_object(out, data, 0, true);
		return;
	}

	char *text = format_value(NULL, data);

	fprintf(out, "%s\n", text ? text : "?");
	free(text);
}
