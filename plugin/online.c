/*
 * Devices online now: an open-addressing hash table from serial number to
 * the connection the device was last seen on. Only the connection that set
 * an entry clears it, because on a session takeover the old connection's
 * disconnect can arrive after the new connection has published.
 */
#include "tracker_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for(const unsigned char *p = (const unsigned char *)s; *p; p++){
		h = (h ^ *p) * 1099511628211ULL;
	}
	return h;
}

void ota__online_init(struct ota_online *online)
{
	memset(online, 0, sizeof(*online));
}

void ota__online_free(struct ota_online *online)
{
	for(size_t i = 0; i < online->capacity; i++){
		free(online->slots[i].serial);
	}
	free(online->slots);
	memset(online, 0, sizeof(*online));
}

/* Returns the slot holding `serial`, or NULL. */
static struct ota_online_entry *find(const struct ota_online *online, const char *serial)
{
	size_t mask = online->capacity - 1;

	if(online->capacity == 0){
		return NULL;
	}
	for(size_t i = hash(serial) & mask, n = 0; n < online->capacity; i = (i + 1) & mask, n++){
		struct ota_online_entry *e = &online->slots[i];

		if(!e->serial && !e->tombstone){
			return NULL;
		}
		if(e->serial && strcmp(e->serial, serial) == 0){
			return e;
		}
	}
	return NULL;
}

static void insert_entry(struct ota_online *online, char *serial, const void *connection)
{
	size_t mask = online->capacity - 1;
	size_t i = hash(serial) & mask;

	while(online->slots[i].serial){
		i = (i + 1) & mask;
	}
	if(!online->slots[i].tombstone){
		online->used++;
	}
	online->slots[i].serial = serial;
	online->slots[i].connection = connection;
	online->slots[i].tombstone = false;
	online->live++;
}

/* Doubles the table (or rebuilds it without tombstones) at 3/4 full. */
static bool grow(struct ota_online *online)
{
	struct ota_online old = *online;
	size_t capacity = old.capacity ? old.capacity : 64;

	if(old.live * 2 >= capacity){
		capacity *= 2;
	}
	online->slots = calloc(capacity, sizeof(*online->slots));
	if(!online->slots){
		*online = old;
		return false;
	}
	online->capacity = capacity;
	online->used = 0;
	online->live = 0;
	for(size_t i = 0; i < old.capacity; i++){
		if(old.slots[i].serial){
			insert_entry(online, old.slots[i].serial, old.slots[i].connection);
		}
	}
	free(old.slots);
	return true;
}

bool ota__online_set(struct ota_online *online, const char *serial,
	const void *connection)
{
	struct ota_online_entry *e = find(online, serial);
	char *copy;

	if(e){
		e->connection = connection;
		return false;
	}
	if((online->used + 1) * 4 > online->capacity * 3 && !grow(online)){
		return false;
	}
	copy = strdup(serial);
	if(!copy){
		return false;
	}
	insert_entry(online, copy, connection);
	return true;
}

void ota__online_clear(struct ota_online *online, const char *serial,
	const void *connection)
{
	struct ota_online_entry *e = find(online, serial);

	if(!e || e->connection != connection){
		return;
	}
	free(e->serial);
	e->serial = NULL;
	e->connection = NULL;
	e->tombstone = true;
	online->live--;
}

bool ota__online_has(const struct ota_online *online, const char *serial)
{
	return find(online, serial) != NULL;
}
