/*
 * One request/response exchange with the OTA plugin over MQTT: connect,
 * subscribe to $CONTROL/ota/v1/response, wait for the SUBACK so the response
 * cannot be missed, publish the request at QoS 1, then wait for the response
 * element that carries our correlationData. Other clients' responses reach
 * the same topic and are ignored.
 *
 * The connection is made with mosquitto_connect_async and driven by
 * mosquitto_loop, so the timeout also bounds the TCP and TLS handshakes
 * (name resolution still blocks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "ota_cli.h"

#define KEEPALIVE_SECONDS 60

enum phase {
	PHASE_CONNECTING,
	PHASE_SUBSCRIBING,
	PHASE_WAITING,
	PHASE_DONE,
};

struct exchange {
	const struct ota_cli_connection *conn;
	const char *payload;
	const char *correlation;
	enum phase phase;
	int result;             /* exit status once phase is PHASE_DONE */
	cJSON *response;        /* the matching response element */
	char last_log_error[256]; /* libmosquitto's latest error log line */
};

static int effective_port(const struct ota_cli_connection *conn)
{
	if(conn->port > 0){
		return conn->port;
	}
	return (conn->cafile || conn->capath) ? 8883 : 1883;
}

static void finish(struct exchange *ex, int result)
{
	ex->phase = PHASE_DONE;
	ex->result = result;
}

/* Returns the text of a CONNACK or DISCONNECT reason code, which differs
 * between MQTT v5 and v3.1.1. */
static const char *reason_text(const struct exchange *ex, int rc)
{
	if(ex->conn->protocol_version == MQTT_PROTOCOL_V5){
		return mosquitto_reason_string(rc);
	}
	return mosquitto_connack_string(rc);
}

static void on_log(struct mosquitto *mosq, void *obj, int level, const char *text)
{
	struct exchange *ex = obj;

	(void)mosq;
	if(level == MOSQ_LOG_ERR){
		snprintf(ex->last_log_error, sizeof(ex->last_log_error), "%s", text);
	}
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
	const mosquitto_property *props)
{
	struct exchange *ex = obj;
	int sub_rc;

	(void)flags;
	(void)props;
	if(rc != 0){
		fprintf(stderr, "Error: %s:%d rejected the connection: %s\n",
			ex->conn->host, effective_port(ex->conn), reason_text(ex, rc));
		finish(ex, OTA_CLI_CONNECTION);
		return;
	}

	ex->phase = PHASE_SUBSCRIBING;
	sub_rc = mosquitto_subscribe_v5(mosq, NULL, OTA_CLI_RESPONSE_TOPIC, 1, 0, NULL);
	if(sub_rc != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "Error: failed to subscribe to %s: %s\n",
			OTA_CLI_RESPONSE_TOPIC, mosquitto_strerror(sub_rc));
		finish(ex, OTA_CLI_CONNECTION);
	}
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
	const int *granted_qos, const mosquitto_property *props)
{
	struct exchange *ex = obj;
	int pub_rc;

	(void)mid;
	(void)props;
	if(ex->phase != PHASE_SUBSCRIBING){
		return;
	}
	if(qos_count < 1 || granted_qos[0] >= 128){
		fprintf(stderr, "Error: the broker rejected the subscription to %s (%s);"
			" check the ACL of user \"%s\"\n", OTA_CLI_RESPONSE_TOPIC,
			qos_count < 1 ? "no result" : mosquitto_reason_string(granted_qos[0]),
			ex->conn->username ? ex->conn->username : "");
		finish(ex, OTA_CLI_CONNECTION);
		return;
	}

	if(ex->conn->debug){
		fprintf(stderr, "> %s %s\n", OTA_CLI_CONTROL_TOPIC, ex->payload);
	}
	ex->phase = PHASE_WAITING;
	pub_rc = mosquitto_publish_v5(mosq, NULL, OTA_CLI_CONTROL_TOPIC,
		(int)strlen(ex->payload), ex->payload, 1, false, NULL);
	if(pub_rc != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "Error: failed to publish to %s: %s\n",
			OTA_CLI_CONTROL_TOPIC, mosquitto_strerror(pub_rc));
		finish(ex, OTA_CLI_CONNECTION);
	}
}

/* A PUBACK with a reason code of 128 or more means the broker dropped the
 * request, for example because the ACL denies $CONTROL/ota/v1. */
