/*
 * libFuzzer target for device replies. Each input is a reply payload:
 *
 *  1. ota_codec_parse_reply() and ota_codec_parse_set() parse it, and an
 *     accepted reply must keep the parser's promises (status 2..4, progress
 *     -1 or 0..100, a positive taskId below 2^53, a version equal to
 *     itself); a declined one must come with a reason text.
 *  2. ota_tracker_message() handles it on the reply topic of a device with
 *     a fresh row in task 26, on a real store. A backend's `set` creates
 *     that row first, so every input meets a device in SEND. The input's
 *     bytes pick how the device identifies itself and the topic form.
 *     A healthy database must never fail to commit (OTA_FAIL).
 *
 * The tracker starts over on an empty database every FUZZ_RESET_INPUTS
 * inputs, because each input adds a row.
 *
 * The seed corpus is test/fuzz/reply: the trace's replies and `set`, and
 * every malformed case of the end-to-end tests.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "ota_codec.h"

#define TASK_SET "{\"taskId\":26,\"url\":\"/profile/iot/1/2024-0824-001954.bin\"," \
	"\"version\":1.2,\"status\":1}"

static unsigned long long inputs;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const options[] = {"log_burst", "1000", NULL};

	(void)argc;
	(void)argv;
	fuzz_tracker_options(options);
	return 0;
}

static void check_detail(const char *detail, size_t size)
{
	if(strnlen(detail, size) == size || detail[0] == '\0'){
		fuzz_fail("declined without a reason text");
	}
}

static void check_parsers(const uint8_t *data, size_t size)
{
	struct ota_reply reply;
	struct ota_set set;
	char detail[OTA_DETAIL_MAX];

	detail[0] = '\0';
	if(ota_codec_parse_reply(data, size, &reply, detail, sizeof(detail)) != OTA_DECLINE_NONE){
		check_detail(detail, sizeof(detail));
	}else if(reply.status < 2 || reply.status > 4
			|| reply.progress < -1 || reply.progress > 100
			|| reply.task_id <= 0 || reply.task_id > OTA_TASK_ID_MAX){
		fuzz_fail("accepted reply out of range");
	}else if(reply.has_version && !ota_version_equal(reply.version, reply.version)){
		fuzz_fail("reported version not equal to itself");
	}

	detail[0] = '\0';
	if(ota_codec_parse_set(data, size, &set, detail, sizeof(detail)) != OTA_DECLINE_NONE){
		check_detail(detail, sizeof(detail));
	}else if(set.task_id <= 0 || set.url[0] == '\0'
			|| !ota_version_equal(set.version, set.version)){
		fuzz_fail("accepted set out of range");
	}
}

/* Sends the input as device F<n>'s reply, after the backend's `set` gave
 * that device a row in task 26. */
static void check_tracker(const uint8_t *data, size_t size)
{
	struct ota_tracker *tracker = fuzz_tracker();
	struct ota_client backend = {.client_id = "fuzz-backend", .connection = &backend};
	struct ota_client device = {0};
	char serial[32];
	char client_id[64];
	char set_topic[64];
	char reply_topic[64];
	unsigned pick = size ? data[size / 2] : 0;
	bool slash = (pick & 4) == 0;

	snprintf(serial, sizeof(serial), "F%llu", inputs++);
	snprintf(set_topic, sizeof(set_topic), "/%s/http/upgrade/set", serial);
	if(ota_tracker_message(tracker, &backend, set_topic, TASK_SET, strlen(TASK_SET)) != OTA_PASS){
		fuzz_fail("the backend's set was not accepted");
	}

	snprintf(reply_topic, sizeof(reply_topic), "%s%s/http/upgrade/reply",
		slash ? "/" : "", serial);
	device.connection = &device;
	switch(pick & 3){
		case 0:
			device.client_id = serial;
			break;
		case 1:
			snprintf(client_id, sizeof(client_id), "S&%s&1&1", serial);
			device.client_id = client_id;
			break;
		case 2:
			device.client_id = "fuzz-device";
			device.username = serial;
			break;
		default:
			/* Another device's identity: the reply must be dropped. */
			device.client_id = "fuzz-impostor";
			break;
	}
	switch(ota_tracker_message(tracker, &device, reply_topic, data, size)){
		case OTA_FAIL:
			fuzz_fail("a reply could not be committed to a healthy database");
			break;
		case OTA_PASS:
			if((pick & 3) == 3){
				fuzz_fail("a reply from another client passed the identity check");
			}
			break;
		case OTA_DROP:
			if((pick & 3) != 3){
				fuzz_fail("a reply from the device itself was dropped");
			}
			break;
	}
	ota_tracker_client_gone(tracker, &device);
	ota_tracker_tick(tracker);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parsers(data, size);
	check_tracker(data, size);
	return 0;
}
