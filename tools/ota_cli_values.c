/*
 * Parsing of the values given to mosquitto_ota's options: whole numbers,
 * times in ms or ISO-8601, status codes or names. Each is converted to the
 * JSON value the admin API expects.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "ota_cli.h"
#include "ota_protocol.h"

bool ota_cli_parse_integer(const char *text, long long min, long long max, long long *out)
{
	char *end;
	long long value;

	if(!text[0] || (text[0] != '-' && (text[0] < '0' || text[0] > '9'))){
		return false;
	}
	errno = 0;
	value = strtoll(text, &end, 10);
	if(errno || *end || value < min || value > max){
		return false;
	}
	*out = value;
	return true;
}

bool ota_cli_is_numeric_text(const char *s)
{
	if(*s == '-'){
		s++;
	}
	if(*s < '0' || *s > '9'){
		return false;
	}
	while(*s >= '0' && *s <= '9'){
		s++;
	}
	if(*s == '.'){
		s++;
		if(*s < '0' || *s > '9'){
			return false;
		}
		while(*s >= '0' && *s <= '9'){
			s++;
		}
	}
	return *s == '\0';
}

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar. */
static long long days_from_civil(long long year, int month, int day)
{
	long long era;
	long long year_of_era;
	int day_of_year;

	year -= month <= 2;
	era = (year >= 0 ? year : year - 399) / 400;
	year_of_era = year - era * 400;
	day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	return era * 146097 + year_of_era * 365 + year_of_era / 4 - year_of_era / 100
		+ day_of_year - 719468;
}

static int days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* Reads exactly `count` digits at *p into *out and advances *p. */
static bool read_digits(const char **p, int count, int *out)
{
	int value = 0;

	for(int i = 0; i < count; i++){
		if((*p)[i] < '0' || (*p)[i] > '9'){
			return false;
		}
		value = value * 10 + ((*p)[i] - '0');
	}
	*p += count;
	*out = value;
	return true;
}

/*
 * Parses ISO-8601 date and time, YYYY-MM-DDTHH:MM[:SS[.fff]] followed by Z
 * or an offset ±HH:MM, into ms since the epoch.
 */
static bool parse_iso8601(const char *text, long long *ms)
{
	const char *p = text;
	int year, month, day, hour, minute, second = 0, millis = 0;
	int offset_minutes = 0;

	if(!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &month)
			|| *p++ != '-' || !read_digits(&p, 2, &day) || (*p != 'T' && *p != 't')){
		return false;
	}
	p++;
	if(!read_digits(&p, 2, &hour) || *p++ != ':' || !read_digits(&p, 2, &minute)){
		return false;
	}
	if(*p == ':'){
		p++;
		if(!read_digits(&p, 2, &second)){
			return false;
		}
		if(*p == '.'){
			int scale = 100;

			for(p++; *p >= '0' && *p <= '9'; p++){
				millis += (*p - '0') * scale;
				scale /= 10;
			}
		}
	}
	if(*p == 'Z' || *p == 'z'){
		p++;
	}else if(*p == '+' || *p == '-'){
		int sign = *p++ == '-' ? -1 : 1;
		int offset_hours, offset_mins;

		if(!read_digits(&p, 2, &offset_hours) || *p++ != ':' || !read_digits(&p, 2, &offset_mins)
				|| offset_hours > 23 || offset_mins > 59){
			return false;
		}
		offset_minutes = sign * (offset_hours * 60 + offset_mins);
	}else{
		return false;
	}
	if(*p || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)
			|| hour > 23 || minute > 59 || second > 59){
		return false;
	}

	*ms = ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute - offset_minutes)
		* 60000LL + second * 1000LL + millis;
	return true;
}

/* Parses a status code or FastBee's name for it, in any letter case. */
static bool parse_status(const char *text, int *out)
{
	long long code;

	if(ota_cli_parse_integer(text, OTA_AWAIT, OTA_STOP, &code)){
		*out = (int)code;
		return true;
	}
	for(int status = OTA_AWAIT; status <= OTA_STOP; status++){
		if(strcasecmp(text, ota_status_name(status)) == 0){
			*out = status;
			return true;
		}
	}
	return false;
}

static cJSON *parse_status_list(const char *text)
{
	cJSON *list = cJSON_CreateArray();
	char *copy = strdup(text);
	char *save = NULL;
	int status;

	if(!list || !copy){
		cJSON_Delete(list);
		free(copy);
		return NULL;
	}
	for(char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)){
		if(!parse_status(item, &status)){
			cJSON_Delete(list);
			free(copy);
			return NULL;
		}
		cJSON_AddItemToArray(list, cJSON_CreateNumber(status));
	}
	free(copy);
	if(cJSON_GetArraySize(list) == 0){
		cJSON_Delete(list);
		return NULL;
	}
	return list;
}

cJSON *ota_cli_convert_value(const struct ota_cli_option *o, const char *text)
{
	long long integer;
	int status;
	cJSON *list;

	switch(o->kind){
		case KIND_FLAG:
			return cJSON_CreateTrue();
		case KIND_STRING:
		case KIND_LOCAL:
			return cJSON_CreateString(text);
		case KIND_COUNT:
			if(ota_cli_parse_integer(text, 0, OTA_TASK_ID_MAX, &integer)){
				return cJSON_CreateNumber((double)integer);
			}
			fprintf(stderr, "Error: %s \"%s\": must be a whole number 0 or more\n", o->name, text);
			return NULL;
		case KIND_TASK_ID:
			if(ota_cli_parse_integer(text, 1, OTA_TASK_ID_MAX, &integer)){
				return cJSON_CreateNumber((double)integer);
			}
			fprintf(stderr, "Error: %s \"%s\": must be a whole number 1 to %lld\n",
				o->name, text, OTA_TASK_ID_MAX);
			return NULL;
		case KIND_PERCENT:
			if(ota_cli_parse_integer(text, 1, 100, &integer)){
				return cJSON_CreateNumber((double)integer);
			}
			fprintf(stderr, "Error: %s \"%s\": must be a whole number 1..100\n", o->name, text);
			return NULL;
		case KIND_TIME:
			if(ota_cli_parse_integer(text, 0, OTA_TASK_ID_MAX, &integer) || parse_iso8601(text, &integer)){
				return cJSON_CreateNumber((double)integer);
			}
			fprintf(stderr, "Error: %s \"%s\": must be ms since the epoch or ISO-8601"
				" such as 2026-12-05T10:00:00Z\n", o->name, text);
			return NULL;
		case KIND_STATUS:
			if(parse_status(text, &status)){
				return cJSON_CreateNumber(status);
			}
			break;
		case KIND_STATUS_LIST:
			if((list = parse_status_list(text))){
				return list;
			}
			break;
	}
	fprintf(stderr, "Error: %s \"%s\": must be %s (AWAIT 0, SEND 1, REPLY 2, SUCCESS 3,"
		" FAILED 4, STOP 5)\n", o->name, text, o->kind == KIND_STATUS
		? "a status code or name" : "comma-separated status codes or names");
	return NULL;
}
