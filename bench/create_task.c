/*
 * Times one createTask request on the admin API ($CONTROL/ota/v1): it
 * connects as an admin user, publishes a task for N devices that have never
 * connected, and waits for the response on $CONTROL/ota/v1/response. With
 * --broker-pid it also reports the broker's resident memory before and its
 * peak after.
 *
 * Exit status: 0 when the task was created, 4 when the response carries an
 * error (such as "unknown command" from a plugin without createTask), 1
 * when no response came.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#include "procstat.h"

#define CONTROL_TOPIC "$CONTROL/ota/v1"
#define RESPONSE_TOPIC "$CONTROL/ota/v1/response"
#define CORRELATION "bench-create-task"

struct session {
	bool subscribed;
	bool answered;
	char *response;
	int64_t answered_ns;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_subscribe(struct mosquitto *mosq, void *userdata, int mid,
	int qos_count, const int *granted_qos)
{
	struct session *session = userdata;

	(void)mosq;
	(void)mid;
	session->subscribed = qos_count == 1 && granted_qos[0] <= 2;
}

static void on_message(struct mosquitto *mosq, void *userdata,
	const struct mosquitto_message *message)
{
	struct session *session = userdata;

	(void)mosq;
	if(session->answered || strcmp(message->topic, RESPONSE_TOPIC) != 0
			|| !strstr(message->payload, CORRELATION)){
		return;
	}
	session->answered_ns = now_ns();
	session->answered = true;
	session->response = strndup(message->payload, (size_t)message->payloadlen);
}

/* Builds the request: one createTask for `devices` serial numbers
 * PREFIX0000000, PREFIX0000001, ... Returns a malloc'd string. */
static char *build_request(int devices, const char *prefix, int64_t task_id)
{
	size_t serial_len = strlen(prefix) + 7;
	size_t size = (size_t)devices * (serial_len + 3) + 512;
	char *text = malloc(size);
	size_t at;

	if(!text){
		return NULL;
	}
	at = (size_t)snprintf(text, size, "{\"commands\":[{\"command\":\"createTask\","
		"\"taskId\":%" PRId64 ",\"version\":\"2.0\",\"url\":\"/bench/firmware-2.0.bin\","
		"\"correlationData\":\"" CORRELATION "\",\"devices\":[", task_id);
	for(int i = 0; i < devices; i++){
		at += (size_t)snprintf(text + at, size - at, "%s\"%s%07d\"", i ? "," : "",
			prefix, i);
	}
	snprintf(text + at, size - at, "]}]}");
	return text;
}

/* Prints the outcome. Returns 0 for data, 4 for an error response. */
static int report(const struct session *session, int devices, double seconds,
	long rss_before, long hwm_after)
{
	cJSON *root = cJSON_Parse(session->response);
	cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "responses"), 0);
	cJSON *error = cJSON_GetObjectItem(first, "error");
	cJSON *data = cJSON_GetObjectItem(first, "data");
	char *data_text = data ? cJSON_PrintUnformatted(data) : NULL;
	int rc = 0;

	if(cJSON_IsString(error)){
		printf("create_task devices=%d seconds=%.3f result=error error=\"%s\"\n",
			devices, seconds, error->valuestring);
		rc = 4;
	}else if(data_text){
		/* A large response lists refused devices; the start is enough. */
		if(strlen(data_text) > 400){
			strcpy(data_text + 396, "...");
		}
		printf("create_task devices=%d seconds=%.3f result=ok broker_rss_before_kib=%ld"
			" broker_hwm_after_kib=%ld data=%s\n", devices, seconds, rss_before,
			hwm_after, data_text);
	}else{
		printf("create_task devices=%d seconds=%.3f result=error error=\"response"
			" without data or error\"\n", devices, seconds);
		rc = 4;
	}
	free(data_text);
	cJSON_Delete(root);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: create_task -n DEVICES [options]\n"
		"  -h HOST            broker address (default 127.0.0.1)\n"
		"  -p PORT            broker port (default 1883)\n"
		"  -u USERNAME        a user listed in plugin_opt_admin_users (default bench-admin)\n"
		"  -n DEVICES         devices in the task\n"
		"  --task-id ID       taskId of the new task (default 1000000)\n"
		"  --prefix TEXT      serial number prefix (default CT)\n"
		"  --timeout S        longest wait for the response (default 60)\n"
		"  --broker-pid PID   broker whose memory is reported\n");
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"task-id", required_argument, NULL, 'T'},
		{"prefix", required_argument, NULL, 'P'},
		{"timeout", required_argument, NULL, 'O'},
		{"broker-pid", required_argument, NULL, 'B'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	struct session session = {0};
	const char *host = "127.0.0.1";
	const char *username = "bench-admin";
	const char *prefix = "CT";
	int port = 1883;
	int devices = 0;
	int timeout_s = 60;
	int broker_pid = 0;
	int64_t task_id = 1000000;
	struct mosquitto *mosq;
	char *request;
	int64_t started;
	int64_t deadline;
	long rss_before;
	int c;

	while((c = getopt_long(argc, argv, "h:p:u:n:", longs, NULL)) != -1){
		switch(c){
			case 'h': host = optarg; break;
			case 'p': port = atoi(optarg); break;
			case 'u': username = optarg; break;
			case 'n': devices = atoi(optarg); break;
			case 'T': task_id = strtoll(optarg, NULL, 10); break;
			case 'P': prefix = optarg; break;
			case 'O': timeout_s = atoi(optarg); break;
			case 'B': broker_pid = atoi(optarg); break;
			case 'H': usage(stdout); return 0;
			default: usage(stderr); return 2;
		}
	}
	if(devices < 1 || task_id < 1){
		usage(stderr);
		return 2;
	}
	request = build_request(devices, prefix, task_id);
	if(!request){
		fprintf(stderr, "create_task: out of memory\n");
		return 1;
	}

	mosquitto_lib_init();
	mosq = mosquitto_new("bench-create-task", true, &session);
	mosquitto_username_pw_set(mosq, username, NULL);
	mosquitto_subscribe_callback_set(mosq, on_subscribe);
	mosquitto_message_callback_set(mosq, on_message);
	if(mosquitto_connect(mosq, host, port, 60) != MOSQ_ERR_SUCCESS
			|| mosquitto_subscribe(mosq, NULL, RESPONSE_TOPIC, 1) != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "create_task: connecting to %s:%d failed: %s\n", host, port,
			strerror(errno));
		return 1;
	}
	deadline = now_ns() + 10000000000LL;
	while(!session.subscribed && now_ns() < deadline){
		mosquitto_loop(mosq, 100, 1);
	}

	rss_before = broker_pid ? procstat_status_kib(broker_pid, "VmRSS") : -1;
	started = now_ns();
	mosquitto_publish(mosq, NULL, CONTROL_TOPIC, (int)strlen(request), request, 1, false);
	deadline = started + (int64_t)timeout_s * 1000000000LL;
	while(!session.answered && now_ns() < deadline){
		if(mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS){
			break;
		}
	}
	free(request);
	if(!session.answered){
		printf("create_task devices=%d result=error error=\"no response in %d s\"\n",
			devices, timeout_s);
		return 1;
	}
	c = report(&session, devices, (double)(session.answered_ns - started) / 1e9,
		rss_before, broker_pid ? procstat_status_kib(broker_pid, "VmHWM") : -1);
	free(session.response);
	mosquitto_disconnect(mosq);
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	return c;
}