static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason_code,
	const mosquitto_property *props)
{
	struct exchange *ex = obj;

	(void)mosq;
	(void)mid;
	(void)props;
	if(ex->phase == PHASE_WAITING && reason_code >= 128){
		fprintf(stderr, "Error: the broker rejected the request on %s: %s\n",
			OTA_CLI_CONTROL_TOPIC, mosquitto_reason_string(reason_code));
		finish(ex, OTA_CLI_CONNECTION);
	}
}

/*
 * Returns the element of `responses` that responds to our request, detached,
 * or NULL. An element without correlationData whose command is empty is a
 * payload-level error (such as "not authorized") and is taken as ours.
 */
static cJSON *take_our_response(struct exchange *ex, cJSON *responses)
{
	cJSON *element;
	int index = 0;

	cJSON_ArrayForEach(element, responses){
		const cJSON *correlation = cJSON_GetObjectItemCaseSensitive(element, "correlationData");
		const cJSON *command = cJSON_GetObjectItemCaseSensitive(element, "command");
		const cJSON *error = cJSON_GetObjectItemCaseSensitive(element, "error");

		if(cJSON_IsString(correlation) && strcmp(correlation->valuestring, ex->correlation) == 0){
			return cJSON_DetachItemFromArray(responses, index);
		}
		/* NOTE: the plugin sends errors about a whole payload without
		 * correlationData, so such an error for another client's request,
		 * published while we wait, is taken as ours. */
		if(!correlation && cJSON_IsString(error) && cJSON_IsString(command)
				&& command->valuestring[0] == '\0'){
			return cJSON_DetachItemFromArray(responses, index);
		}
		index++;
	}
	return NULL;
}

static void on_message(struct mosquitto *mosq, void *obj,
	const struct mosquitto_message *msg, const mosquitto_property *props)
{
	struct exchange *ex = obj;
	cJSON *root;
	cJSON *responses;

	(void)mosq;
	(void)props;
	if(ex->phase != PHASE_WAITING || strcmp(msg->topic, OTA_CLI_RESPONSE_TOPIC) != 0){
		return;
	}
	if(ex->conn->debug){
		fprintf(stderr, "< %s %.*s\n", msg->topic, msg->payloadlen, (const char *)msg->payload);
	}

	root = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
	responses = cJSON_GetObjectItemCaseSensitive(root, "responses");
	if(cJSON_IsArray(responses)){
		ex->response = take_our_response(ex, responses);
	}
	cJSON_Delete(root);
	if(ex->response){
		finish(ex, OTA_CLI_OK);
	}
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
	const mosquitto_property *props)
{
	struct exchange *ex = obj;

	(void)mosq;
	(void)props;
	if(ex->phase == PHASE_DONE){
		return;
	}
	if(ex->phase == PHASE_CONNECTING && rc != 0 && ex->last_log_error[0]){
		fprintf(stderr, "Error: failed to connect to %s:%d: %s\n",
			ex->conn->host, effective_port(ex->conn), ex->last_log_error);
	}else{
		fprintf(stderr, "Error: the connection to %s:%d was closed%s%s\n",
			ex->conn->host, effective_port(ex->conn),
			rc != 0 ? ": " : "", rc != 0 ? reason_text(ex, rc) : "");
	}
	finish(ex, OTA_CLI_CONNECTION);
}

static int configure(struct mosquitto *mosq, const struct ota_cli_connection *conn)
{
	int rc;

	rc = mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, conn->protocol_version);
	if(rc == MOSQ_ERR_SUCCESS && (conn->username || conn->password)){
		rc = mosquitto_username_pw_set(mosq, conn->username, conn->password);
	}
	if(rc == MOSQ_ERR_SUCCESS && (conn->cafile || conn->capath)){
		rc = mosquitto_tls_set(mosq, conn->cafile, conn->capath,
			conn->certfile, conn->keyfile, NULL);
		if(rc == MOSQ_ERR_SUCCESS && conn->insecure){
			rc = mosquitto_tls_insecure_set(mosq, true);
		}
	}
	if(rc != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "Error: invalid connection settings: %s\n", mosquitto_strerror(rc));
	}
	return rc;
}

