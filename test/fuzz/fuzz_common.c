/*
 * Shared set-up of the libFuzzer targets; see fuzz_common.h.
 *
 * The database goes to /dev/shm when it exists, because every input
 * commits and a RAM-backed folder lets libFuzzer run more of them, else to
 * $TMPDIR or /tmp.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ota_tracker *tracker;
static const char *const *tracker_options;
static unsigned long inputs;
static char folder[256];

static int discard_publish(void *ctx, const char *topic, const char *payload,
	size_t len, int qos, bool retain)
{
	(void)ctx;
	(void)topic;
	(void)payload;
	(void)len;
	(void)qos;
	(void)retain;
	return 0;
}

static void discard_log(void *ctx, enum ota_log_level level, const char *text)
{
	(void)ctx;
	(void)level;
	(void)text;
}

/* Frees the tracker, so that LeakSanitizer reports only real leaks, and
 * removes the database files and their folder. */
static void remove_tracker(void)
{
	if(!tracker){
		return;
	}
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char path[300];

	ota_tracker_free(tracker);
	tracker = NULL;
	for(size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++){
		snprintf(path, sizeof(path), "%s/ota.db%s", folder, suffixes[i]);
		unlink(path);
	}
	rmdir(folder);
}

void fuzz_fail(const char *reason)
{
	fprintf(stderr, "fuzz: %s\n", reason);
	abort();
}

static void create_tracker(void)
{
	struct ota_io io = {.publish = discard_publish, .log = discard_log};
	struct ota_config config;
	const char *base = getenv("TMPDIR");
	char path[300];
	char err[512];

	if(access("/dev/shm", W_OK) == 0){
		base = "/dev/shm";
	}else if(!base || !base[0]){
		base = "/tmp";
	}
	snprintf(folder, sizeof(folder), "%s/mosquitto-ota-fuzz.XXXXXX", base);
	if(!mkdtemp(folder)){
		fuzz_fail("cannot create a temporary folder for the database");
	}
	snprintf(path, sizeof(path), "%s/ota.db", folder);

	ota_config_init(&config);
	if(!ota_config_set(&config, "db_path", path, err, sizeof(err))){
		fuzz_fail(err);
	}
	for(size_t i = 0; tracker_options && tracker_options[i]; i += 2){
		if(!ota_config_set(&config, tracker_options[i], tracker_options[i + 1],
				err, sizeof(err))){
			fuzz_fail(err);
		}
	}
	tracker = ota_tracker_new(&config, &io, err, sizeof(err));
	ota_config_free(&config);
	if(!tracker){
		fuzz_fail(err);
	}
}

void fuzz_tracker_options(const char *const *options)
{
	tracker_options = options;
}

struct ota_tracker *fuzz_tracker(void)
{
	if(tracker && inputs % FUZZ_RESET_INPUTS == 0){
		remove_tracker();
	}
	if(!tracker){
		create_tracker();
		if(inputs == 0){
			atexit(remove_tracker);
		}
	}
	inputs++;
	return tracker;
}
