/*
 * Per-device state machine. Each handler below covers one event and reads
 * as the rows of the transition table that mention it. A pair the table
 * does not cover is declined as illegal and changes nothing.
 *
 * Unlike FastBee's backend, no event moves a terminal row (SUCCESS, FAILED
 * with no retries left, STOP for cancelled, aborted or expired) except an
 * operator's retryTask or a backend's `set`, which start a new attempt.
 */
#include "ota_state.h"

#include <stddef.h>

static void emit(struct ota_outcome *out, int status, int progress, int reason)
{
	struct ota_emit *e = &out->emits[out->emit_count++];

	e->status = status;
	e->progress = status == OTA_REPLY ? progress : -1;
	e->reason = reason;
	/* The dashboard has seen the device once any event went out, so a
	 * later first push (after retryTask) does not start with 0 again. */
	out->next.announced = true;
}

static void move(struct ota_outcome *out, int status, int reason)
{
	out->changed = true;
	out->next.status = status;
	out->next.reason = reason;
}

static void decline(struct ota_outcome *out, enum ota_decline reason)
{
	out->changed = false;
	out->decline = reason;
	out->emit_count = 0;
}

/* Publishes status 0 once per row, before its first SEND or STOP. */
static void announce(struct ota_outcome *out)
{
	if(!out->next.announced){
		emit(out, OTA_AWAIT, -1, OTA_REASON_NONE);
		out->next.announced = true;
	}
}

static bool is_offline_stop(const struct ota_row *row)
{
	return row->status == OTA_STOP && row->reason == OTA_REASON_OFFLINE;
}

bool ota_state_is_active(const struct ota_row *row)
{
	return row->status == OTA_AWAIT || row->status == OTA_SEND
		|| row->status == OTA_REPLY || is_offline_stop(row);
}

bool ota_state_retry_pending(const struct ota_row *row, int max_retries)
{
	return row->status == OTA_FAILED && row->attempts > 0
		&& row->attempts <= max_retries;
}

/* A push or observed `set`: a new attempt from progress 0. */
static void start_attempt(struct ota_outcome *out)
{
	announce(out);
	move(out, OTA_SEND, OTA_REASON_NONE);
	out->next.progress = 0;
	out->next.attempts++;
	out->new_attempt = true;
	emit(out, OTA_SEND, -1, OTA_REASON_NONE);
}

static void on_set_observed(const struct ota_row *row, struct ota_outcome *out)
{
	if(row->status == OTA_NONE || ota_state_is_active(row)
			|| row->status == OTA_FAILED){
		start_attempt(out);
		return;
	}
	if(row->status == OTA_SUCCESS){
		decline(out, OTA_DECLINE_DUPLICATE);
		return;
	}
	decline(out, OTA_DECLINE_ILLEGAL);
}

static void on_push(const struct ota_row *row, const struct ota_event *ev,
	struct ota_outcome *out, bool online)
{
	bool waiting = row->status == OTA_AWAIT || is_offline_stop(row)
		|| ota_state_retry_pending(row, ev->max_retries);

	if(!waiting){
		decline(out, OTA_DECLINE_ILLEGAL);
		return;
	}
	if(online){
		start_attempt(out);
		return;
	}
	if(is_offline_stop(row)){
		/* Still offline: nothing to tell the dashboard again. */
		decline(out, OTA_DECLINE_DUPLICATE);
		return;
	}
	announce(out);
	move(out, OTA_STOP, OTA_REASON_OFFLINE);
	emit(out, OTA_STOP, -1, OTA_REASON_NONE);
}

static void on_at_target(const struct ota_row *row, struct ota_outcome *out)
{
	if(row->status != OTA_AWAIT){
		decline(out, OTA_DECLINE_ILLEGAL);
		return;
	}
	announce(out);
	move(out, OTA_SUCCESS, OTA_REASON_AT_TARGET);
	out->next.progress = 100;
	emit(out, OTA_SUCCESS, -1, OTA_REASON_AT_TARGET);
}

static void on_progress(const struct ota_row *row, const struct ota_event *ev,
	struct ota_outcome *out)
{
	int progress = ev->progress;

	if(row->status == OTA_REPLY){
		if(progress < 0 || progress <= row->progress){
			decline(out, progress == row->progress || progress < 0
				? OTA_DECLINE_DUPLICATE : OTA_DECLINE_STALE);
			return;
		}
	}else if(row->status == OTA_AWAIT || row->status == OTA_SEND
			|| is_offline_stop(row)){
		if(progress < 0){
			progress = row->progress;
		}
	}else{
		decline(out, row->status == OTA_SUCCESS
			? OTA_DECLINE_STALE : OTA_DECLINE_ILLEGAL);
		return;
	}
	move(out, OTA_REPLY, OTA_REASON_NONE);
	out->next.progress = progress;
	emit(out, OTA_REPLY, progress, OTA_REASON_NONE);
}

