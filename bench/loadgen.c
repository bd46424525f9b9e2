/*
 * Load generator for the OTA plugin benchmarks. It connects a fleet of
 * simulated devices, a backend and a dashboard to one broker, then runs
 * measurement steps: each step paces replies at an offered rate for a
 * fixed time, waits for the last derived messages, and prints one line of
 * key=value figures. See bench/run.sh for the configurations it is run
 * against.
 */
#include "loadgen.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procstat.h"

#define MAX_RATES 16
#define SEND_BURST 512

struct options {
	struct fleet_options fleet;
	double rates[MAX_RATES]; /* replies per second; 0 is unpaced */
	int rate_count;
	double step_s;
	double drain_s;
	double warmup_s;
	uint64_t window;
	const char *label;
	int broker_pid;
	int tracker_pid;
	const char *db_path;
};

/* CPU seconds of the broker, the tracker, this process and the whole
 * machine at one moment. */
struct cpu_sample {
	double broker;
	double broker_system;
	double tracker;
	double self;
	double machine;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: loadgen [options]\n"
		"  -h, --host HOST          broker address (default 127.0.0.1)\n"
		"  -p, --port PORT          broker port (default 1883)\n"
		"  -n, --devices N          simulated devices, one connection each (default 100)\n"
		"      --rates LIST         offered replies per second per step, comma-separated;\n"
		"                           max sends as fast as the window allows (default max)\n"
		"      --seconds S          sending time of each step (default 5)\n"
		"      --drain S            longest wait for a step's last messages (default 5)\n"
		"      --warmup S           unreported warm-up at the first rate (default 1)\n"
		"      --window N           replies sent and not yet matched, at most (default 4000)\n"
		"      --source status|reply  what the dashboard times: derived status messages\n"
		"                           (default) or the relayed replies\n"
		"      --label NAME         configuration name printed with each step\n"
		"      --broker-pid PID     broker whose CPU time and peak memory are reported\n"
		"      --tracker-pid PID    external tracker, likewise\n"
		"      --db PATH            database whose size is reported\n"
		"      --prefix TEXT        serial number prefix (default BENCH)\n"
		"      --first-task ID      task id of the first upgrade (default 1)\n"
		"      --connect-parallel N connections opened at once (default 64)\n"
		"      --setup-timeout S    time allowed to connect and prime (default 120)\n");
}

static int parse_rates(const char *list, struct options *o)
{
	char copy[256];
	char *save = NULL;

	snprintf(copy, sizeof(copy), "%s", list);
	o->rate_count = 0;
	for(char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)){
		char *end;
		double rate = strcmp(item, "max") == 0 ? 0 : strtod(item, &end);

		if(o->rate_count == MAX_RATES || (strcmp(item, "max") && (*end || rate < 0))){
			fprintf(stderr, "loadgen: invalid --rates \"%s\": expected up to %d"
				" rates per second or max, comma-separated\n", list, MAX_RATES);
			return -1;
		}
		o->rates[o->rate_count++] = rate;
	}
	return o->rate_count ? 0 : -1;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"devices", required_argument, NULL, 'n'},
		{"rates", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 's'},
		{"drain", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},
		{"window", required_argument, NULL, 'W'},
		{"source", required_argument, NULL, 'S'},
		{"label", required_argument, NULL, 'l'},
		{"broker-pid", required_argument, NULL, 'B'},
		{"tracker-pid", required_argument, NULL, 'T'},
		{"db", required_argument, NULL, 'D'},
		{"prefix", required_argument, NULL, 'P'},
		{"first-task", required_argument, NULL, 'F'},
		{"connect-parallel", required_argument, NULL, 'C'},
		{"setup-timeout", required_argument, NULL, 'O'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->fleet.host = "127.0.0.1";
	o->fleet.port = 1883;
	o->fleet.devices = 100;
	o->fleet.source = SOURCE_STATUS;
	o->fleet.serial_prefix = "BENCH";
	o->fleet.first_task_id = 1;
	o->fleet.connect_parallel = 64;
	o->fleet.setup_timeout_s = 120;
	o->rate_count = 1;
	o->step_s = 5;
	o->drain_s = 5;
	o->warmup_s = 1;
	o->window = 4000;
	o->label = "run";

	while((c = getopt_long(argc, argv, "h:p:n:", longs, NULL)) != -1){
		switch(c){
			case 'h': o->fleet.host = optarg; break;
			case 'p': o->fleet.port = atoi(optarg); break;
			case 'n': o->fleet.devices = atoi(optarg); break;
			case 'r':
				if(parse_rates(optarg, o)){
					return -1;
				}
				break;
			case 's': o->step_s = atof(optarg); break;
			case 'd': o->drain_s = atof(optarg); break;
			case 'w': o->warmup_s = atof(optarg); break;
			case 'W': o->window = strtoull(optarg, NULL, 10); break;
			case 'S':
				if(strcmp(optarg, "status") && strcmp(optarg, "reply")){
					fprintf(stderr, "loadgen: invalid --source \"%s\": expected status or reply\n",
						optarg);
					return -1;
				}
				o->fleet.source = strcmp(optarg, "reply") ? SOURCE_STATUS : SOURCE_REPLY;
				break;
			case 'l': o->label = optarg; break;
			case 'B': o->broker_pid = atoi(optarg); break;
			case 'T': o->tracker_pid = atoi(optarg); break;
			case 'D': o->db_path = optarg; break;
			case 'P': o->fleet.serial_prefix = optarg; break;
			case 'F': o->fleet.first_task_id = strtoll(optarg, NULL, 10); break;
			case 'C': o->fleet.connect_parallel = atoi(optarg); break;
			case 'O': o->fleet.setup_timeout_s = atoi(optarg); break;
			case 'H': usage(stdout); exit(0);
			default: usage(stderr); return -1;
		}
	}
	if(o->fleet.devices < 1 || o->fleet.port < 1 || o->fleet.port > 65535
			|| o->step_s <= 0 || o->drain_s < 0 || o->window < 1
			|| o->fleet.connect_parallel < 1 || o->fleet.first_task_id < 1){
		fprintf(stderr, "loadgen: invalid options: devices, port, --seconds, --window,"
			" --connect-parallel and --first-task must be positive\n");
		return -1;
	}
	return 0;
}

