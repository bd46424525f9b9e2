/*
 * Unit tests of the per-device state machine, one test per row of the
 * transition table. Each (row, event) case checks the next row, the status
 * events in order and whether a new attempt starts. Declined cases check
 * the decline code and that the row is left as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ota_state.h"

#include "check.h"

#define ROW(status_code, progress_value, reason_code, attempt_count, was_announced) \
	{.status = (status_code), .progress = (progress_value), .reason = (reason_code), \
		.attempts = (attempt_count), .announced = (was_announced)}
#define EMIT(status_code, progress_value, reason_code) \
	{.status = (status_code), .progress = (progress_value), .reason = (reason_code)}

/* Event initializers. The task's max_retries is 0 unless a case sets it. */
#define EV(event_kind) {.kind = (event_kind), .progress = -1, .version_matches = true}
#define EV_RETRIES(event_kind, retries) {.kind = (event_kind), .progress = -1, \
	.version_matches = true, .max_retries = (retries)}
#define PROGRESS(progress_value) \
	{.kind = OTA_EV_REPLY_PROGRESS, .progress = (progress_value)}
#define SUCCESS_MATCH {.kind = OTA_EV_REPLY_SUCCESS, .progress = -1, .version_matches = true}
#define SUCCESS_OTHER {.kind = OTA_EV_REPLY_SUCCESS, .progress = -1, .version_matches = false}

/* Rows as a rollout typically leaves them. */
#define R_NONE OTA_REASON_NONE
#define NEW_ROW ROW(OTA_NONE, 0, R_NONE, 0, false)
#define AWAIT_NEW ROW(OTA_AWAIT, 0, R_NONE, 0, false)
#define AWAIT_REQUEUED ROW(OTA_AWAIT, 0, R_NONE, 0, true) /* after retryTask */
#define STOP_OFFLINE ROW(OTA_STOP, 0, OTA_REASON_OFFLINE, 0, true)
#define SEND_ROW ROW(OTA_SEND, 0, R_NONE, 1, true)
#define REPLY_ROW ROW(OTA_REPLY, 50, R_NONE, 1, true)
#define FAILED_DEVICE ROW(OTA_FAILED, 40, OTA_REASON_DEVICE, 1, true)
#define FAILED_TIMED_OUT ROW(OTA_FAILED, 40, OTA_REASON_TIMED_OUT, 1, true)
#define FAILED_MISMATCH ROW(OTA_FAILED, 100, OTA_REASON_VERSION_MISMATCH, 1, true)
#define SUCCESS_ROW ROW(OTA_SUCCESS, 100, R_NONE, 1, true)
#define SUCCESS_AT_TARGET ROW(OTA_SUCCESS, 100, OTA_REASON_AT_TARGET, 0, true)
#define STOP_CANCELLED ROW(OTA_STOP, 50, OTA_REASON_CANCELLED, 1, true)
#define STOP_ABORTED ROW(OTA_STOP, 0, OTA_REASON_ABORTED, 0, true)
#define STOP_EXPIRED ROW(OTA_STOP, 0, OTA_REASON_EXPIRED, 0, true)

struct state_case {
	const char *name;
	struct ota_row row;
	struct ota_event event;
	bool changed;
	enum ota_decline decline; /* declined cases */
	struct ota_row next;      /* changed cases; declined ones keep `row` */
	bool new_attempt;
	int emit_count;
	struct ota_emit emits[2];
};

static const char *reason_name(int reason)
{
	static const char *const names[] = {"none", "offline", "cancelled", "aborted",
		"expired", "timed out", "device", "version mismatch", "at target"};

	if(reason < 0 || reason >= (int)(sizeof(names) / sizeof(names[0]))){
		return "?";
	}
	return names[reason];
}

static const char *status_name(int status)
{
	return status == OTA_NONE ? "NONE" : ota_status_name(status);
}

static bool rows_equal(const struct ota_row *a, const struct ota_row *b)
{
	return a->status == b->status && a->progress == b->progress
		&& a->reason == b->reason && a->attempts == b->attempts
		&& a->announced == b->announced;
}

static void check_emits(const struct state_case *c, const struct ota_outcome *out)
{
	CHECK(out->emit_count == c->emit_count, "%s: %d events, expected %d",
		c->name, out->emit_count, c->emit_count);
	for(int i = 0; i < out->emit_count && i < c->emit_count; i++){
		const struct ota_emit *got = &out->emits[i];
		const struct ota_emit *want = &c->emits[i];

		CHECK(got->status == want->status, "%s: event %d has status %d, expected %d",
			c->name, i, got->status, want->status);
		CHECK(got->progress == want->progress,
			"%s: event %d has progress %d, expected %d",
			c->name, i, got->progress, want->progress);
		CHECK(got->reason == want->reason, "%s: event %d has reason %s, expected %s",
			c->name, i, reason_name(got->reason), reason_name(want->reason));
	}
}

