/*
 * Device identity: whether the client that published on
 * `{serial}/http/upgrade/reply` may speak for device {serial}. Client ids
 * and usernames containing '+', '#' or '/' never match, because serial
 * numbers cannot contain them.
 */
#include "tracker_internal.h"

#include <stdio.h>
#include <string.h>

bool ota__fastbee_serial(const char *client_id, char *out, size_t size)
{
	const char *first;
	const char *second;
	size_t len;

	/* {type}&{serialNumber}&{productId}&{userId}; a client id with '/',
	 * '+' or '#' anywhere names no device. */
	if(!client_id || strpbrk(client_id, "/+#") || !(first = strchr(client_id, '&'))){
		return false;
	}
	first++;
	second = strchr(first, '&');
	if(!second || !strchr(second + 1, '&')){
		return false;
	}
	len = (size_t)(second - first);
	if(len == 0 || len >= size){
		return false;
	}
	memcpy(out, first, len);
	out[len] = '\0';
	return ota_serial_valid(out);
}

static bool same_serial(const char *serial, const char *name)
{
	return name && ota_serial_valid(name) && strcmp(serial, name) == 0;
}

static bool fastbee_matches(const char *serial, const char *client_id)
{
	char named[OTA_SERIAL_MAX + 1];

	return ota__fastbee_serial(client_id, named, sizeof(named))
		&& strcmp(named, serial) == 0;
}

bool ota__identity_matches(enum ota_identity mode, const char *serial,
	const char *client_id, const char *username)
{
	switch(mode){
		case OTA_IDENTITY_NONE:
			return true;
		case OTA_IDENTITY_CLIENTID:
			return same_serial(serial, client_id);
		case OTA_IDENTITY_USERNAME:
			return same_serial(serial, username);
		case OTA_IDENTITY_FASTBEE:
			return fastbee_matches(serial, client_id);
		case OTA_IDENTITY_AUTO:
		default:
			return same_serial(serial, client_id)
				|| same_serial(serial, username)
				|| fastbee_matches(serial, client_id);
	}
}
