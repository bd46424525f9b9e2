/*
 * Driver for counting the instructions the tracker spends on one accepted
 * reply. Run it under `valgrind --tool=callgrind --toggle-collect=feed_replies`:
 * only feed_replies() is counted, and the inclusive count of
 * ota_tracker_message divided by the replies is the cost per reply, stable
 * on a noisy machine where timings are not.
 *
 * It runs the first tick and learns one task from observed `set` messages
 * (neither counted), then feeds four progress replies and a success from
 * every device, interleaved as a fleet sends them. A synthetic clock
 * advances 50 microseconds per reply (20,000 replies per second), and the
 * tick runs every simulated millisecond, as the broker calls it once per
 * event-loop iteration.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ota_config.h"
#include "ota_tracker.h"

#define REPLIES_PER_DEVICE 5
#define CLOCK_STEP_US 50

struct driver {
	struct ota_tracker *tracker;
	int64_t clock_us;
	uint64_t published;
	int devices;
	int64_t task_id;
};

static int io_publish(void *ctx, const char *topic, const char *payload,
	size_t len, int qos, bool retain)
{
	struct driver *driver = ctx;

	(void)topic;
	(void)payload;
	(void)len;
	(void)qos;
	(void)retain;
	driver->published++;
	return 0;
}

static int64_t io_clock_ms(void *ctx)
{
	struct driver *driver = ctx;

	return driver->clock_us / 1000;
}

static void io_log(void *ctx, enum ota_log_level level, const char *text)
{
	(void)ctx;
	if(level >= OTA_LOG_WARNING){
		fprintf(stderr, "%s\n", text);
	}
}

static void observe_sets(struct driver *driver)
{
	struct ota_client backend = {.client_id = "bench-backend", .connection = driver};
	char topic[64];
	char payload[128];

	for(int i = 0; i < driver->devices; i++){
		snprintf(topic, sizeof(topic), "/RC%07d/http/upgrade/set", i);
		snprintf(payload, sizeof(payload), "{\"taskId\":%" PRId64 ",\"url\":"
			"\"/bench/firmware-1.2.bin\",\"version\":1.2,\"status\":1}", driver->task_id);
		ota_tracker_message(driver->tracker, &backend, topic, payload, strlen(payload));
	}
}

/* Everything inside this function is what callgrind counts. */
__attribute__((noinline)) static uint64_t feed_replies(struct driver *driver)
{
	char serial[32];
	char topic[64];
	char payload[128];
	uint64_t fed = 0;

	for(int reply = 0; reply < REPLIES_PER_DEVICE; reply++){
		for(int i = 0; i < driver->devices; i++){
			struct ota_client device = {.client_id = serial, .connection = driver};

			snprintf(serial, sizeof(serial), "RC%07d", i);
			snprintf(topic, sizeof(topic), "/%s/http/upgrade/reply", serial);
			if(reply < REPLIES_PER_DEVICE - 1){
				snprintf(payload, sizeof(payload), "{\"taskId\":%" PRId64 ",\"progress\":%d,"
					"\"version\":\"1.2\",\"status\":2}", driver->task_id, (reply + 1) * 25);
			}else{
				snprintf(payload, sizeof(payload), "{\"taskId\":%" PRId64
					",\"version\":\"1.2\",\"status\":3}", driver->task_id);
			}
			ota_tracker_message(driver->tracker, &device, topic, payload, strlen(payload));
			fed++;

			driver->clock_us += CLOCK_STEP_US;
			if(driver->clock_us % 1000 == 0){
				ota_tracker_tick(driver->tracker);
			}
		}
	}
	return fed;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"db", required_argument, NULL, 'D'},
		{"devices", required_argument, NULL, 'n'},
		{"task-id", required_argument, NULL, 'T'},
		{"option", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	struct driver driver = {.devices = 1000, .task_id = 5000000};
	struct ota_io io = {.publish = io_publish, .log = io_log,
		.clock_ms = io_clock_ms, .ctx = &driver};
	struct ota_config config;
	struct timespec ts;
	uint64_t published_before;
	uint64_t fed;
	char err[768];
	char *equals;
	int c;

	ota_config_init(&config);
	while((c = getopt_long(argc, argv, "o:", longs, NULL)) != -1){
		switch(c){
			case 'D':
				ota_config_set(&config, "db_path", optarg, err, sizeof(err));
				break;
			case 'n': driver.devices = atoi(optarg); break;
			case 'T': driver.task_id = strtoll(optarg, NULL, 10); break;
			case 'o':
				equals = strchr(optarg, '=');
				if(!equals){
					fprintf(stderr, "reply_cost: invalid option \"%s\": expected KEY=VALUE\n",
						optarg);
					return 2;
				}
				*equals = '\0';
				if(!ota_config_set(&config, optarg, equals + 1, err, sizeof(err))){
					fprintf(stderr, "reply_cost: %s\n", err);
					return 2;
				}
				break;
			default:
				fprintf(stderr, "usage: reply_cost --db PATH [--devices N] [--task-id ID]"
					" [-o KEY=VALUE]...\n");
				return 2;
		}
	}
	if(driver.devices < 1 || driver.task_id < 1){
		fprintf(stderr, "reply_cost: --devices and --task-id must be positive\n");
		return 2;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	driver.clock_us = (int64_t)ts.tv_sec * 1000000;
	driver.tracker = ota_tracker_new(&config, &io, err, sizeof(err));
	if(!driver.tracker){
		fprintf(stderr, "reply_cost: %s\n", err);
		return 1;
	}
	/* The first ticks load every task's counts: a start-up cost, kept out
	 * of the count like the sets. */
	do{
		ota_tracker_tick(driver.tracker);
	}while(!ota_tracker_started(driver.tracker));
	observe_sets(&driver);
	ota_tracker_flush(driver.tracker);

	published_before = driver.published;
	fed = feed_replies(&driver);
	ota_tracker_flush(driver.tracker);
	printf("reply_cost devices=%d replies=%" PRIu64 " durability=%s published=%" PRIu64 "\n",
		driver.devices, fed, ota_durability_name(config.durability),
		driver.published - published_before);
	ota_config_free(&config);
	ota_tracker_free(driver.tracker);
	/* Each accepted reply derives one status message; the tick may add
	 * summaries. Fewer messages than replies means some were declined. */
	return driver.published - published_before >= fed ? 0 : 1;
}