static void check_case(const struct state_case *c)
{
	struct ota_outcome out = ota_state_apply(&c->row, &c->event);
	const struct ota_row *want = c->changed ? &c->next : &c->row;

	CHECK(out.changed == c->changed, "%s: changed is %d, expected %d",
		c->name, out.changed, c->changed);
	if(!c->changed){
		CHECK(out.decline == c->decline, "%s: declined as %s, expected %s", c->name,
			ota_decline_code(out.decline), ota_decline_code(c->decline));
	}
	CHECK(out.next.status == want->status, "%s: next status %s, expected %s",
		c->name, status_name(out.next.status), status_name(want->status));
	CHECK(out.next.reason == want->reason, "%s: next reason %s, expected %s",
		c->name, reason_name(out.next.reason), reason_name(want->reason));
	CHECK(out.next.progress == want->progress, "%s: next progress %d, expected %d",
		c->name, out.next.progress, want->progress);
	CHECK(out.next.attempts == want->attempts, "%s: next attempts %d, expected %d",
		c->name, out.next.attempts, want->attempts);
	CHECK(out.next.announced == want->announced, "%s: next announced %d, expected %d",
		c->name, out.next.announced, want->announced);
	CHECK(out.new_attempt == c->new_attempt, "%s: new_attempt %d, expected %d",
		c->name, out.new_attempt, c->new_attempt);
	check_emits(c, &out);
}

static void run_cases(const struct state_case *cases, size_t count)
{
	for(size_t i = 0; i < count; i++){
		check_case(&cases[i]);
	}
	assert_checks_passed();
}

#define RUN(cases) run_cases((cases), sizeof(cases) / sizeof((cases)[0]))

/* ===================================================================== */
/* Observed `set`                                                        */
/* ===================================================================== */

/* (none) + set observed: SEND, then status 0 and 1. */
static void state_set_on_new_row(void **state)
{
	static const struct state_case cases[] = {
		{.name = "set on new row", .row = NEW_ROW, .event = EV(OTA_EV_SET_OBSERVED),
			.changed = true, .next = ROW(OTA_SEND, 0, R_NONE, 1, true),
			.new_attempt = true, .emit_count = 2,
			.emits = {EMIT(OTA_AWAIT, -1, R_NONE), EMIT(OTA_SEND, -1, R_NONE)}},
	};

	(void)state;
	RUN(cases);
}

/* Every active or FAILED row starts a new attempt from progress 0. */
static void state_set_restarts_attempt(void **state)
{
	static const struct state_case cases[] = {
		{.name = "set on await never announced", .row = AWAIT_NEW,
			.event = EV(OTA_EV_SET_OBSERVED), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 1, true), .new_attempt = true,
			.emit_count = 2,
			.emits = {EMIT(OTA_AWAIT, -1, R_NONE), EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "set on requeued await", .row = AWAIT_REQUEUED,
			.event = EV(OTA_EV_SET_OBSERVED), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 1, true), .new_attempt = true,
			.emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "set on offline stop", .row = STOP_OFFLINE,
			.event = EV(OTA_EV_SET_OBSERVED), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 1, true), .new_attempt = true,
			.emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "set on send", .row = SEND_ROW, .event = EV(OTA_EV_SET_OBSERVED),
			.changed = true, .next = ROW(OTA_SEND, 0, R_NONE, 2, true),
			.new_attempt = true, .emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "set on reply", .row = REPLY_ROW, .event = EV(OTA_EV_SET_OBSERVED),
			.changed = true, .next = ROW(OTA_SEND, 0, R_NONE, 2, true),
			.new_attempt = true, .emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "set on failed with retries left", .row = FAILED_DEVICE,
			.event = EV_RETRIES(OTA_EV_SET_OBSERVED, 2), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 2, true), .new_attempt = true,
			.emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "set on terminal failed", .row = FAILED_DEVICE,
			.event = EV(OTA_EV_SET_OBSERVED), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 2, true), .new_attempt = true,
			.emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "set on timed out failed", .row = FAILED_TIMED_OUT,
			.event = EV(OTA_EV_SET_OBSERVED), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 2, true), .new_attempt = true,
			.emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "set on success", .row = SUCCESS_ROW, .event = EV(OTA_EV_SET_OBSERVED),
			.decline = OTA_DECLINE_DUPLICATE},
		{.name = "set on cancelled stop", .row = STOP_CANCELLED,
			.event = EV(OTA_EV_SET_OBSERVED), .decline = OTA_DECLINE_ILLEGAL},
		{.name = "set on aborted stop", .row = STOP_ABORTED,
			.event = EV(OTA_EV_SET_OBSERVED), .decline = OTA_DECLINE_ILLEGAL},
		{.name = "set on expired stop", .row = STOP_EXPIRED,
			.event = EV(OTA_EV_SET_OBSERVED), .decline = OTA_DECLINE_ILLEGAL},
	};

	(void)state;
	RUN(cases);
}

