/*
 * External tracker: the usual design that the plugin is measured against.
 * A separate process subscribes to the devices' replies and the backend's
 * `set` messages, runs the same tracker core as the plugin (otacore, through
 * ota_tracker.h), and publishes the derived status messages back through
 * the broker with libmosquitto.
 *
 * It reads the socket the way the load generator does: poll, then every
 * packet already waiting, so the comparison is not weighed down by one
 * wake-up per packet. Like the broker, it calls ota_tracker_tick once per
 * loop iteration and at least every 100 ms.
 *
 * An MQTT subscriber does not learn the publisher's client id, so the
 * tracker is given the serial number from a reply's topic as the client id,
 * which passes the `auto` identity check the plugin makes. TCP_NODELAY is
 * set, as on every client of the benchmarks.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <mosquitto.h>

#include "ota_config.h"
#include "ota_tracker.h"

#define KEEPALIVE_S 60
#define LOOP_WAIT_MS 100
#define READS_PER_WAKE 4096

struct external {
	struct mosquitto *mosq;
	struct ota_tracker *tracker;
	const char *ready_file;
	bool subscribed;
	bool connection_lost;
	int log_level;
	unsigned long messages;
	unsigned long store_failures;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int signal_number)
{
	(void)signal_number;
	stop_requested = 1;
}

/* ===================================================================== */
/* I/O for the tracker                                                   */
/* ===================================================================== */

static int io_publish(void *ctx, const char *topic, const char *payload,
	size_t len, int qos, bool retain)
{
	struct external *ext = ctx;

	return mosquitto_publish(ext->mosq, NULL, topic, (int)len, payload, qos, retain);
}

static void io_log(void *ctx, enum ota_log_level level, const char *text)
{
	struct external *ext = ctx;

	if((int)level >= ext->log_level){
		fprintf(stderr, "%s\n", text);
	}
}

/* ===================================================================== */
/* MQTT callbacks                                                        */
/* ===================================================================== */

static void on_connect(struct mosquitto *mosq, void *userdata, int rc)
{
	static char *topics[] = {
		"/+/http/upgrade/reply", "+/http/upgrade/reply",
		"/+/http/upgrade/set", "+/http/upgrade/set",
	};
	struct external *ext = userdata;

	if(rc != 0){
		fprintf(stderr, "external_tracker: connection refused: %s\n",
			mosquitto_connack_string(rc));
		ext->connection_lost = true;
		return;
	}
	if(mosquitto_subscribe_multiple(mosq, NULL, 4, topics, 1, 0, NULL)
			!= MOSQ_ERR_SUCCESS){
		fprintf(stderr, "external_tracker: subscribing failed\n");
		ext->connection_lost = true;
	}
}

static void on_subscribe(struct mosquitto *mosq, void *userdata, int mid,
	int qos_count, const int *granted_qos)
{
	struct external *ext = userdata;
	FILE *f;

	(void)mosq;
	(void)mid;
	for(int i = 0; i < qos_count; i++){
		if(granted_qos[i] > 2){
			fprintf(stderr, "external_tracker: subscription %d refused\n", i);
			ext->connection_lost = true;
			return;
		}
	}
	ext->subscribed = true;
	if(ext->ready_file && (f = fopen(ext->ready_file, "w"))){
		fputs("subscribed\n", f);
		fclose(f);
	}
}

static void on_disconnect(struct mosquitto *mosq, void *userdata, int rc)
{
	struct external *ext = userdata;

	(void)mosq;
	if(!stop_requested){
		fprintf(stderr, "external_tracker: connection lost: %s\n", mosquitto_strerror(rc));
		ext->connection_lost = true;
	}
}

/* Writes the first topic level, the serial number of a reply, to `out`. */
static void first_level(const char *topic, char *out, size_t size)
{
	const char *start = topic[0] == '/' ? topic + 1 : topic;
	const char *slash = strchr(start, '/');
	size_t len = slash ? (size_t)(slash - start) : strlen(start);

	if(len >= size){
		len = size - 1;
	}
	memcpy(out, start, len);
	out[len] = '\0';
}

static void on_message(struct mosquitto *mosq, void *userdata,
	const struct mosquitto_message *message)
{
	struct external *ext = userdata;
	char serial[80];
	struct ota_client client = {.connection = ext};
	bool is_reply = strstr(message->topic, "/http/upgrade/reply") != NULL;

	(void)mosq;
	if(is_reply){
		first_level(message->topic, serial, sizeof(serial));
		client.client_id = serial;
	}
	ext->messages++;
	if(ota_tracker_message(ext->tracker, &client, message->topic, message->payload,
			(size_t)message->payloadlen) == OTA_FAIL){
		ext->store_failures++;
	}
}

/* ===================================================================== */
/* Loop                                                                  */
/* ===================================================================== */

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads every complete packet already waiting on the socket. */
static int read_waiting(struct external *ext)
{
	int fd = mosquitto_socket(ext->mosq);

	for(int i = 0; i < READS_PER_WAKE; i++){
		int available = 0;
		int rc = mosquitto_loop_read(ext->mosq, 1);

		if(rc != MOSQ_ERR_SUCCESS){
			return rc;
		}
		if(ioctl(fd, FIONREAD, &available) != 0 || available <= 0){
			break;
		}
	}
	return MOSQ_ERR_SUCCESS;
}

