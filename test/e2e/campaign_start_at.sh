#!/usr/bin/env bash
# A task with startAt 3 seconds ahead is scheduled until then, and
# nothing is pushed (no status 1, no `set`). After startAt the task is
# running, the devices are pushed, and the status 1 events carry
# timestamps at or after startAt. Then, in a task with endAt 2 seconds
# ahead, the unfinished devices stop with "expired" once endAt passes.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-1.5.bin
devices=(SA1 SA2)

campaign_start_broker db
campaign_devices_online silent "${devices[@]}"
e2e_collect status /1/ws/ota/status /1/ws/ota/summary

start_at=$(($(e2e_now_ms) + 3000))
campaign_cli create-task --version 1.5 --url "$url" --start-at "$start_at" "${devices[@]}"
e2e_assert_eq "create-task: exit code" 0 "$CAMPAIGN_RC"
e2e_assert_eq "create-task: state" scheduled \
	"$(awk '$1 == "state:" { print $2 }' <<<"$CAMPAIGN_OUT")"

# ----------------------------------------------------------------------
# Before startAt
# ----------------------------------------------------------------------

e2e_assert_eq "before startAt: getTask state" scheduled "$(campaign_task 1 .state)"
campaign_expect_summary status 1 '"\(.state) \(.total) \(.await)"' "scheduled 2 2"
e2e_assert_eq "before startAt: listed as scheduled" 1 \
	"$(campaign_json list-tasks --state scheduled | jq -r '[.tasks[].taskId] | join(",")')"

# Look at the stream a second before startAt.
wait_ms=$((start_at - 1000 - $(e2e_now_ms)))
if ((wait_ms > 0)); then
	sleep "$((wait_ms / 1000)).$(printf '%03d' $((wait_ms % 1000)))"
fi
e2e_sync status
for serial in "${devices[@]}"; do
	e2e_sync "set-$serial"
	e2e_assert_eq "$serial: before startAt: status 1 events" 0 \
		"$(campaign_events status 1 "$serial" | grep -c -x 1 || true)"
	e2e_assert_eq "$serial: before startAt: pushes received" "" \
		"$(campaign_device_sets "$serial")"
done
if (($(e2e_now_ms) >= start_at)); then
	e2e_fail "the checks before startAt ran past it; the machine is too slow for this test"
fi

# ----------------------------------------------------------------------
# After startAt
# ----------------------------------------------------------------------

for serial in "${devices[@]}"; do
	campaign_expect_event status 1 "$serial" 1
	campaign_wait_sets "$serial" 1 || e2e_fail "$serial: no push after startAt"
done
e2e_assert_eq "after startAt: getTask state" running "$(campaign_task 1 .state)"
campaign_expect_summary status 1 '"\(.state) \(.send)"' "running 2"
first_push_ms=$(grep -a '^/1/ws/ota/status ' "$E2E_DIR/status.out" | cut -d' ' -f2- \
	| jq -s 'map(select(.status == 1) | .timestamp) | min')
if ((first_push_ms < start_at)); then
	e2e_fail "status 1 at $first_push_ms, before startAt $start_at"
fi

for serial in "${devices[@]}"; do
	campaign_device_answer "$serial" success
	campaign_expect_event status 1 "$serial" 3
done
e2e_sync status
for serial in "${devices[@]}"; do
	e2e_assert_eq "$serial: status events" "0,1,2/50,3" \
		"$(campaign_event_list status 1 "$serial")"
done
campaign_wait_task_state 1 finished || e2e_fail "task 1 not finished within ${E2E_TIMEOUT}s"

# ----------------------------------------------------------------------
# endAt: one device in SEND and one offline when the task expires
# ----------------------------------------------------------------------

campaign_devices_online silent EA1
campaign_device_start EA2 silent
e2e_collect expiry /2/ws/ota/status /2/ws/ota/summary

end_at=$(($(e2e_now_ms) + 2000))
campaign_cli create-task --version 1.5 --url "$url" --end-at "$end_at" EA1 EA2
e2e_assert_eq "task 2: create-task exit code" 0 "$CAMPAIGN_RC"
campaign_expect_event expiry 2 EA1 1
campaign_expect_event expiry 2 EA2 5
e2e_assert_eq "task 2 before endAt: state" running "$(campaign_task 2 .state)"

campaign_expect_event expiry 2 EA1 "5:expired"
campaign_expect_event expiry 2 EA2 "5:expired"
e2e_sync expiry
e2e_assert_eq "EA1: status events" "0,1,5:expired" "$(campaign_event_list expiry 2 EA1)"
e2e_assert_eq "EA2: status events" "0,5,5:expired" "$(campaign_event_list expiry 2 EA2)"
expired_ms=$(grep -a '^/2/ws/ota/status ' "$E2E_DIR/expiry.out" | cut -d' ' -f2- \
	| jq -s 'map(select(.message == "expired") | .timestamp) | min')
if ((expired_ms < end_at)); then
	e2e_fail "status 5 expired at $expired_ms, before endAt $end_at"
fi
e2e_assert_eq "task 2 after endAt: state" expired "$(campaign_task 2 .state)"
campaign_expect_summary expiry 2 '"\(.state) \(.stopped)"' "expired 2"

# A device that comes online after endAt is not pushed.
campaign_device_online EA2
sleep 1
e2e_sync "set-EA2"
e2e_assert_eq "EA2 online after endAt: pushes received" "" "$(campaign_device_sets EA2)"

e2e_finish