/* ===================================================================== */
/* The plugin's own pushes                                               */
/* ===================================================================== */

/* AWAIT + task created with the device already at the target version. */
static void state_at_target_on_await(void **state)
{
	static const struct state_case cases[] = {
		{.name = "at target on await", .row = AWAIT_NEW, .event = EV(OTA_EV_AT_TARGET),
			.changed = true, .next = ROW(OTA_SUCCESS, 100, OTA_REASON_AT_TARGET, 0, true),
			.emit_count = 2,
			.emits = {EMIT(OTA_AWAIT, -1, R_NONE),
				EMIT(OTA_SUCCESS, -1, OTA_REASON_AT_TARGET)}},
	};

	(void)state;
	RUN(cases);
}

static void state_push_online_from_await(void **state)
{
	static const struct state_case cases[] = {
		{.name = "push await never announced", .row = AWAIT_NEW,
			.event = EV(OTA_EV_PUSH_ONLINE), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 1, true), .new_attempt = true,
			.emit_count = 2,
			.emits = {EMIT(OTA_AWAIT, -1, R_NONE), EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "push requeued await", .row = AWAIT_REQUEUED,
			.event = EV(OTA_EV_PUSH_ONLINE), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 1, true), .new_attempt = true,
			.emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
	};

	(void)state;
	RUN(cases);
}

/* The offline STOP event carries no message: "device offline" is not one
 * of the event messages of the protocol. */
static void state_push_offline_from_await(void **state)
{
	static const struct state_case cases[] = {
		{.name = "offline await never announced", .row = AWAIT_NEW,
			.event = EV(OTA_EV_PUSH_OFFLINE), .changed = true,
			.next = ROW(OTA_STOP, 0, OTA_REASON_OFFLINE, 0, true),
			.emit_count = 2,
			.emits = {EMIT(OTA_AWAIT, -1, R_NONE), EMIT(OTA_STOP, -1, R_NONE)}},
		{.name = "offline requeued await", .row = AWAIT_REQUEUED,
			.event = EV(OTA_EV_PUSH_OFFLINE), .changed = true,
			.next = ROW(OTA_STOP, 0, OTA_REASON_OFFLINE, 0, true),
			.emit_count = 1, .emits = {EMIT(OTA_STOP, -1, R_NONE)}},
	};

	(void)state;
	RUN(cases);
}

static void state_push_online_from_offline_stop(void **state)
{
	static const struct state_case cases[] = {
		{.name = "device back online", .row = STOP_OFFLINE,
			.event = EV(OTA_EV_PUSH_ONLINE), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 1, true), .new_attempt = true,
			.emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "device still offline", .row = STOP_OFFLINE,
			.event = EV(OTA_EV_PUSH_OFFLINE), .decline = OTA_DECLINE_DUPLICATE},
	};

	(void)state;
	RUN(cases);
}

/* FAILED with attempts 1 has one retry left when maxRetries is 1. */
static void state_retry_push_online_from_failed(void **state)
{
	static const struct state_case cases[] = {
		{.name = "retry push with retries left", .row = FAILED_DEVICE,
			.event = EV_RETRIES(OTA_EV_PUSH_ONLINE, 1), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 2, true), .new_attempt = true,
			.emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "retry push after timeout", .row = FAILED_TIMED_OUT,
			.event = EV_RETRIES(OTA_EV_PUSH_ONLINE, 3), .changed = true,
			.next = ROW(OTA_SEND, 0, R_NONE, 2, true), .new_attempt = true,
			.emit_count = 1, .emits = {EMIT(OTA_SEND, -1, R_NONE)}},
		{.name = "retry push without retries", .row = FAILED_DEVICE,
			.event = EV(OTA_EV_PUSH_ONLINE), .decline = OTA_DECLINE_ILLEGAL},
		{.name = "retry push with retries used",
			.row = ROW(OTA_FAILED, 40, OTA_REASON_DEVICE, 2, true),
			.event = EV_RETRIES(OTA_EV_PUSH_ONLINE, 1), .decline = OTA_DECLINE_ILLEGAL},
	};

	(void)state;
	RUN(cases);
}