static int run(struct external *ext)
{
	int64_t last_misc = monotonic_ms();

	while(!stop_requested && !ext->connection_lost){
		struct pollfd pfd = {
			.fd = mosquitto_socket(ext->mosq),
			.events = POLLIN | (mosquitto_want_write(ext->mosq) ? POLLOUT : 0),
		};
		int ready = poll(&pfd, 1, LOOP_WAIT_MS);

		if(ready < 0 && errno != EINTR){
			perror("external_tracker: poll");
			return 1;
		}
		if(ready > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP))
				&& read_waiting(ext) != MOSQ_ERR_SUCCESS){
			break;
		}
		ota_tracker_tick(ext->tracker);
		if(mosquitto_want_write(ext->mosq)
				&& mosquitto_loop_write(ext->mosq, 1) != MOSQ_ERR_SUCCESS){
			break;
		}
		if(monotonic_ms() - last_misc >= 1000){
			last_misc = monotonic_ms();
			mosquitto_loop_misc(ext->mosq);
		}
	}
	return stop_requested ? 0 : 1;
}

/* ===================================================================== */
/* Setup                                                                 */
/* ===================================================================== */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: external_tracker --db PATH [options]\n"
		"  -h, --host HOST        broker address (default 127.0.0.1)\n"
		"  -p, --port PORT        broker port (default 1883)\n"
		"  -i, --id ID            client id (default bench-external-tracker)\n"
		"      --db PATH          SQLite database of the tracker\n"
		"  -o, --option KEY=VALUE a plugin option without plugin_opt_, such as\n"
		"                         durability=batch; may be repeated\n"
		"      --ready-file PATH  written once the subscriptions are granted\n"
		"  -v, --verbose          log the tracker's notices too, not only warnings\n");
}

static int parse_options(int argc, char **argv, struct ota_config *config,
	struct external *ext, const char **host, int *port, const char **id)
{
	static const struct option longs[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"id", required_argument, NULL, 'i'},
		{"db", required_argument, NULL, 'D'},
		{"option", required_argument, NULL, 'o'},
		{"ready-file", required_argument, NULL, 'R'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	char err[256];
	bool have_db = false;
	int c;

	while((c = getopt_long(argc, argv, "h:p:i:o:v", longs, NULL)) != -1){
		char *equals;

		switch(c){
			case 'h': *host = optarg; break;
			case 'p': *port = atoi(optarg); break;
			case 'i': *id = optarg; break;
			case 'D':
				if(!ota_config_set(config, "db_path", optarg, err, sizeof(err))){
					fprintf(stderr, "external_tracker: %s\n", err);
					return -1;
				}
				have_db = true;
				break;
			case 'o':
				equals = strchr(optarg, '=');
				if(!equals){
					fprintf(stderr, "external_tracker: invalid option \"%s\":"
						" expected KEY=VALUE\n", optarg);
					return -1;
				}
				*equals = '\0';
				if(!ota_config_set(config, optarg, equals + 1, err, sizeof(err))){
					fprintf(stderr, "external_tracker: %s\n", err);
					return -1;
				}
				break;
			case 'R': ext->ready_file = optarg; break;
			case 'v': ext->log_level = OTA_LOG_NOTICE; break;
			case 'H': usage(stdout); exit(0);
			default: usage(stderr); return -1;
		}
	}
	if(!have_db){
		fprintf(stderr, "external_tracker: --db is required\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct external ext = {.log_level = OTA_LOG_WARNING};
	struct ota_config config;
	struct ota_io io = {.publish = io_publish, .log = io_log, .ctx = &ext};
	const char *host = "127.0.0.1";
	const char *id = "bench-external-tracker";
	int port = 1883;
	struct sigaction action = {.sa_handler = on_signal};
	char err[768];
	int rc;

	ota_config_init(&config);
	if(parse_options(argc, argv, &config, &ext, &host, &port, &id)){
		ota_config_free(&config);
		return 2;
	}
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);

	ext.tracker = ota_tracker_new(&config, &io, err, sizeof(err));
	ota_config_free(&config);
	if(!ext.tracker){
		fprintf(stderr, "external_tracker: cannot open the database: %s\n", err);
		return 1;
	}
	mosquitto_lib_init();
	ext.mosq = mosquitto_new(id, true, &ext);
	if(!ext.mosq){
		fprintf(stderr, "external_tracker: mosquitto_new failed\n");
		return 1;
	}
	mosquitto_int_option(ext.mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(ext.mosq, on_connect);
	mosquitto_subscribe_callback_set(ext.mosq, on_subscribe);
	mosquitto_disconnect_callback_set(ext.mosq, on_disconnect);
	mosquitto_message_callback_set(ext.mosq, on_message);
	rc = mosquitto_connect(ext.mosq, host, port, KEEPALIVE_S);
	if(rc != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "external_tracker: connecting to %s:%d failed: %s\n", host, port,
			rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return 1;
	}

	rc = run(&ext);
	fprintf(stderr, "external_tracker: stopping after %lu messages (%lu not committed)\n",
		ext.messages, ext.store_failures);
	ota_tracker_free(ext.tracker);
	mosquitto_disconnect(ext.mosq);
	mosquitto_destroy(ext.mosq);
	mosquitto_lib_cleanup();
	return rc;
}