static double monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Describes a failed mosquitto_connect_async or mosquitto_loop call. */
static void report_network_error(const struct exchange *ex, int rc, int saved_errno)
{
	const char *cause;

	if(rc == MOSQ_ERR_ERRNO){
		cause = strerror(saved_errno);
	}else if(rc == MOSQ_ERR_EAI){
		cause = "host name lookup failed";
	}else if(ex->last_log_error[0]){
		cause = ex->last_log_error;
	}else{
		cause = mosquitto_strerror(rc);
	}
	if(ex->phase == PHASE_CONNECTING){
		fprintf(stderr, "Error: failed to connect to %s:%d: %s\n",
			ex->conn->host, effective_port(ex->conn), cause);
	}else{
		fprintf(stderr, "Error: the connection to %s:%d failed: %s\n",
			ex->conn->host, effective_port(ex->conn), cause);
	}
}

static void report_timeout(const struct exchange *ex)
{
	int seconds = ex->conn->timeout_seconds;

	switch(ex->phase){
		case PHASE_CONNECTING:
			fprintf(stderr, "Error: timed out after %d s connecting to %s:%d\n",
				seconds, ex->conn->host, effective_port(ex->conn));
			break;
		case PHASE_SUBSCRIBING:
			fprintf(stderr, "Error: timed out after %d s waiting for %s:%d to acknowledge"
				" the subscription to %s\n", seconds, ex->conn->host,
				effective_port(ex->conn), OTA_CLI_RESPONSE_TOPIC);
			break;
		default:
			fprintf(stderr, "Error: no response from the OTA plugin within %d s;"
				" is the plugin loaded and the user in plugin_opt_admin_users?\n", seconds);
			break;
	}
}

/* Runs the network loop until the exchange finishes or the deadline passes. */
static void run_loop(struct mosquitto *mosq, struct exchange *ex)
{
	double deadline = monotonic_seconds() + ex->conn->timeout_seconds;

	while(ex->phase != PHASE_DONE){
		double remaining = deadline - monotonic_seconds();
		int wait_ms;
		int rc;

		if(remaining <= 0){
			report_timeout(ex);
			finish(ex, OTA_CLI_TIMEOUT);
			break;
		}
		wait_ms = remaining > 1.0 ? 1000 : (int)(remaining * 1000) + 1;
		errno = 0;
		rc = mosquitto_loop(mosq, wait_ms, 1);
		if(rc != MOSQ_ERR_SUCCESS && ex->phase != PHASE_DONE){
			report_network_error(ex, rc, errno);
			finish(ex, OTA_CLI_CONNECTION);
		}
	}
}

int ota_cli_exchange(const struct ota_cli_connection *conn, const char *payload,
	const char *correlation, cJSON **response)
{
	struct exchange ex = {
		.conn = conn,
		.payload = payload,
		.correlation = correlation,
		.phase = PHASE_CONNECTING,
	};
	struct mosquitto *mosq;
	int rc;

	*response = NULL;
	mosquitto_lib_init();
	mosq = mosquitto_new(conn->client_id, true, &ex);
	if(!mosq){
		fprintf(stderr, "Error: failed to create the MQTT client: %s\n", strerror(errno));
		mosquitto_lib_cleanup();
		return OTA_CLI_CONNECTION;
	}
	mosquitto_log_callback_set(mosq, on_log);
	mosquitto_connect_v5_callback_set(mosq, on_connect);
	mosquitto_subscribe_v5_callback_set(mosq, on_subscribe);
	mosquitto_publish_v5_callback_set(mosq, on_publish);
	mosquitto_message_v5_callback_set(mosq, on_message);
	mosquitto_disconnect_v5_callback_set(mosq, on_disconnect);

	if(configure(mosq, conn) != MOSQ_ERR_SUCCESS){
		finish(&ex, OTA_CLI_USAGE);
	}else{
		errno = 0;
		rc = mosquitto_connect_async(mosq, conn->host, effective_port(conn), KEEPALIVE_SECONDS);
		if(rc != MOSQ_ERR_SUCCESS){
			report_network_error(&ex, rc, errno);
			finish(&ex, OTA_CLI_CONNECTION);
		}
	}
	run_loop(mosq, &ex);

	if(ex.result == OTA_CLI_OK){
		/* One more loop call sends the DISCONNECT packet. */
		if(mosquitto_disconnect_v5(mosq, 0, NULL) == MOSQ_ERR_SUCCESS){
			mosquitto_loop(mosq, 100, 1);
		}
		*response = ex.response;
	}else{
		cJSON_Delete(ex.response);
	}
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	return ex.result;
}