static void state_retry_push_offline_from_failed(void **state)
{
	static const struct state_case cases[] = {
		{.name = "retry offline with retries left", .row = FAILED_DEVICE,
			.event = EV_RETRIES(OTA_EV_PUSH_OFFLINE, 1), .changed = true,
			.next = ROW(OTA_STOP, 40, OTA_REASON_OFFLINE, 1, true),
			.emit_count = 1, .emits = {EMIT(OTA_STOP, -1, R_NONE)}},
		{.name = "retry offline without retries", .row = FAILED_DEVICE,
			.event = EV(OTA_EV_PUSH_OFFLINE), .decline = OTA_DECLINE_ILLEGAL},
	};

	(void)state;
	RUN(cases);
}

/* retryTask moves a row back to AWAIT with attempts counted afresh and
 * publishes nothing until the next push. */
static void state_retry_task_requeues_row(void **state)
{
	static const struct state_case cases[] = {
		{.name = "retryTask on device failure", .row = FAILED_DEVICE,
			.event = EV(OTA_EV_RETRY_TASK), .changed = true, .next = AWAIT_REQUEUED},
		{.name = "retryTask on failure with retries left",
			.row = ROW(OTA_FAILED, 40, OTA_REASON_DEVICE, 1, true),
			.event = EV_RETRIES(OTA_EV_RETRY_TASK, 3), .changed = true,
			.next = AWAIT_REQUEUED},
		{.name = "retryTask on timeout", .row = ROW(OTA_FAILED, 70, OTA_REASON_TIMED_OUT, 4, true),
			.event = EV(OTA_EV_RETRY_TASK), .changed = true, .next = AWAIT_REQUEUED},
		{.name = "retryTask on offline stop", .row = STOP_OFFLINE,
			.event = EV(OTA_EV_RETRY_TASK), .changed = true, .next = AWAIT_REQUEUED},
		{.name = "retryTask on expired stop", .row = STOP_EXPIRED,
			.event = EV(OTA_EV_RETRY_TASK), .changed = true, .next = AWAIT_REQUEUED},
		{.name = "retryTask on aborted stop", .row = STOP_ABORTED,
			.event = EV(OTA_EV_RETRY_TASK), .changed = true, .next = AWAIT_REQUEUED},
		{.name = "retryTask on cancelled stop", .row = STOP_CANCELLED,
			.event = EV(OTA_EV_RETRY_TASK), .decline = OTA_DECLINE_ILLEGAL},
		{.name = "retryTask on success", .row = SUCCESS_ROW,
			.event = EV(OTA_EV_RETRY_TASK), .decline = OTA_DECLINE_ILLEGAL},
		{.name = "retryTask on send", .row = SEND_ROW,
			.event = EV(OTA_EV_RETRY_TASK), .decline = OTA_DECLINE_ILLEGAL},
	};

	(void)state;
	RUN(cases);
}

/* ===================================================================== */
/* Device replies                                                        */
/* ===================================================================== */

static void state_progress_from_waiting_rows(void **state)
{
	static const struct state_case cases[] = {
		{.name = "progress on await", .row = AWAIT_NEW, .event = PROGRESS(30),
			.changed = true, .next = ROW(OTA_REPLY, 30, R_NONE, 0, true),
			.emit_count = 1, .emits = {EMIT(OTA_REPLY, 30, R_NONE)}},
		{.name = "progress on offline stop", .row = STOP_OFFLINE, .event = PROGRESS(30),
			.changed = true, .next = ROW(OTA_REPLY, 30, R_NONE, 0, true),
			.emit_count = 1, .emits = {EMIT(OTA_REPLY, 30, R_NONE)}},
		{.name = "progress on send", .row = SEND_ROW, .event = PROGRESS(30),
			.changed = true, .next = ROW(OTA_REPLY, 30, R_NONE, 1, true),
			.emit_count = 1, .emits = {EMIT(OTA_REPLY, 30, R_NONE)}},
		{.name = "progress 0 on send", .row = SEND_ROW, .event = PROGRESS(0),
			.changed = true, .next = ROW(OTA_REPLY, 0, R_NONE, 1, true),
			.emit_count = 1, .emits = {EMIT(OTA_REPLY, 0, R_NONE)}},
		{.name = "absent progress on send", .row = SEND_ROW, .event = PROGRESS(-1),
			.changed = true, .next = ROW(OTA_REPLY, 0, R_NONE, 1, true),
			.emit_count = 1, .emits = {EMIT(OTA_REPLY, 0, R_NONE)}},
	};

	(void)state;
	RUN(cases);
}

