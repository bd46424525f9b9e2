/*
 * Private header of the load generator: a fleet of simulated devices, a
 * backend that pushes the `set` of each upgrade, and a dashboard client
 * that receives what the broker derives from the replies. One thread runs
 * every connection through epoll.
 *
 * Each device works through upgrades one after another. An upgrade is one
 * `set` from the backend and REPLY_COUNT replies from the device: progress
 * 25, 50, 75 and 100 with status 2, then status 3. The ledger keeps when
 * each reply was sent, keyed by (device, task, reply), and the dashboard
 * looks each message it receives up by the same key.
 */
#ifndef BENCH_LOADGEN_H
#define BENCH_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLY_COUNT 5    /* replies per upgrade: four progress, one success */
#define LEDGER_ROUNDS 8  /* upgrades per device whose send times are kept */

/* The topics the dashboard client subscribes to. */
enum dashboard_source {
	SOURCE_STATUS, /* `/+/ws/ota/status`, derived by the plugin or a tracker */
	SOURCE_REPLY,  /* `/+/http/upgrade/reply`: the broker only relays */
};

/* ===================================================================== */
/* ledger.c: send times and latencies                                    */
/* ===================================================================== */

struct ledger_round {
	int64_t task_id;
	int64_t sent_ns[REPLY_COUNT];   /* 0: not sent */
	uint32_t step_no[REPLY_COUNT];  /* measurement step that sent it */
	uint8_t matched;                /* one bit per reply */
};

struct ledger {
	struct ledger_round *rounds;    /* devices * LEDGER_ROUNDS */
	int devices;
	uint32_t step_no;
	/* Counters of the current step. */
	uint64_t sent;
	uint64_t matched;
	uint64_t late;                  /* matched a reply of an earlier step */
	uint64_t duplicates;
	uint64_t unknown;               /* no such reply was sent */
	uint64_t overwritten;           /* slot reused before its reply matched */
	int64_t last_match_ns;
	int64_t *latency_ns;
	size_t latency_len;
	size_t latency_cap;
};

int ledger_init(struct ledger *ledger, int devices);
void ledger_free(struct ledger *ledger);
void ledger_begin_step(struct ledger *ledger);
void ledger_sent(struct ledger *ledger, int device, int64_t task_id, int reply,
	int64_t now_ns);
void ledger_received(struct ledger *ledger, int device, int64_t task_id,
	int reply, int64_t now_ns);
/* Returns true when the slot that `task_id` would use still contains
 * another upgrade with replies of the current step waiting for their
 * message. */
bool ledger_slot_busy(const struct ledger *ledger, int device, int64_t task_id);
/* Replies of the current step still waiting for their message. */
uint64_t ledger_outstanding(const struct ledger *ledger);
/* Sorts the step's latencies and returns the nearest-rank percentiles in
 * nanoseconds; all three are 0 when nothing matched. */
void ledger_percentiles(struct ledger *ledger, int64_t *p50, int64_t *p99,
	int64_t *max);

/* ===================================================================== */
/* fleet.c: the connections                                              */
/* ===================================================================== */

struct fleet_options {
	const char *host;
	int port;
	int devices;
	enum dashboard_source source;
	const char *serial_prefix;
	int64_t first_task_id;
	int connect_parallel;   /* connections opened but not yet acknowledged */
	int setup_timeout_s;    /* connecting, subscribing and the first sets */
};

enum conn_role {
	ROLE_DEVICE,
	ROLE_BACKEND,
	ROLE_DASHBOARD,
};

struct fleet;

/* One MQTT connection and its place in the epoll set. */
struct conn {
	struct fleet *fleet;
	struct mosquitto *mosq;
	enum conn_role role;
	int fd;                 /* -1 while not connected */
	bool out_armed;         /* EPOLLOUT is registered */
	bool connected;         /* CONNACK received */
	bool subscribed;        /* SUBACK received */
};

struct device {
	struct conn conn;
	int index;
	char serial[32];
	char reply_topic[64];
	char set_topic[64];
	int64_t task_id;        /* the upgrade under way */
	int next_reply;         /* 0 .. REPLY_COUNT - 1 */
	bool has_set;           /* its `set` arrived, so replies may go */
};

struct fleet {
	struct fleet_options options;
	int epoll_fd;
	struct device *devices;
	struct conn backend;
	struct conn dashboard;
	/* Devices with a reply to send, oldest first. */
	int *ready;
	size_t ready_head;
	size_t ready_len;
	struct ledger ledger;
	int next_connect;
	int connecting;
	int subscribed;
	int64_t last_misc_ns;
	uint64_t acked;         /* PUBACKs of replies */
	uint64_t sets_sent;
	uint64_t sets_received;
	uint64_t other_status;  /* status 0 and 1, derived from `set` */
	uint64_t disconnects;
	uint64_t publish_errors;
	uint64_t parse_errors;
	bool closing;
};

int64_t now_ns(void);

/* Connects every client, subscribes, pushes the first `set` to each device
 * and waits until all of them arrived. Returns 0, or -1 with the cause in
 * `err`. */
int fleet_open(struct fleet *fleet, const struct fleet_options *options,
	char *err, size_t err_size);
void fleet_close(struct fleet *fleet);
/* Waits up to `timeout_ms` for socket events and handles them. */
int fleet_poll(struct fleet *fleet, int timeout_ms);
enum send_result {
	SEND_OK,
	SEND_NONE_READY, /* every device waits for its `set` */
	SEND_SKIPPED,    /* this device is too far ahead or disconnected */
};

/* Sends the next reply of the device that waited longest. A device whose
 * ledger slot for a new upgrade still contains unmatched replies goes back
 * to the end of the queue instead, so no send time is overwritten. */
enum send_result fleet_send_reply(struct fleet *fleet);

#endif
