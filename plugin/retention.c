/*
 * Retention: tasks that ended (finished, cancelled, aborted, expired) more
 * than retention_days ago are deleted with their rows and history, and
 * their retained summary is cleared. It runs at most every few minutes and
 * deletes a few tasks a run, because deleting a task of 100,000 rows takes
 * a noticeable part of a second.
 */
#include "tracker_internal.h"

#include <inttypes.h>
#include <stdlib.h>

#define RETENTION_PERIOD_MS (5 * 60 * 1000)
#define RETENTION_TASKS_PER_RUN 4
#define DAY_MS (24LL * 60 * 60 * 1000)

bool ota__task_limit_reached(struct ota_tracker *t, char *detail, size_t size)
{
	int64_t count = 0;

	if(t->config.max_tasks <= 0){
		return false;
	}
	if(ota_store_task_count(t->store, &count)){
		snprintf(detail, size, "database error: %s", ota_store_error(t->store));
		return true;
	}
	if(count < t->config.max_tasks){
		return false;
	}
	snprintf(detail, size, "task limit of %d reached (plugin_opt_max_tasks);"
		" set plugin_opt_retention_days or raise the limit", t->config.max_tasks);
	return true;
}

static int delete_task(struct ota_tracker *t, int64_t id)
{
	struct ota_task_entry *e = ota__registry_find(&t->registry, id);
	struct ota_task task;
	char topic[64];

	if(ota_store_task_get(t->store, id, &task) != OTA_STORE_OK){
		return OTA_STORE_ERROR;
	}
	ota__summary_topic(topic, sizeof(topic), task.leading_slash, id);
	ota_task_clear(&task);
	if(ota_store_task_delete(t->store, id) || ota__queue(t, topic, "", 0, true)){
		return OTA_STORE_ERROR;
	}
	if(e){
		e->deleted = true;
	}
	ota__log(t, OTA_LOG_INFO, "ota: task %" PRId64 " deleted after %d days (retention_days)",
		id, t->config.retention_days);
	return OTA_STORE_OK;
}

void ota__tick_retention(struct ota_tracker *t, int64_t now)
{
	int64_t *ids = NULL;
	int count;
	bool ok = true;

	if(t->config.retention_days <= 0 || now < t->retention_at){
		return;
	}
	t->retention_at = now + RETENTION_PERIOD_MS;
	count = ota_store_tasks_ended_before(t->store,
		now - (int64_t)t->config.retention_days * DAY_MS, RETENTION_TASKS_PER_RUN, &ids);
	if(count <= 0){
		free(ids);
		return;
	}
	if(count == RETENTION_TASKS_PER_RUN){
		/* More may be due: look again on a later tick. */
		t->retention_at = now + 1000;
	}
	ok = ota__tx_begin(t) == OTA_STORE_OK;
	for(int i = 0; ok && i < count; i++){
		ok = delete_task(t, ids[i]) == OTA_STORE_OK;
	}
	free(ids);
	if(ota__tx_end(t, ok)){
		ota__log(t, OTA_LOG_ERR, "ota: retention not applied: %s", ota_store_error(t->store));
	}
}