static void state_progress_rising_in_reply(void **state)
{
	static const struct state_case cases[] = {
		{.name = "progress 50 to 70", .row = REPLY_ROW, .event = PROGRESS(70),
			.changed = true, .next = ROW(OTA_REPLY, 70, R_NONE, 1, true),
			.emit_count = 1, .emits = {EMIT(OTA_REPLY, 70, R_NONE)}},
		{.name = "progress 50 to 100", .row = REPLY_ROW, .event = PROGRESS(100),
			.changed = true, .next = ROW(OTA_REPLY, 100, R_NONE, 1, true),
			.emit_count = 1, .emits = {EMIT(OTA_REPLY, 100, R_NONE)}},
	};

	(void)state;
	RUN(cases);
}

static void state_progress_not_rising_declined(void **state)
{
	static const struct state_case cases[] = {
		{.name = "equal progress", .row = REPLY_ROW, .event = PROGRESS(50),
			.decline = OTA_DECLINE_DUPLICATE},
		{.name = "lower progress", .row = REPLY_ROW, .event = PROGRESS(30),
			.decline = OTA_DECLINE_STALE},
		{.name = "absent progress", .row = REPLY_ROW, .event = PROGRESS(-1),
			.decline = OTA_DECLINE_DUPLICATE},
		{.name = "late progress after success", .row = SUCCESS_ROW, .event = PROGRESS(60),
			.decline = OTA_DECLINE_STALE},
	};

	(void)state;
	RUN(cases);
}

/* Active rows and the row each one is in before the reply. */
static const struct {
	const char *name;
	struct ota_row row;
} active_rows[] = {
	{"await", AWAIT_NEW},
	{"offline stop", STOP_OFFLINE},
	{"send", SEND_ROW},
	{"reply", REPLY_ROW},
};

#define ACTIVE_COUNT (sizeof(active_rows) / sizeof(active_rows[0]))

/* Builds the case "`event` on each active row moves it to (status, reason)
 * and publishes `status` with `emit_reason`", and checks it. */
static void check_on_active_rows(const char *what, struct ota_event event,
	int status, int reason, int emit_reason)
{
	for(size_t i = 0; i < ACTIVE_COUNT; i++){
		char name[96];
		struct state_case c = {.name = name, .row = active_rows[i].row,
			.event = event, .changed = true, .emit_count = 1};

		snprintf(name, sizeof(name), "%s on %s", what, active_rows[i].name);
		c.next = c.row;
		c.next.status = status;
		c.next.reason = reason;
		c.next.announced = true;
		if(status == OTA_SUCCESS){
			c.next.progress = 100; /* a success completes the image */
		}
		c.emits[0] = (struct ota_emit)EMIT(status, -1, emit_reason);
		check_case(&c);
	}
	assert_checks_passed();
}

static void state_success_on_active_rows(void **state)
{
	(void)state;
	check_on_active_rows("matching success", (struct ota_event)SUCCESS_MATCH,
		OTA_SUCCESS, R_NONE, R_NONE);
}

static void state_version_mismatch_fails_row(void **state)
{
	(void)state;
	check_on_active_rows("success with other version", (struct ota_event)SUCCESS_OTHER,
		OTA_FAILED, OTA_REASON_VERSION_MISMATCH, OTA_REASON_VERSION_MISMATCH);
}

static void state_device_failure_on_active_rows(void **state)
{
	(void)state;
	check_on_active_rows("device failure", (struct ota_event)EV(OTA_EV_REPLY_FAILED),
		OTA_FAILED, OTA_REASON_DEVICE, OTA_REASON_DEVICE);
}

/* Only a FAILED "timed out" row takes a late success, and only with the
 * target version. Other FAILED rows are terminal for replies. */
