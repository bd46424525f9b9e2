/*
 * reply_fleet: simulates many devices reporting an upgrade at once, for the
 * test that kills the broker mid-way. Device i connects to 127.0.0.1 as
 * PREFIX%04d, its client id and serial number. It reports progress 10, 20,
 * ..., 90 (status 2) and then success (status 3) in task TASK_ID. Each reply
 * goes at QoS 1, once the broker acknowledged the previous one.
 *
 * Every acknowledged reply is appended to ACKED_FILE as the line
 * "SERIAL STATUS PROGRESS" with one write(2), so the file contains exactly
 * what the broker confirmed even when the broker dies. A device whose
 * connection is lost stops; the program ends when every device finished
 * or stopped, or when the time limit passes.
 *
 * All clients share one poll(2) loop on libmosquitto's sockets, so a few
 * hundred devices cost one thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#define REPLIES_PER_DEVICE 10

struct device {
	struct mosquitto *mosq;
	char serial[32];
	int next;          /* index of the next reply, 0..REPLIES_PER_DEVICE */
	int mid;           /* message id of the reply in flight, or 0 */
	bool connected;
	bool stopped;      /* finished or connection lost */
	int64_t send_at;   /* when the next reply may go out */
};

struct fleet {
	struct device *devices;
	int count;
	long long task_id;
	int gap_ms;
	int acked_fd;
	long acknowledged;
	int lost;
};

static struct fleet fleet;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply_of(int index, int *status, int *progress)
{
	if(index < REPLIES_PER_DEVICE - 1){
		*status = 2;
		*progress = (index + 1) * 10;
	}else{
		*status = 3;
		*progress = 100;
	}
}

static void send_next(struct device *d)
{
	char payload[128];
	char topic[64];
	int status;
	int progress;
	int rc;

	reply_of(d->next, &status, &progress);
	snprintf(topic, sizeof(topic), "/%s/http/upgrade/reply", d->serial);
	snprintf(payload, sizeof(payload),
		"{\"taskId\":%lld,\"progress\":%d,\"version\":\"2.0\",\"status\":%d}",
		fleet.task_id, progress, status);
	rc = mosquitto_publish(d->mosq, &d->mid, topic, (int)strlen(payload), payload, 1, false);
	if(rc != MOSQ_ERR_SUCCESS){
		d->mid = 0;
		d->stopped = true;
		fleet.lost++;
	}
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct device *d = obj;

	(void)mosq;
	if(rc != 0){
		fprintf(stderr, "reply_fleet: %s refused: %s\n", d->serial,
			mosquitto_connack_string(rc));
		d->stopped = true;
		fleet.lost++;
		return;
	}
	d->connected = true;
}

/* Records the acknowledged reply, then schedules the next one. */
static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct device *d = obj;
	char line[64];
	int status;
	int progress;
	int len;

	(void)mosq;
	if(mid != d->mid){
		return;
	}
	reply_of(d->next, &status, &progress);
	len = snprintf(line, sizeof(line), "%s %d %d\n", d->serial, status, progress);
	if(write(fleet.acked_fd, line, (size_t)len) != len){
		perror("reply_fleet: writing the acknowledged file");
		exit(2);
	}
	fleet.acknowledged++;
	d->mid = 0;
	d->next++;
	if(d->next == REPLIES_PER_DEVICE){
		d->stopped = true;
		return;
	}
	d->send_at = now_ms() + (fleet.gap_ms ? rand() % (2 * fleet.gap_ms + 1) : 0);
}

static void lose(struct device *d)
{
	if(!d->stopped){
		d->stopped = true;
		fleet.lost++;
	}
}

/* Runs one round of I/O on every live device. Returns the number of
 * devices still running. */