static struct cpu_sample sample_cpu(const struct options *o)
{
	struct cpu_sample s = {
		.tracker = o->tracker_pid ? procstat_cpu_seconds(o->tracker_pid, NULL) : 0,
		.self = procstat_self_cpu_seconds(),
		.machine = procstat_machine_busy_seconds(),
	};

	if(o->broker_pid){
		s.broker = procstat_cpu_seconds(o->broker_pid, &s.broker_system);
	}
	return s;
}

/* Sends what the offered rate makes due by now, within the window. Returns
 * true when more is due at once, so the caller should not wait. */
static bool send_due(struct fleet *fleet, double rate, int64_t started,
	int64_t now, uint64_t window)
{
	uint64_t due = rate > 0
		? (uint64_t)((double)(now - started) * rate / 1e9) + 1 : UINT64_MAX;
	size_t skipped = 0;
	int burst = 0;

	while(fleet->ledger.sent < due && ledger_outstanding(&fleet->ledger) < window
			&& burst < SEND_BURST){
		enum send_result result = fleet_send_reply(fleet);

		if(result == SEND_NONE_READY){
			return false;
		}
		if(result == SEND_SKIPPED){
			/* Every ready device was tried: wait for messages. */
			if(++skipped > fleet->ready_len){
				return false;
			}
			continue;
		}
		skipped = 0;
		burst++;
	}
	return burst == SEND_BURST;
}

static void print_rate(char *out, size_t size, double rate)
{
	if(rate > 0){
		snprintf(out, size, "%.0f", rate);
	}else{
		snprintf(out, size, "max");
	}
}