static void state_success_after_timeout(void **state)
{
	static const struct state_case cases[] = {
		{.name = "success after timeout", .row = FAILED_TIMED_OUT, .event = SUCCESS_MATCH,
			.changed = true, .next = ROW(OTA_SUCCESS, 100, R_NONE, 1, true),
			.emit_count = 1, .emits = {EMIT(OTA_SUCCESS, -1, R_NONE)}},
		{.name = "success after timeout, retry pending", .row = FAILED_TIMED_OUT,
			.event = {.kind = OTA_EV_REPLY_SUCCESS, .progress = -1,
				.version_matches = true, .max_retries = 2},
			.changed = true, .next = ROW(OTA_SUCCESS, 100, R_NONE, 1, true),
			.emit_count = 1, .emits = {EMIT(OTA_SUCCESS, -1, R_NONE)}},
		{.name = "other version after timeout", .row = FAILED_TIMED_OUT,
			.event = SUCCESS_OTHER, .decline = OTA_DECLINE_ILLEGAL},
		{.name = "success after device failure", .row = FAILED_DEVICE,
			.event = SUCCESS_MATCH, .decline = OTA_DECLINE_ILLEGAL},
		{.name = "success after version mismatch", .row = FAILED_MISMATCH,
			.event = SUCCESS_MATCH, .decline = OTA_DECLINE_ILLEGAL},
		{.name = "second success", .row = SUCCESS_ROW, .event = SUCCESS_MATCH,
			.decline = OTA_DECLINE_DUPLICATE},
		{.name = "second failure", .row = FAILED_DEVICE, .event = EV(OTA_EV_REPLY_FAILED),
			.decline = OTA_DECLINE_DUPLICATE},
	};

	(void)state;
	RUN(cases);
}

/* ===================================================================== */
/* Clock and operator events                                             */
/* ===================================================================== */

static void state_timeout_from_send_reply(void **state)
{
	static const struct state_case cases[] = {
		{.name = "timeout on send", .row = SEND_ROW, .event = EV(OTA_EV_TIMEOUT),
			.changed = true, .next = ROW(OTA_FAILED, 0, OTA_REASON_TIMED_OUT, 1, true),
			.emit_count = 1, .emits = {EMIT(OTA_FAILED, -1, OTA_REASON_TIMED_OUT)}},
		{.name = "timeout on reply", .row = REPLY_ROW, .event = EV(OTA_EV_TIMEOUT),
			.changed = true, .next = ROW(OTA_FAILED, 50, OTA_REASON_TIMED_OUT, 1, true),
			.emit_count = 1, .emits = {EMIT(OTA_FAILED, -1, OTA_REASON_TIMED_OUT)}},
		{.name = "timeout on await", .row = AWAIT_NEW, .event = EV(OTA_EV_TIMEOUT),
			.decline = OTA_DECLINE_ILLEGAL},
		{.name = "timeout on offline stop", .row = STOP_OFFLINE, .event = EV(OTA_EV_TIMEOUT),
			.decline = OTA_DECLINE_ILLEGAL},
		{.name = "timeout on failed", .row = FAILED_TIMED_OUT, .event = EV(OTA_EV_TIMEOUT),
			.decline = OTA_DECLINE_ILLEGAL},
		{.name = "timeout on success", .row = SUCCESS_ROW, .event = EV(OTA_EV_TIMEOUT),
			.decline = OTA_DECLINE_ILLEGAL},
	};

	(void)state;
	RUN(cases);
}

/* Cancel, abort and expiry stop every active row and every FAILED row
 * still waiting for a retry, with the reason as the event's message. A
 * FAILED row with no retries left stays as it is. */
static void check_stop_event(enum ota_event_kind kind, int reason)
{
	for(size_t i = 0; i < ACTIVE_COUNT + 1; i++){
		char name[96];
		bool failed = i == ACTIVE_COUNT;
		struct state_case c = {.name = name,
			.event = EV_RETRIES(kind, failed ? 1 : 0),
			.changed = true, .emit_count = 1};

		c.row = failed ? (struct ota_row)FAILED_DEVICE : active_rows[i].row;
		snprintf(name, sizeof(name), "%s on %s", reason_name(reason),
			failed ? "failed waiting for a retry" : active_rows[i].name);
		c.next = c.row;
		c.next.status = OTA_STOP;
		c.next.reason = reason;
		/* Any event marks the row announced, so no 0 follows later. */
		c.next.announced = true;
		c.emits[0] = (struct ota_emit)EMIT(OTA_STOP, -1, reason);
		check_case(&c);
	}

	{
		char name[96];
		struct state_case c = {.name = name, .row = FAILED_DEVICE, .event = EV(kind),
			.decline = OTA_DECLINE_ILLEGAL};

		snprintf(name, sizeof(name), "%s on terminal failed", reason_name(reason));
		check_case(&c);
	}
	assert_checks_passed();
}

static void state_cancel_stops_rows(void **state)
{
	(void)state;
	check_stop_event(OTA_EV_CANCEL, OTA_REASON_CANCELLED);
}