static void on_success(const struct ota_row *row, const struct ota_event *ev,
	struct ota_outcome *out)
{
	bool timed_out = row->status == OTA_FAILED
		&& row->reason == OTA_REASON_TIMED_OUT;

	if(row->status == OTA_SUCCESS){
		decline(out, OTA_DECLINE_DUPLICATE);
		return;
	}
	if(!ota_state_is_active(row) && !(timed_out && ev->version_matches)){
		decline(out, OTA_DECLINE_ILLEGAL);
		return;
	}
	if(ev->version_matches){
		move(out, OTA_SUCCESS, OTA_REASON_NONE);
		/* A success means the whole image is in place, whatever the last
		 * progress report showed. */
		out->next.progress = 100;
		emit(out, OTA_SUCCESS, -1, OTA_REASON_NONE);
	}else{
		move(out, OTA_FAILED, OTA_REASON_VERSION_MISMATCH);
		emit(out, OTA_FAILED, -1, OTA_REASON_VERSION_MISMATCH);
	}
}

static void on_failed(const struct ota_row *row, struct ota_outcome *out)
{
	if(!ota_state_is_active(row)){
		decline(out, row->status == OTA_FAILED
			? OTA_DECLINE_DUPLICATE : OTA_DECLINE_ILLEGAL);
		return;
	}
	move(out, OTA_FAILED, OTA_REASON_DEVICE);
	emit(out, OTA_FAILED, -1, OTA_REASON_DEVICE);
}

static void on_timeout(const struct ota_row *row, struct ota_outcome *out)
{
	if(row->status != OTA_SEND && row->status != OTA_REPLY){
		decline(out, OTA_DECLINE_ILLEGAL);
		return;
	}
	move(out, OTA_FAILED, OTA_REASON_TIMED_OUT);
	emit(out, OTA_FAILED, -1, OTA_REASON_TIMED_OUT);
}

/* Cancel, abort and expiry: every row that could still change stops. */
static void on_stop(const struct ota_row *row, const struct ota_event *ev,
	struct ota_outcome *out, int reason)
{
	if(!ota_state_is_active(row)
			&& !ota_state_retry_pending(row, ev->max_retries)){
		decline(out, OTA_DECLINE_ILLEGAL);
		return;
	}
	move(out, OTA_STOP, reason);
	emit(out, OTA_STOP, -1, reason);
}

static void on_retry_task(const struct ota_row *row, struct ota_outcome *out)
{
	bool stopped = row->status == OTA_STOP
		&& row->reason != OTA_REASON_CANCELLED;

	if(row->status != OTA_FAILED && !stopped){
		decline(out, OTA_DECLINE_ILLEGAL);
		return;
	}
	move(out, OTA_AWAIT, OTA_REASON_NONE);
	out->next.progress = 0;
	out->next.attempts = 0;
}

struct ota_outcome ota_state_apply(const struct ota_row *row,
	const struct ota_event *event)
{
	struct ota_outcome out = {0};

	out.next = *row;
	switch(event->kind){
		case OTA_EV_SET_OBSERVED:
			on_set_observed(row, &out);
			break;
		case OTA_EV_PUSH_ONLINE:
			on_push(row, event, &out, true);
			break;
		case OTA_EV_PUSH_OFFLINE:
			on_push(row, event, &out, false);
			break;
		case OTA_EV_AT_TARGET:
			on_at_target(row, &out);
			break;
		case OTA_EV_REPLY_PROGRESS:
			on_progress(row, event, &out);
			break;
		case OTA_EV_REPLY_SUCCESS:
			on_success(row, event, &out);
			break;
		case OTA_EV_REPLY_FAILED:
			on_failed(row, &out);
			break;
		case OTA_EV_TIMEOUT:
			on_timeout(row, &out);
			break;
		case OTA_EV_CANCEL:
			on_stop(row, event, &out, OTA_REASON_CANCELLED);
			break;
		case OTA_EV_ABORT:
			on_stop(row, event, &out, OTA_REASON_ABORTED);
			break;
		case OTA_EV_EXPIRE:
			on_stop(row, event, &out, OTA_REASON_EXPIRED);
			break;
		case OTA_EV_RETRY_TASK:
			on_retry_task(row, &out);
			break;
		default:
			decline(&out, OTA_DECLINE_ILLEGAL);
			break;
	}
	if(!out.changed){
		out.next = *row;
	}
	return out;
}

const char *ota_reason_message(int reason)
{
	switch(reason){
		case OTA_REASON_CANCELLED: return "cancelled";
		case OTA_REASON_ABORTED: return "aborted";
		case OTA_REASON_EXPIRED: return "expired";
		case OTA_REASON_TIMED_OUT: return "timed out";
		case OTA_REASON_DEVICE: return "device reported failure";
		case OTA_REASON_VERSION_MISMATCH: return "version mismatch";
		case OTA_REASON_AT_TARGET: return "already at target version";
		default: return NULL;
	}
}
