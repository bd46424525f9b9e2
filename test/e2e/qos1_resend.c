/*
 * qos1_resend: publishes one message at QoS 1 from a persistent session
 * (clean session false) to a broker on 127.0.0.1, and reconnects after
 * every lost connection until the broker acknowledges the message or the
 * time limit passes. libmosquitto sends an unacknowledged message again,
 * with the DUP flag, after each reconnect.
 *
 * mosquitto_pub cannot stand in for a device here: it exits when the broker
 * closes the connection, and does not send the message again.
 *
 * Prints one line per event ("connected 1", "connection lost",
 * "acknowledged after 2 connections"). Exits 0 once the message is
 * acknowledged, 1 when the time limit passed first, 2 on usage errors.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

struct resend {
	const char *topic;
	const char *payload;
	int mid;
	bool published;
	bool acknowledged;
	int connections;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct resend *r = obj;

	if(rc != 0){
		printf("connection refused: %s\n", mosquitto_connack_string(rc));
		fflush(stdout);
		return;
	}
	r->connections++;
	printf("connected %d\n", r->connections);
	fflush(stdout);
	/* Publish once: after a reconnect libmosquitto resends it itself. */
	if(!r->published){
		rc = mosquitto_publish(mosq, &r->mid, r->topic, (int)strlen(r->payload),
			r->payload, 1, false);
		if(rc != MOSQ_ERR_SUCCESS){
			printf("publish failed: %s\n", mosquitto_strerror(rc));
			fflush(stdout);
			return;
		}
		r->published = true;
	}
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct resend *r = obj;

	(void)mosq;
	if(r->published && mid == r->mid){
		r->acknowledged = true;
	}
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	(void)mosq;
	(void)obj;
	if(rc != 0){
		printf("connection lost\n");
		fflush(stdout);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: qos1_resend -p PORT -i CLIENT_ID -t TOPIC -m PAYLOAD"
		" [-u USERNAME] [-P PASSWORD] [-w SECONDS]\n"
		"  Publishes PAYLOAD on TOPIC at QoS 1 to 127.0.0.1:PORT with clean session\n"
		"  false, reconnecting every second after a lost connection, until the\n"
		"  broker acknowledges it or SECONDS (default 30) pass.\n");
}

int main(int argc, char **argv)
{
	struct resend r = {0};
	const char *client_id = NULL;
	const char *username = NULL;
	const char *password = NULL;
	struct mosquitto *mosq;
	int port = 0;
	double limit_s = 30;
	double deadline;
	int opt;
	int rc;

	while((opt = getopt(argc, argv, "p:i:t:m:u:P:w:")) != -1){
		switch(opt){
			case 'p': port = atoi(optarg); break;
			case 'i': client_id = optarg; break;
			case 't': r.topic = optarg; break;
			case 'm': r.payload = optarg; break;
			case 'u': username = optarg; break;
			case 'P': password = optarg; break;
			case 'w': limit_s = atof(optarg); break;
			default: usage(); return 2;
		}
	}
	if(port <= 0 || port > 65535 || !client_id || !r.topic || !r.payload || limit_s <= 0){
		usage();
		return 2;
	}

	mosquitto_lib_init();
	mosq = mosquitto_new(client_id, false, &r);
	if(!mosq){
		fprintf(stderr, "qos1_resend: out of memory\n");
		return 2;
	}
	mosquitto_connect_callback_set(mosq, on_connect);
	mosquitto_publish_callback_set(mosq, on_publish);
	mosquitto_disconnect_callback_set(mosq, on_disconnect);
	if(username && mosquitto_username_pw_set(mosq, username, password)){
		fprintf(stderr, "qos1_resend: invalid username or password\n");
		return 2;
	}

	deadline = now_s() + limit_s;
	rc = mosquitto_connect(mosq, "127.0.0.1", port, 60);
	while(!r.acknowledged && now_s() < deadline){
		if(rc == MOSQ_ERR_SUCCESS){
			rc = mosquitto_loop(mosq, 100, 1);
			continue;
		}
		/* Lost or never made: wait a second, as a device would, and
		 * reconnect. The in-flight message goes out again after CONNACK. */
		nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
		rc = mosquitto_reconnect(mosq);
	}

	if(r.acknowledged){
		printf("acknowledged after %d connections\n", r.connections);
		mosquitto_disconnect(mosq);
		mosquitto_loop(mosq, 100, 1);
	}else{
		printf("not acknowledged within %.0f s\n", limit_s);
	}
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	return r.acknowledged ? 0 : 1;
}
