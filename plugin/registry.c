/*
 * In-memory registry of tasks the tracker has touched in this run: their
 * rollout settings and per-status row counts. The counts follow every
 * transition by delta, so the push gate, the abort threshold, the finished
 * check and the summary read no rows. They are loaded from the store on a
 * task's first use and reloaded after any rollback.
 *
 * Tasks that need the tick (pushes waiting, a summary to publish, a
 * schedule, a sweep of rows to stop) are kept on an attention list, so a
 * tick with nothing to do touches no task.
 */
#include "tracker_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_id(int64_t id)
{
	uint64_t x = (uint64_t)id;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

void ota__registry_free(struct ota_registry *r)
{
	free(r->slots);
	free(r->attention);
	memset(r, 0, sizeof(*r));
}

static struct ota_task_entry *find_slot(struct ota_task_entry *slots, size_t capacity,
	int64_t id)
{
	size_t mask = capacity - 1;
	size_t i = hash_id(id) & mask;

	while(slots[i].id != 0 && slots[i].id != id){
		i = (i + 1) & mask;
	}
	return &slots[i];
}

static bool grow(struct ota_registry *r)
{
	size_t capacity = r->capacity ? r->capacity * 2 : 64;
	struct ota_task_entry *slots = calloc(capacity, sizeof(*slots));

	if(!slots){
		return false;
	}
	for(size_t i = 0; i < r->capacity; i++){
		if(r->slots[i].id != 0){
			*find_slot(slots, capacity, r->slots[i].id) = r->slots[i];
		}
	}
	free(r->slots);
	r->slots = slots;
	r->capacity = capacity;
	return true;
}

struct ota_task_entry *ota__registry_find(struct ota_registry *r, int64_t id)
{
	struct ota_task_entry *e;

	if(r->capacity == 0){
		return NULL;
	}
	e = find_slot(r->slots, r->capacity, id);
	return e->id == id ? e : NULL;
}

void ota__registry_attend(struct ota_registry *r, struct ota_task_entry *e)
{
	if(e->in_attention){
		return;
	}
	if(r->attention_len == r->attention_cap){
		size_t cap = r->attention_cap ? r->attention_cap * 2 : 16;
		int64_t *grown = realloc(r->attention, cap * sizeof(*grown));

		if(!grown){
			return;
		}
		r->attention = grown;
		r->attention_cap = cap;
	}
	r->attention[r->attention_len++] = e->id;
	e->in_attention = true;
}

/* Copies the task's settings into its entry. */
static void fill_entry(struct ota_task_entry *e, const struct ota_task *task)
{
	e->task = *task;
	e->task.extra = NULL; /* pushes read it from the store */
	e->id = task->id;
	e->state = task->state;
	e->leading_slash = task->leading_slash;
	e->from_api = task->from_api;
	e->max_concurrent = task->max_concurrent;
	e->abort_failure_percent = task->abort_failure_percent;
	e->abort_min_finished = task->abort_min_finished;
	e->start_at = task->start_at;
	e->end_at = task->end_at;
}

bool ota__registry_task(struct ota_tracker *t, int64_t id, struct ota_task *out)
{
	struct ota_task_entry *e = ota__registry_find(&t->registry, id);

	if(!e || e->deleted || !e->counts_valid){
		return false;
	}
	*out = e->task;
	out->state = e->state;
	return true;
}

int ota__registry_load_counts(struct ota_tracker *t, struct ota_task_entry *e)
{
	struct ota_task task;

	/* Settings may have been rolled back with the counts: read both. */
	if(ota_store_task_get(t->store, e->id, &task) == OTA_STORE_OK){
		fill_entry(e, &task);
		ota_task_clear(&task);
	}
	if(ota_store_task_counts(t->store, e->id, &e->counts)){
		e->counts_valid = false;
		return OTA_STORE_ERROR;
	}
	e->counts_valid = true;
	return OTA_STORE_OK;
}

struct ota_task_entry *ota__registry_get(struct ota_tracker *t, const struct ota_task *task)
{
	struct ota_registry *r = &t->registry;
	struct ota_task_entry *e = ota__registry_find(r, task->id);

	if(e){
		if(!e->counts_valid){
			ota__registry_load_counts(t, e);
		}
		return e;
	}
	if((r->count + 1) * 4 > r->capacity * 3 && !grow(r)){
		return NULL;
	}
	e = find_slot(r->slots, r->capacity, task->id);
	memset(e, 0, sizeof(*e));
	fill_entry(e, task);
	r->count++;
	ota__registry_load_counts(t, e);
	/* Every task gets a summary once per run, and the tick checks it. */
	e->dirty = true;
	ota__registry_attend(r, e);
	return e;
}

struct ota_task_entry *ota__registry_get_id(struct ota_tracker *t, int64_t id)
{
	struct ota_task_entry *e = ota__registry_find(&t->registry, id);
	struct ota_task task;

	if(e){
		if(!e->counts_valid){
			ota__registry_load_counts(t, e);
		}
		return e;
	}
	if(ota_store_task_get(t->store, id, &task) != OTA_STORE_OK){
		return NULL;
	}
	e = ota__registry_get(t, &task);
	ota_task_clear(&task);
	return e;
}

void ota__registry_invalidate(struct ota_registry *r)
{
	for(size_t i = 0; i < r->capacity; i++){
		if(r->slots[i].id != 0){
			r->slots[i].counts_valid = false;
			r->slots[i].dirty = true;
			ota__registry_attend(r, &r->slots[i]);
		}
	}
}

/* Returns the counter a row is counted in, or NULL for no row. */
static int64_t *bucket(struct ota_task_counts *c, const struct ota_device_row *row)
{
	switch(row->row.status){
		case OTA_AWAIT: return &c->await;
		case OTA_SEND: return &c->send;
		case OTA_REPLY: return &c->upgrading;
		case OTA_SUCCESS: return &c->success;
		case OTA_FAILED: return &c->failed;
		case OTA_STOP: return &c->stopped;
		default: return NULL;
	}
}

static void count_row(struct ota_task_counts *c, const struct ota_device_row *row, int sign)
{
	int64_t *b = bucket(c, row);

	if(!b){
		return;
	}
	*b += sign;
	c->total += sign;
	if(row->row.status == OTA_FAILED && row->due_at){
		c->retrying += sign;
	}
	if(row->row.status == OTA_STOP && row->row.reason == OTA_REASON_OFFLINE){
		c->offline += sign;
	}
}

void ota__registry_count(struct ota_registry *r, struct ota_task_entry *e,
	const struct ota_device_row *before, const struct ota_device_row *after)
{
	if(e->counts_valid){
		count_row(&e->counts, before, -1);
		count_row(&e->counts, after, +1);
	}
	e->dirty = true;
	if(after->row.status == OTA_AWAIT){
		e->gate_pending = true;
	}
	ota__registry_attend(r, e);
}

int64_t ota__counts_in_flight(const struct ota_task_counts *c)
{
	return c->send + c->upgrading;
}

bool ota__counts_all_final(const struct ota_task_counts *c)
{
	return c->await == 0 && c->send == 0 && c->upgrading == 0
		&& c->offline == 0 && c->retrying == 0;
}