static int poll_round(struct pollfd *fds, int *owner)
{
	int n = 0;
	int running = 0;
	int64_t now = now_ms();

	for(int i = 0; i < fleet.count; i++){
		struct device *d = &fleet.devices[i];

		if(d->stopped){
			continue;
		}
		running++;
		if(d->connected && !d->mid && now >= d->send_at){
			send_next(d);
			if(d->stopped){
				continue;
			}
		}
		fds[n].fd = mosquitto_socket(d->mosq);
		fds[n].events = POLLIN | (mosquitto_want_write(d->mosq) ? POLLOUT : 0);
		fds[n].revents = 0;
		owner[n] = i;
		n++;
	}
	if(poll(fds, (nfds_t)n, 10) < 0 && errno != EINTR){
		perror("reply_fleet: poll");
		exit(2);
	}
	for(int k = 0; k < n; k++){
		struct device *d = &fleet.devices[owner[k]];

		if(fds[k].revents & (POLLIN | POLLHUP | POLLERR)){
			if(mosquitto_loop_read(d->mosq, 1) != MOSQ_ERR_SUCCESS){
				lose(d);
				continue;
			}
		}
		if(fds[k].revents & POLLOUT){
			if(mosquitto_loop_write(d->mosq, 1) != MOSQ_ERR_SUCCESS){
				lose(d);
				continue;
			}
		}
		mosquitto_loop_misc(d->mosq);
	}
	return running;
}

static void usage(void)
{
	fprintf(stderr, "usage: reply_fleet -p PORT -n DEVICES -t TASK_ID -o ACKED_FILE"
		" [-s PREFIX] [-g GAP_MS] [-w SECONDS]\n"
		"  Devices PREFIX0000.. (default prefix K) on 127.0.0.1:PORT each report\n"
		"  progress 10..90 and success for TASK_ID at QoS 1, waiting about GAP_MS\n"
		"  (default 20) between replies; acknowledged replies are appended to\n"
		"  ACKED_FILE as \"SERIAL STATUS PROGRESS\". Stops after SECONDS (default 60).\n");
}

int main(int argc, char **argv)
{
	const char *prefix = "K";
	const char *acked_path = NULL;
	struct pollfd *fds;
	int *owner;
	int port = 0;
	int limit_s = 60;
	int64_t deadline;
	int opt;

	fleet.gap_ms = 20;
	while((opt = getopt(argc, argv, "p:n:t:o:s:g:w:")) != -1){
		switch(opt){
			case 'p': port = atoi(optarg); break;
			case 'n': fleet.count = atoi(optarg); break;
			case 't': fleet.task_id = atoll(optarg); break;
			case 'o': acked_path = optarg; break;
			case 's': prefix = optarg; break;
			case 'g': fleet.gap_ms = atoi(optarg); break;
			case 'w': limit_s = atoi(optarg); break;
			default: usage(); return 2;
		}
	}
	if(port <= 0 || port > 65535 || fleet.count < 1 || fleet.count > 10000
			|| fleet.task_id <= 0 || !acked_path || strlen(prefix) > 20
			|| fleet.gap_ms < 0 || limit_s < 1){
		usage();
		return 2;
	}
	fleet.acked_fd = open(acked_path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
	fleet.devices = calloc((size_t)fleet.count, sizeof(*fleet.devices));
	fds = calloc((size_t)fleet.count, sizeof(*fds));
	owner = calloc((size_t)fleet.count, sizeof(*owner));
	if(fleet.acked_fd < 0 || !fleet.devices || !fds || !owner){
		perror("reply_fleet");
		return 2;
	}
	srand((unsigned)getpid());
	mosquitto_lib_init();

	for(int i = 0; i < fleet.count; i++){
		struct device *d = &fleet.devices[i];
		int rc;

		snprintf(d->serial, sizeof(d->serial), "%s%04d", prefix, i);
		d->mosq = mosquitto_new(d->serial, true, d);
		if(!d->mosq){
			fprintf(stderr, "reply_fleet: out of memory\n");
			return 2;
		}
		mosquitto_connect_callback_set(d->mosq, on_connect);
		mosquitto_publish_callback_set(d->mosq, on_publish);
		rc = mosquitto_connect(d->mosq, "127.0.0.1", port, 60);
		if(rc != MOSQ_ERR_SUCCESS){
			fprintf(stderr, "reply_fleet: %s could not connect: %s\n", d->serial,
				mosquitto_strerror(rc));
			d->stopped = true;
			fleet.lost++;
		}
	}

	deadline = now_ms() + (int64_t)limit_s * 1000;
	while(now_ms() < deadline && poll_round(fds, owner) > 0){
	}

	printf("devices %d acknowledged %ld lost %d\n", fleet.count, fleet.acknowledged,
		fleet.lost);
	for(int i = 0; i < fleet.count; i++){
		mosquitto_destroy(fleet.devices[i].mosq);
	}
	mosquitto_lib_cleanup();
	close(fleet.acked_fd);
	free(fleet.devices);
	free(fds);
	free(owner);
	return 0;
}