static void state_abort_stops_rows(void **state)
{
	(void)state;
	check_stop_event(OTA_EV_ABORT, OTA_REASON_ABORTED);
}

static void state_expiry_stops_rows(void **state)
{
	(void)state;
	check_stop_event(OTA_EV_EXPIRE, OTA_REASON_EXPIRED);
}

/* ===================================================================== */
/* Pairs outside the table                                               */
/* ===================================================================== */

static const struct {
	const char *name;
	struct ota_event event;
} all_events[] = {
	{"set", EV(OTA_EV_SET_OBSERVED)},
	{"push online", EV(OTA_EV_PUSH_ONLINE)},
	{"push offline", EV(OTA_EV_PUSH_OFFLINE)},
	{"at target", EV(OTA_EV_AT_TARGET)},
	{"progress 60", PROGRESS(60)},
	{"absent progress", PROGRESS(-1)},
	{"matching success", SUCCESS_MATCH},
	{"other version", SUCCESS_OTHER},
	{"device failure", EV(OTA_EV_REPLY_FAILED)},
	{"timeout", EV(OTA_EV_TIMEOUT)},
	{"cancel", EV(OTA_EV_CANCEL)},
	{"abort", EV(OTA_EV_ABORT)},
	{"expire", EV(OTA_EV_EXPIRE)},
	{"retryTask", EV(OTA_EV_RETRY_TASK)},
};

static const struct {
	const char *name;
	struct ota_row row;
} terminal_rows[] = {
	{"success", SUCCESS_ROW},
	{"success at target", SUCCESS_AT_TARGET},
	{"cancelled stop", STOP_CANCELLED},
	{"aborted stop", STOP_ABORTED},
	{"expired stop", STOP_EXPIRED},
	{"terminal device failure", FAILED_DEVICE},
	{"terminal timeout", FAILED_TIMED_OUT},
	{"terminal version mismatch", FAILED_MISMATCH},
};

/* The pairs on terminal rows that the table does allow. */
static bool allowed_on_terminal(const struct ota_row *row, const struct ota_event *event)
{
	bool failed = row->status == OTA_FAILED;
	bool retryable_stop = row->status == OTA_STOP
		&& (row->reason == OTA_REASON_ABORTED || row->reason == OTA_REASON_EXPIRED);

	switch(event->kind){
		case OTA_EV_SET_OBSERVED:
			return failed;
		case OTA_EV_RETRY_TASK:
			return failed || retryable_stop;
		case OTA_EV_REPLY_SUCCESS:
			return failed && row->reason == OTA_REASON_TIMED_OUT
				&& event->version_matches;
		default:
			return false;
	}
}

/* Every other event leaves a terminal row unchanged and publishes nothing. */
static void state_terminal_rows_unchanged(void **state)
{
	size_t rows = sizeof(terminal_rows) / sizeof(terminal_rows[0]);
	size_t events = sizeof(all_events) / sizeof(all_events[0]);

	(void)state;
	for(size_t r = 0; r < rows; r++){
		for(size_t e = 0; e < events; e++){
			const struct ota_row *row = &terminal_rows[r].row;
			const struct ota_event *event = &all_events[e].event;
			struct ota_outcome out;

			if(allowed_on_terminal(row, event)){
				continue;
			}
			out = ota_state_apply(row, event);
			CHECK(!out.changed, "%s on %s: changed the row", all_events[e].name,
				terminal_rows[r].name);
			CHECK(out.decline == OTA_DECLINE_DUPLICATE || out.decline == OTA_DECLINE_STALE
				|| out.decline == OTA_DECLINE_ILLEGAL,
				"%s on %s: declined as %s", all_events[e].name, terminal_rows[r].name,
				ota_decline_code(out.decline));
			CHECK(rows_equal(&out.next, row),
				"%s on %s: next row differs from the row", all_events[e].name,
				terminal_rows[r].name);
			CHECK(out.emit_count == 0, "%s on %s: %d events", all_events[e].name,
				terminal_rows[r].name, out.emit_count);
			CHECK(!out.new_attempt, "%s on %s: started an attempt", all_events[e].name,
				terminal_rows[r].name);
		}
	}
	assert_checks_passed();
}

