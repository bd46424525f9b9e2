/*
 * The fleet: every MQTT connection of the load generator, driven by one
 * epoll loop through libmosquitto's non-blocking calls (mosquitto_socket,
 * mosquitto_loop_read, mosquitto_loop_write, mosquitto_loop_misc).
 *
 * Every client sets TCP_NODELAY, so that Nagle's algorithm does not hold
 * small packets back and the latencies measure the broker, not TCP timers.
 */
#include "loadgen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#define KEEPALIVE_S 60
#define MISC_INTERVAL_NS 1000000000LL
#define EVENTS_PER_WAIT 512
#define READS_PER_EVENT 4096
#define FIRMWARE_URL "/bench/firmware-1.2.bin"

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ===================================================================== */
/* Ready queue: devices with a reply to send                             */
/* ===================================================================== */

static void ready_push(struct fleet *fleet, int index)
{
	size_t capacity = (size_t)fleet->options.devices;

	fleet->ready[(fleet->ready_head + fleet->ready_len) % capacity] = index;
	fleet->ready_len++;
}

static int ready_pop(struct fleet *fleet)
{
	int index = fleet->ready[fleet->ready_head];

	fleet->ready_head = (fleet->ready_head + 1) % (size_t)fleet->options.devices;
	fleet->ready_len--;
	return index;
}

/* ===================================================================== */
/* Connections in the epoll set                                          */
/* ===================================================================== */

/* Registers for EPOLLOUT only while libmosquitto has bytes left to write,
 * because a publish writes at once when the socket takes it. */
static void conn_arm(struct conn *conn)
{
	struct epoll_event event = {.data.ptr = conn};
	bool want = mosquitto_want_write(conn->mosq);

	if(conn->fd < 0 || want == conn->out_armed){
		return;
	}
	event.events = EPOLLIN | (want ? EPOLLOUT : 0);
	if(epoll_ctl(conn->fleet->epoll_fd, EPOLL_CTL_MOD, conn->fd, &event) == 0){
		conn->out_armed = want;
	}
}

