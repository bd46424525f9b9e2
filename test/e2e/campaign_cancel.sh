#!/usr/bin/env bash
# Cancelling a whole running task stops every unfinished device with
# status 5 "cancelled", and nothing more is pushed. Cancelling one device
# of another task stops only that device, so the task still finishes when
# the others succeed.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-2.2.bin
whole=(CW1 CW2 CW3)
partial=(CP1 CP2 CP3)

campaign_start_broker db
campaign_devices_online silent "${whole[@]}" "${partial[@]}"
e2e_collect status /1/ws/ota/status /2/ws/ota/status /1/ws/ota/summary /2/ws/ota/summary

# ----------------------------------------------------------------------
# Task 1: cancel the whole task, with two devices in SEND and one in AWAIT
# ----------------------------------------------------------------------

campaign_cli create-task --version 2.2 --url "$url" --max-concurrent 2 "${whole[@]}"
e2e_assert_eq "task 1: create-task exit code" 0 "$CAMPAIGN_RC"
for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
	[[ "$(campaign_task 1 .send --limit 1)" != 2 ]] || break
	sleep 0.1
done
e2e_assert_eq "task 1 before cancel: devices in SEND" 2 "$(campaign_task 1 .send --limit 1)"

campaign_cli cancel-task 1
e2e_assert_eq "task 1: cancel-task exit code" 0 "$CAMPAIGN_RC"
e2e_assert_eq "task 1: cancel-task count" 3 \
	"$(awk '$1 == "cancelled:" { print $2 }' <<<"$CAMPAIGN_OUT")"
for serial in "${whole[@]}"; do
	campaign_expect_event status 1 "$serial" "5:cancelled"
done
e2e_assert_eq "task 1: state" cancelled "$(campaign_task 1 .state)"

# A late success from a cancelled device changes nothing.
campaign_device_reply CW1 '{"taskId":1,"progress":100,"version":"2.2","status":3}'
# A wrong push after the cancel would show within a second.
sleep 1
e2e_sync status
pushed=0
for serial in "${whole[@]}"; do
	events=$(campaign_event_list status 1 "$serial")
	sets=$(campaign_device_sets "$serial" | wc -l)
	case "$events" in
		"0,1,5:cancelled")
			pushed=$((pushed + 1))
			e2e_assert_eq "$serial: pushes received" 1 "$sets"
			;;
		"5:cancelled")
			e2e_assert_eq "$serial: pushes received" 0 "$sets"
			;;
		*)
			e2e_fail "$serial: status events are not 0,1,5:cancelled nor 5:cancelled"
			e2e_say "  events: $events"
			;;
	esac
done
e2e_assert_eq "task 1: devices pushed before the cancel" 2 "$pushed"
task=$(campaign_json get-task 1)
e2e_assert_eq "task 1: rows cancelled" 3 \
	"$(jq '[.devices[] | select(.status == 5 and .message == "cancelled")] | length' <<<"$task")"
e2e_assert_eq "task 1: stopped" 3 "$(jq -r .stopped <<<"$task")"
campaign_expect_summary status 1 '"\(.state) \(.stopped)"' "cancelled 3"

campaign_cli cancel-task 1
e2e_assert_eq "task 1 again: cancel-task exit code" 1 "$CAMPAIGN_RC"
e2e_assert_eq "task 1 again: error" "Error: taskId 1: task is cancelled; nothing to cancel" \
	"$CAMPAIGN_ERR"

# ----------------------------------------------------------------------
# Task 2: cancel one device
# ----------------------------------------------------------------------

campaign_cli create-task --version 2.2 --url "$url" "${partial[@]}"
e2e_assert_eq "task 2: create-task exit code" 0 "$CAMPAIGN_RC"
for serial in "${partial[@]}"; do
	campaign_expect_event status 2 "$serial" 1
done

campaign_cli cancel-task 2 CP2
e2e_assert_eq "task 2: cancel-task exit code" 0 "$CAMPAIGN_RC"
e2e_assert_eq "task 2: cancel-task count" 1 \
	"$(awk '$1 == "cancelled:" { print $2 }' <<<"$CAMPAIGN_OUT")"
campaign_expect_event status 2 CP2 "5:cancelled"
e2e_assert_eq "task 2 after the cancel: state" running "$(campaign_task 2 .state)"

for serial in CP1 CP3; do
	campaign_device_answer "$serial" success
	campaign_expect_event status 2 "$serial" 3
done
e2e_sync status
e2e_assert_eq "CP1: status events" "0,1,2/50,3" "$(campaign_event_list status 2 CP1)"
e2e_assert_eq "CP2: status events" "0,1,5:cancelled" "$(campaign_event_list status 2 CP2)"
e2e_assert_eq "CP3: status events" "0,1,2/50,3" "$(campaign_event_list status 2 CP3)"

campaign_wait_task_state 2 finished || e2e_fail "task 2 not finished within ${E2E_TIMEOUT}s"
task=$(campaign_json get-task 2)
e2e_assert_eq "task 2: rows" "CP1 3|CP2 5 cancelled|CP3 3" \
	"$(jq -r '[.devices[] | "\(.serialNumber) \(.status)\(if .message then " " + .message else "" end)"]
		| join("|")' <<<"$task")"
e2e_assert_eq "task 2: success" 2 "$(jq -r .success <<<"$task")"
e2e_assert_eq "task 2: stopped" 1 "$(jq -r .stopped <<<"$task")"
campaign_expect_summary status 2 '"\(.state) \(.success) \(.stopped)"' "finished 2 1"

e2e_finish