/* Active rows take no push, no retryTask and no at-target event. */
static void state_unlisted_pairs_declined(void **state)
{
	static const struct state_case cases[] = {
		{.name = "push online on send", .row = SEND_ROW, .event = EV(OTA_EV_PUSH_ONLINE),
			.decline = OTA_DECLINE_ILLEGAL},
		{.name = "push offline on reply", .row = REPLY_ROW,
			.event = EV(OTA_EV_PUSH_OFFLINE), .decline = OTA_DECLINE_ILLEGAL},
		{.name = "at target on send", .row = SEND_ROW, .event = EV(OTA_EV_AT_TARGET),
			.decline = OTA_DECLINE_ILLEGAL},
		{.name = "at target on offline stop", .row = STOP_OFFLINE,
			.event = EV(OTA_EV_AT_TARGET), .decline = OTA_DECLINE_ILLEGAL},
		{.name = "retryTask on await", .row = AWAIT_NEW, .event = EV(OTA_EV_RETRY_TASK),
			.decline = OTA_DECLINE_ILLEGAL},
		{.name = "retryTask on reply", .row = REPLY_ROW, .event = EV(OTA_EV_RETRY_TASK),
			.decline = OTA_DECLINE_ILLEGAL},
		{.name = "progress on new row", .row = NEW_ROW, .event = PROGRESS(10),
			.decline = OTA_DECLINE_ILLEGAL},
		{.name = "push on new row", .row = NEW_ROW, .event = EV(OTA_EV_PUSH_ONLINE),
			.decline = OTA_DECLINE_ILLEGAL},
	};

	(void)state;
	RUN(cases);
}

/* ===================================================================== */
/* Helpers                                                               */
/* ===================================================================== */

static void state_helpers_classify_rows(void **state)
{
	const struct ota_row await = AWAIT_NEW;
	const struct ota_row offline = STOP_OFFLINE;
	const struct ota_row send = SEND_ROW;
	const struct ota_row reply = REPLY_ROW;
	const struct ota_row failed = FAILED_DEVICE;
	const struct ota_row cancelled = STOP_CANCELLED;
	const struct ota_row success = SUCCESS_ROW;
	const struct ota_row failed_unpushed = ROW(OTA_FAILED, 0, OTA_REASON_DEVICE, 0, false);

	(void)state;
	assert_true(ota_state_is_active(&await));
	assert_true(ota_state_is_active(&offline));
	assert_true(ota_state_is_active(&send));
	assert_true(ota_state_is_active(&reply));
	assert_false(ota_state_is_active(&failed));
	assert_false(ota_state_is_active(&cancelled));
	assert_false(ota_state_is_active(&success));

	assert_true(ota_state_retry_pending(&failed, 1));
	assert_false(ota_state_retry_pending(&failed, 0));
	assert_false(ota_state_retry_pending(&failed_unpushed, 3));
	assert_false(ota_state_retry_pending(&send, 3));
}

static void state_reason_messages(void **state)
{
	(void)state;
	assert_null(ota_reason_message(OTA_REASON_NONE));
	assert_null(ota_reason_message(OTA_REASON_OFFLINE));
	assert_string_equal(ota_reason_message(OTA_REASON_CANCELLED), "cancelled");
	assert_string_equal(ota_reason_message(OTA_REASON_ABORTED), "aborted");
	assert_string_equal(ota_reason_message(OTA_REASON_EXPIRED), "expired");
	assert_string_equal(ota_reason_message(OTA_REASON_TIMED_OUT), "timed out");
	assert_string_equal(ota_reason_message(OTA_REASON_DEVICE), "device reported failure");
	assert_string_equal(ota_reason_message(OTA_REASON_AT_TARGET),
		"already at target version");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		table_test(state_set_on_new_row),
		table_test(state_set_restarts_attempt),
		table_test(state_at_target_on_await),
		table_test(state_push_online_from_await),
		table_test(state_push_offline_from_await),
		table_test(state_push_online_from_offline_stop),
		table_test(state_retry_push_online_from_failed),
		table_test(state_retry_push_offline_from_failed),
		table_test(state_retry_task_requeues_row),
		table_test(state_progress_from_waiting_rows),
		table_test(state_progress_rising_in_reply),
		table_test(state_progress_not_rising_declined),
		table_test(state_success_on_active_rows),
		table_test(state_version_mismatch_fails_row),
		table_test(state_device_failure_on_active_rows),
		table_test(state_success_after_timeout),
		table_test(state_timeout_from_send_reply),
		table_test(state_cancel_stops_rows),
		table_test(state_abort_stops_rows),
		table_test(state_expiry_stops_rows),
		table_test(state_terminal_rows_unchanged),
		table_test(state_unlisted_pairs_declined),
		table_test(state_helpers_classify_rows),
		table_test(state_reason_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