static int conn_start(struct conn *conn)
{
	struct fleet *fleet = conn->fleet;
	struct epoll_event event = {.data.ptr = conn};
	int rc = mosquitto_connect_async(conn->mosq, fleet->options.host,
		fleet->options.port, KEEPALIVE_S);

	if(rc != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "loadgen: connecting to %s:%d failed: %s\n",
			fleet->options.host, fleet->options.port,
			rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return -1;
	}
	conn->fd = mosquitto_socket(conn->mosq);
	conn->out_armed = mosquitto_want_write(conn->mosq);
	event.events = EPOLLIN | (conn->out_armed ? EPOLLOUT : 0);
	if(epoll_ctl(fleet->epoll_fd, EPOLL_CTL_ADD, conn->fd, &event) != 0){
		fprintf(stderr, "loadgen: epoll_ctl failed: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Reads every complete packet waiting on the socket. libmosquitto reads
 * one packet per call and no further, so FIONREAD shows whether more bytes
 * are already there. */
static void conn_read(struct conn *conn)
{
	for(int i = 0; i < READS_PER_EVENT; i++){
		int available = 0;

		if(mosquitto_loop_read(conn->mosq, 1) != MOSQ_ERR_SUCCESS || conn->fd < 0){
			return;
		}
		if(ioctl(conn->fd, FIONREAD, &available) != 0 || available <= 0){
			return;
		}
	}
}

/* ===================================================================== */
/* Messages                                                              */
/* ===================================================================== */

/* Finds `"key":` in a flat JSON object and reads the integer after it,
 * with or without quotes. */
static bool json_long(const char *json, const char *key, long *out)
{
	char pattern[48];
	const char *at;
	char *end;

	snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	at = strstr(json, pattern);
	if(!at){
		return false;
	}
	at += strlen(pattern);
	if(*at == '"'){
		at++;
	}
	*out = strtol(at, &end, 10);
	return end != at;
}

static bool json_string(const char *json, const char *key, char *out, size_t size)
{
	char pattern[48];
	const char *at;
	const char *end;

	snprintf(pattern, sizeof(pattern), "\"%s\":\"", key);
	at = strstr(json, pattern);
	if(!at){
		return false;
	}
	at += strlen(pattern);
	end = strchr(at, '"');
	if(!end || (size_t)(end - at) >= size){
		return false;
	}
	memcpy(out, at, (size_t)(end - at));
	out[end - at] = '\0';
	return true;
}

static int device_of_serial(const struct fleet *fleet, const char *serial, size_t len)
{
	size_t prefix = strlen(fleet->options.serial_prefix);
	char digits[16];
	char *end;
	long index;

	if(len <= prefix || len - prefix >= sizeof(digits)
			|| strncmp(serial, fleet->options.serial_prefix, prefix) != 0){
		return -1;
	}
	memcpy(digits, serial + prefix, len - prefix);
	digits[len - prefix] = '\0';
	index = strtol(digits, &end, 10);
	if(*end || index < 0 || index >= fleet->options.devices){
		return -1;
	}
	return (int)index;
}

/* Maps a status and progress to the reply that caused it: progress 25,
 * 50, 75 and 100 are replies 0 to 3, success is reply 4. */
static int reply_of(long status, long progress, bool has_progress)
{
	if(status == 3){
		return REPLY_COUNT - 1;
	}
	if(status == 2 && has_progress && progress % 25 == 0
			&& progress >= 25 && progress <= 100){
		return (int)(progress / 25) - 1;
	}
	return -1;
}

/* A dashboard message: `/{taskId}/ws/ota/status` with serialNumber,
 * status and progress. */
static void on_status(struct fleet *fleet, const char *topic, const char *json)
{
	char serial[72]; /* a serial number is at most 64 bytes */
	long status = -1;
	long progress = -1;
	bool has_progress = json_long(json, "progress", &progress);
	int64_t task_id = strtoll(topic[0] == '/' ? topic + 1 : topic, NULL, 10);
	int device;

	if(!json_long(json, "status", &status)
			|| !json_string(json, "serialNumber", serial, sizeof(serial))){
		fleet->parse_errors++;
		return;
	}
	if(status == 0 || status == 1){
		fleet->other_status++;
		return;
	}
	device = device_of_serial(fleet, serial, strlen(serial));
	ledger_received(&fleet->ledger, device, task_id,
		reply_of(status, progress, has_progress), now_ns());
}

/* A relayed reply: `/{serial}/http/upgrade/reply` with taskId, progress
 * and status, timed the same way as a derived status message. */
static void on_relayed_reply(struct fleet *fleet, const char *topic, const char *json)
{
	const char *serial = topic[0] == '/' ? topic + 1 : topic;
	const char *slash = strchr(serial, '/');
	long status = -1;
	long progress = -1;
	long task_id = 0;
	bool has_progress = json_long(json, "progress", &progress);
	int device;

	if(!slash || !json_long(json, "status", &status)
			|| !json_long(json, "taskId", &task_id)){
		fleet->parse_errors++;
		return;
	}
	device = device_of_serial(fleet, serial, (size_t)(slash - serial));
	ledger_received(&fleet->ledger, device, task_id,
		reply_of(status, progress, has_progress), now_ns());
}

/* A device received a `set`: the upgrade it waits for may start. */
static void on_set(struct fleet *fleet, struct device *device, const char *json)
{
	long task_id = 0;

	fleet->sets_received++;
	if(!json_long(json, "taskId", &task_id)){
		fleet->parse_errors++;
		return;
	}
	if(task_id == device->task_id && !device->has_set){
		device->has_set = true;
		device->next_reply = 0;
		ready_push(fleet, device->index);
	}
}

static void send_set(struct fleet *fleet, struct device *device)
{
	char payload[160];
	int len = snprintf(payload, sizeof(payload),
		"{\"taskId\":%" PRId64 ",\"url\":\"" FIRMWARE_URL "\",\"version\":1.2,\"status\":1}",
		device->task_id);

	if(mosquitto_publish(fleet->backend.mosq, NULL, device->set_topic, len, payload,
			1, false) != MOSQ_ERR_SUCCESS){
		fleet->publish_errors++;
		return;
	}
	fleet->sets_sent++;
	conn_arm(&fleet->backend);
}

enum send_result fleet_send_reply(struct fleet *fleet)
{
	struct device *device;
	char payload[128];
	int reply;
	int len;
	int64_t sent_at;

	if(fleet->ready_len == 0){
		return SEND_NONE_READY;
	}
	device = &fleet->devices[ready_pop(fleet)];
	if(!device->conn.connected){
		return SEND_SKIPPED;
	}
	reply = device->next_reply;
	if(reply == 0 && ledger_slot_busy(&fleet->ledger, device->index, device->task_id)){
		ready_push(fleet, device->index);
		return SEND_SKIPPED;
	}
	if(reply < REPLY_COUNT - 1){
		len = snprintf(payload, sizeof(payload),
			"{\"taskId\":%" PRId64 ",\"progress\":%d,\"version\":\"1.2\",\"status\":2}",
			device->task_id, (reply + 1) * 25);
	}else{
		len = snprintf(payload, sizeof(payload),
			"{\"taskId\":%" PRId64 ",\"version\":\"1.2\",\"status\":3}", device->task_id);
	}

	sent_at = now_ns();
	if(mosquitto_publish(device->conn.mosq, NULL, device->reply_topic, len, payload,
			1, false) != MOSQ_ERR_SUCCESS){
		fleet->publish_errors++;
		return SEND_SKIPPED;
	}
	ledger_sent(&fleet->ledger, device->index, device->task_id, reply, sent_at);
	conn_arm(&device->conn);

	device->next_reply++;
	if(device->next_reply < REPLY_COUNT){
		ready_push(fleet, device->index);
	}else{
		device->task_id++;
		device->has_set = false;
		send_set(fleet, device);
	}
	return SEND_OK;
}

/* ===================================================================== */
/* libmosquitto callbacks                                                */
/* ===================================================================== */

static void on_connect(struct mosquitto *mosq, void *userdata, int rc)
{
	struct conn *conn = userdata;
	struct fleet *fleet = conn->fleet;
	const char *topic = NULL;
	int qos = 0;

	if(rc != 0){
		/* libmosquitto closes the connection next, and on_disconnect()
		 * counts it. */
		fprintf(stderr, "loadgen: connection refused: %s\n", mosquitto_connack_string(rc));
		return;
	}
	fleet->connecting--;
	conn->connected = true;
	switch(conn->role){
		case ROLE_DEVICE:
			topic = ((struct device *)conn)->set_topic;
			qos = 1;
			break;
		case ROLE_DASHBOARD:
			topic = fleet->options.source == SOURCE_STATUS
				? "/+/ws/ota/status" : "/+/http/upgrade/reply";
			break;
		case ROLE_BACKEND:
			return;
	}
	if(mosquitto_subscribe(mosq, NULL, topic, qos) != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "loadgen: subscribing to %s failed\n", topic);
	}
	conn_arm(conn);
}

static const char *conn_name(const struct conn *conn)
{
	switch(conn->role){
		case ROLE_DEVICE: return ((const struct device *)conn)->serial;
		case ROLE_BACKEND: return "backend";
		default: return "dashboard";
	}
}

static void on_disconnect(struct mosquitto *mosq, void *userdata, int rc)
{
	struct conn *conn = userdata;

	(void)mosq;
	if(!conn->connected){
		conn->fleet->connecting--;
	}
	conn->connected = false;
	conn->fd = -1;
	conn->out_armed = false;
	if(!conn->fleet->closing){
		conn->fleet->disconnects++;
		if(conn->fleet->disconnects <= 5){
			fprintf(stderr, "loadgen: %s lost its connection: %s\n",
				conn_name(conn), mosquitto_strerror(rc));
		}
	}
}

static void on_subscribe(struct mosquitto *mosq, void *userdata, int mid,
	int qos_count, const int *granted_qos)
{
	struct conn *conn = userdata;

	(void)mosq;
	(void)mid;
	if(qos_count < 1 || granted_qos[0] > 2){
		fprintf(stderr, "loadgen: subscription refused\n");
		return;
	}
	conn->subscribed = true;
	conn->fleet->subscribed++;
}

static void on_publish(struct mosquitto *mosq, void *userdata, int mid)
{
	struct conn *conn = userdata;

	(void)mosq;
	(void)mid;
	if(conn->role == ROLE_DEVICE){
		conn->fleet->acked++;
	}
}

static void on_message(struct mosquitto *mosq, void *userdata,
	const struct mosquitto_message *message)
{
	struct conn *conn = userdata;
	char json[512];
	size_t len = (size_t)message->payloadlen;

	(void)mosq;
	if(len >= sizeof(json)){
		conn->fleet->parse_errors++;
		return;
	}
	memcpy(json, message->payload, len);
	json[len] = '\0';
	if(conn->role == ROLE_DEVICE){
		on_set(conn->fleet, (struct device *)conn, json);
	}else if(conn->role == ROLE_DASHBOARD){
		if(conn->fleet->options.source == SOURCE_STATUS){
			on_status(conn->fleet, message->topic, json);
		}else{
			on_relayed_reply(conn->fleet, message->topic, json);
		}
	}
}

/* ===================================================================== */
/* The loop                                                              */
/* ===================================================================== */

static void run_misc(struct fleet *fleet)
{
	int64_t now = now_ns();

	if(now - fleet->last_misc_ns < MISC_INTERVAL_NS){
		return;
	}
	fleet->last_misc_ns = now;
	for(int i = 0; i < fleet->options.devices; i++){
		if(fleet->devices[i].conn.fd >= 0){
			mosquitto_loop_misc(fleet->devices[i].conn.mosq);
			conn_arm(&fleet->devices[i].conn);
		}
	}
	if(fleet->backend.fd >= 0){
		mosquitto_loop_misc(fleet->backend.mosq);
		conn_arm(&fleet->backend);
	}
	if(fleet->dashboard.fd >= 0){
		mosquitto_loop_misc(fleet->dashboard.mosq);
		conn_arm(&fleet->dashboard);
	}
}

int fleet_poll(struct fleet *fleet, int timeout_ms)
{
	struct epoll_event events[EVENTS_PER_WAIT];
	int count = epoll_wait(fleet->epoll_fd, events, EVENTS_PER_WAIT, timeout_ms);

	if(count < 0){
		return errno == EINTR ? 0 : -1;
	}
	for(int i = 0; i < count; i++){
		struct conn *conn = events[i].data.ptr;

		if(conn->fd < 0){
			continue;
		}
		if(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)){
			conn_read(conn);
		}
		if(conn->fd >= 0 && (events[i].events & EPOLLOUT)){
			mosquitto_loop_write(conn->mosq, 1);
		}
		conn_arm(conn);
	}
	run_misc(fleet);
	return 0;
}

/* ===================================================================== */
/* Setup and teardown                                                    */
/* ===================================================================== */

static int raise_fd_limit(rlim_t needed, char *err, size_t err_size)
{
	struct rlimit limit;

	if(getrlimit(RLIMIT_NOFILE, &limit) != 0){
		snprintf(err, err_size, "getrlimit failed: %s", strerror(errno));
		return -1;
	}
	if(limit.rlim_cur >= needed){
		return 0;
	}
	limit.rlim_cur = needed;
	if(limit.rlim_max < needed){
		limit.rlim_max = needed; /* only root may raise the hard limit */
	}
	if(setrlimit(RLIMIT_NOFILE, &limit) == 0){
		return 0;
	}
	snprintf(err, err_size, "%lu open files needed but the limit is lower and"
		" setrlimit failed (%s); raise it with ulimit -n %lu",
		(unsigned long)needed, strerror(errno), (unsigned long)needed);
	return -1;
}

/*
 * Creates a client without the socket pair libmosquitto 2.0 opens in
 * mosquitto_new() only to wake mosquitto_loop() from select(). This loop
 * never calls mosquitto_loop(), and libmosquitto goes on without the pair
 * when it cannot be opened (it logs a warning to the client's log callback,
 * which is not set). With the pair a client costs three file descriptors,
 * so 10,000 devices would need 30,000 and a write to the pair per packet.
 * Lowering RLIMIT_NOFILE to zero for the call makes the pair fail to open.
 */
static struct mosquitto *new_client(const char *client_id, void *userdata)
{
	struct rlimit saved;
	struct rlimit none;
	struct mosquitto *mosq;

	if(getrlimit(RLIMIT_NOFILE, &saved) != 0){
		return mosquitto_new(client_id, true, userdata);
	}
	none.rlim_cur = 0;
	none.rlim_max = saved.rlim_max;
	setrlimit(RLIMIT_NOFILE, &none);
	mosq = mosquitto_new(client_id, true, userdata);
	setrlimit(RLIMIT_NOFILE, &saved);
	return mosq;
}

static int conn_init(struct fleet *fleet, struct conn *conn, enum conn_role role,
	const char *client_id)
{
	conn->fleet = fleet;
	conn->role = role;
	conn->fd = -1;
	conn->mosq = new_client(client_id, conn);
	if(!conn->mosq){
		return -1;
	}
	mosquitto_int_option(conn->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if(role == ROLE_BACKEND){
		/* The backend pushes a `set` to every device at once; libmosquitto's
		 * default of 20 messages in flight would make devices wait in turn. */
		mosquitto_int_option(conn->mosq, MOSQ_OPT_SEND_MAXIMUM, 0);
	}
	mosquitto_connect_callback_set(conn->mosq, on_connect);
	mosquitto_disconnect_callback_set(conn->mosq, on_disconnect);
	mosquitto_subscribe_callback_set(conn->mosq, on_subscribe);
	mosquitto_publish_callback_set(conn->mosq, on_publish);
	mosquitto_message_callback_set(conn->mosq, on_message);
	return 0;
}

static int create_clients(struct fleet *fleet, char *err, size_t err_size)
{
	const struct fleet_options *o = &fleet->options;

	if(conn_init(fleet, &fleet->backend, ROLE_BACKEND, "bench-backend")
			|| conn_init(fleet, &fleet->dashboard, ROLE_DASHBOARD, "bench-dashboard")){
		snprintf(err, err_size, "mosquitto_new failed: out of memory");
		return -1;
	}
	for(int i = 0; i < o->devices; i++){
		struct device *device = &fleet->devices[i];

		device->index = i;
		device->task_id = o->first_task_id;
		snprintf(device->serial, sizeof(device->serial), "%s%07d", o->serial_prefix, i);
		snprintf(device->reply_topic, sizeof(device->reply_topic),
			"/%s/http/upgrade/reply", device->serial);
		snprintf(device->set_topic, sizeof(device->set_topic),
			"/%s/http/upgrade/set", device->serial);
		if(conn_init(fleet, &device->conn, ROLE_DEVICE, device->serial)){
			snprintf(err, err_size, "mosquitto_new failed for device %d: %s", i,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Polls until `done` holds, a connection drops, or the setup time is up. */
static int wait_for(struct fleet *fleet, bool (*done)(const struct fleet *),
	int64_t deadline, const char *what, char *err, size_t err_size)
{
	while(!done(fleet)){
		while(fleet->connecting < fleet->options.connect_parallel
				&& fleet->next_connect < fleet->options.devices){
			fleet->connecting++;
			if(conn_start(&fleet->devices[fleet->next_connect++].conn)){
				snprintf(err, err_size, "device %d could not connect", fleet->next_connect - 1);
				return -1;
			}
		}
		if(fleet_poll(fleet, 10) || fleet->disconnects){
			snprintf(err, err_size, "%s: a connection failed", what);
			return -1;
		}
		if(now_ns() > deadline){
			snprintf(err, err_size, "%s: timed out after %d s (%d of %d devices"
				" subscribed, %" PRIu64 " sets received)", what,
				fleet->options.setup_timeout_s, fleet->subscribed,
				fleet->options.devices, fleet->sets_received);
			return -1;
		}
	}
	return 0;
}

static bool all_subscribed(const struct fleet *fleet)
{
	return fleet->backend.connected && fleet->dashboard.subscribed
		&& fleet->subscribed == fleet->options.devices + 1;
}

static bool all_have_set(const struct fleet *fleet)
{
	return fleet->ready_len == (size_t)fleet->options.devices;
}

int fleet_open(struct fleet *fleet, const struct fleet_options *options,
	char *err, size_t err_size)
{
	int64_t deadline = now_ns() + (int64_t)options->setup_timeout_s * 1000000000LL;

	memset(fleet, 0, sizeof(*fleet));
	fleet->options = *options;
	fleet->epoll_fd = -1;
	if(raise_fd_limit((rlim_t)options->devices + 64, err, err_size)){
		return -1;
	}
	mosquitto_lib_init();
	fleet->epoll_fd = epoll_create1(0);
	fleet->devices = calloc((size_t)options->devices, sizeof(*fleet->devices));
	fleet->ready = calloc((size_t)options->devices, sizeof(*fleet->ready));
	if(fleet->epoll_fd < 0 || !fleet->devices || !fleet->ready
			|| ledger_init(&fleet->ledger, options->devices)){
		snprintf(err, err_size, "out of memory or epoll_create1 failed");
		return -1;
	}
	if(create_clients(fleet, err, err_size)){
		return -1;
	}

	fleet->connecting = 2;
	if(conn_start(&fleet->backend) || conn_start(&fleet->dashboard)){
		snprintf(err, err_size, "could not connect to %s:%d", options->host, options->port);
		return -1;
	}
	if(wait_for(fleet, all_subscribed, deadline, "connecting", err, err_size)){
		return -1;
	}

	for(int i = 0; i < options->devices; i++){
		send_set(fleet, &fleet->devices[i]);
	}
	return wait_for(fleet, all_have_set, deadline, "first sets", err, err_size);
}

void fleet_close(struct fleet *fleet)
{
	int64_t deadline;

	fleet->closing = true;
	for(int i = 0; fleet->devices && i < fleet->options.devices; i++){
		if(fleet->devices[i].conn.connected){
			mosquitto_disconnect(fleet->devices[i].conn.mosq);
		}
	}
	if(fleet->backend.connected){
		mosquitto_disconnect(fleet->backend.mosq);
	}
	if(fleet->dashboard.connected){
		mosquitto_disconnect(fleet->dashboard.mosq);
	}
	deadline = now_ns() + 200000000LL;
	while(now_ns() < deadline && fleet_poll(fleet, 10) == 0){
	}
	for(int i = 0; fleet->devices && i < fleet->options.devices; i++){
		mosquitto_destroy(fleet->devices[i].conn.mosq);
	}
	mosquitto_destroy(fleet->backend.mosq);
	mosquitto_destroy(fleet->dashboard.mosq);
	if(fleet->epoll_fd >= 0){
		close(fleet->epoll_fd);
	}
	free(fleet->devices);
	free(fleet->ready);
	ledger_free(&fleet->ledger);
	mosquitto_lib_cleanup();
}