/* Prints the figures of the step that ran from `started` to `finished`. */
static void print_step(struct fleet *fleet, const struct options *o, double rate,
	int64_t started, int64_t finished, const struct cpu_sample *before,
	const struct cpu_sample *after, uint64_t acked)
{
	struct ledger *ledger = &fleet->ledger;
	int64_t p50, p99, max;
	char offered[32];
	double active_s;
	double others_s;

	ledger_percentiles(ledger, &p50, &p99, &max);
	print_rate(offered, sizeof(offered), rate);
	/* CPU time that other processes took from the machine meanwhile. */
	others_s = (after->machine - before->machine) - (after->broker - before->broker)
		- (after->tracker - before->tracker) - (after->self - before->self);
	active_s = (double)((ledger->last_match_ns ? ledger->last_match_ns : finished)
		- started) / 1e9;
	printf("step label=%s devices=%d offered=%s seconds=%.3f sent=%" PRIu64
		" acked=%" PRIu64 " accepted=%" PRIu64 " lost=%" PRIu64 " late=%" PRIu64
		" duplicates=%" PRIu64 " unknown=%" PRIu64 " rate=%.0f p50_ms=%.3f"
		" p99_ms=%.3f max_ms=%.3f broker_cpu_s=%.3f broker_system_s=%.3f"
		" tracker_cpu_s=%.3f loadgen_cpu_s=%.3f others_cpu_s=%.3f"
		" broker_hwm_kib=%ld tracker_hwm_kib=%ld db_bytes=%" PRId64
		" disconnects=%" PRIu64 " other_status=%" PRIu64 " parse_errors=%" PRIu64 "\n",
		o->label, o->fleet.devices, offered, (double)(finished - started) / 1e9,
		ledger->sent, acked, ledger->matched,
		ledger->sent - ledger->matched, ledger->late, ledger->duplicates,
		ledger->unknown, active_s > 0 ? (double)ledger->matched / active_s : 0,
		(double)p50 / 1e6, (double)p99 / 1e6, (double)max / 1e6,
		after->broker - before->broker, after->broker_system - before->broker_system,
		after->tracker - before->tracker, after->self - before->self,
		others_s > 0 ? others_s : 0,
		o->broker_pid ? procstat_status_kib(o->broker_pid, "VmHWM") : -1,
		o->tracker_pid ? procstat_status_kib(o->tracker_pid, "VmHWM") : -1,
		o->db_path ? procstat_db_bytes(o->db_path) : -1,
		fleet->disconnects, fleet->other_status, fleet->parse_errors);
	fflush(stdout);
}

/* Runs one step: sends for `seconds`, then waits up to drain_s for the
 * messages still on their way, and prints the figures unless `report` is
 * false. Returns the replies accepted in the step. */
static uint64_t run_step(struct fleet *fleet, const struct options *o, double rate,
	double seconds, bool report)
{
	struct ledger *ledger = &fleet->ledger;
	uint64_t window = o->window;
	uint64_t acked_before = fleet->acked;
	struct cpu_sample before = sample_cpu(o);
	struct cpu_sample after;
	int64_t started;
	int64_t send_end;
	int64_t drain_end = 0;

	/* Each device keeps the send times of LEDGER_ROUNDS upgrades, so the
	 * window must leave room for a device to run a few upgrades ahead. */
	if(window > (uint64_t)o->fleet.devices * REPLY_COUNT * (LEDGER_ROUNDS / 2)){
		window = (uint64_t)o->fleet.devices * REPLY_COUNT * (LEDGER_ROUNDS / 2);
	}
	ledger_begin_step(ledger);
	started = now_ns();
	send_end = started + (int64_t)(seconds * 1e9);
	for(;;){
		int64_t now = now_ns();
		bool more = false;

		if(now < send_end){
			more = send_due(fleet, rate, started, now, window);
		}else if(!drain_end){
			drain_end = now + (int64_t)(o->drain_s * 1e9);
		}else if(ledger_outstanding(ledger) == 0 || now >= drain_end){
			break;
		}
		fleet_poll(fleet, more ? 0 : 1);
	}

	after = sample_cpu(o);
	if(report){
		print_step(fleet, o, rate, started, now_ns(), &before, &after,
			fleet->acked - acked_before);
	}
	return ledger->matched;
}

int main(int argc, char **argv)
{
	struct options o;
	struct fleet fleet;
	char err[256];
	uint64_t accepted = 0;
	int64_t setup_started;

	if(parse_options(argc, argv, &o)){
		return 2;
	}
	setup_started = now_ns();
	if(fleet_open(&fleet, &o.fleet, err, sizeof(err))){
		fprintf(stderr, "loadgen: %s\n", err);
		fleet_close(&fleet);
		return 1;
	}
	fprintf(stderr, "loadgen: %d devices connected and primed in %.2f s\n",
		o.fleet.devices, (double)(now_ns() - setup_started) / 1e9);

	if(o.warmup_s > 0){
		run_step(&fleet, &o, o.rates[0], o.warmup_s, false);
	}
	for(int i = 0; i < o.rate_count; i++){
		accepted += run_step(&fleet, &o, o.rates[i], o.step_s, true);
	}
	printf("done label=%s accepted=%" PRIu64 " disconnects=%" PRIu64
		" publish_errors=%" PRIu64 "\n", o.label, accepted, fleet.disconnects,
		fleet.publish_errors);
	fleet_close(&fleet);
	return accepted > 0 ? 0 : 3;
}
