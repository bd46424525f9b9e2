#!/usr/bin/env bash
# Six online devices that all report failure, in a task with maxConcurrent
# 2, abortFailurePercent 50 and abortMinFinished 2. Once the first two
# have failed, the task is aborted. Then getTask and the summary show the
# state aborted, and every device not yet failed gets status 5 "aborted"
# and no further push.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-4.0.bin
devices=(AB1 AB2 AB3 AB4 AB5 AB6)
failure="4:flash write failed"

campaign_start_broker db
campaign_devices_online fail "${devices[@]}"
e2e_collect status /1/ws/ota/status /1/ws/ota/summary

campaign_cli create-task --version 4.0 --url "$url" --max-concurrent 2 \
	--abort-failure-percent 50 --abort-min-finished 2 "${devices[@]}"
e2e_assert_eq "create-task: exit code" 0 "$CAMPAIGN_RC"

campaign_wait_task_state 1 aborted || e2e_fail "task 1 not aborted within ${E2E_TIMEOUT}s"

# Every device ends with its own failure or with "aborted".
for serial in "${devices[@]}"; do
	for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
		last=$(campaign_events status 1 "$serial" | tail -n 1)
		[[ "$last" != "$failure" && "$last" != "5:aborted" ]] || break
		sleep 0.1
	done
done
# A wrong push after the abort would show within a second.
sleep 1
e2e_sync status

failed=0
aborted=0
for serial in "${devices[@]}"; do
	events=$(campaign_event_list status 1 "$serial")
	case "$events" in
		"0,1,$failure")
			failed=$((failed + 1))
			e2e_assert_eq "$serial: pushes received" 1 "$(campaign_device_sets "$serial" | wc -l)"
			;;
		"5:aborted" | "0,1,5:aborted")
			aborted=$((aborted + 1))
			;;
		*)
			e2e_fail "$serial: status events end neither in its failure nor in 5 aborted"
			e2e_say "  events: $events"
			;;
	esac
	if [[ "$events" == "5:aborted" ]]; then
		e2e_assert_eq "$serial: pushes received" 0 "$(campaign_device_sets "$serial" | wc -l)"
	fi
done
if ((failed < 2)); then
	e2e_fail "devices that failed: $failed, expected at least 2"
fi
if ((aborted < 1)); then
	e2e_fail "devices stopped as aborted: $aborted, expected at least 1"
fi

task=$(campaign_json get-task 1)
e2e_assert_eq "getTask: state" aborted "$(jq -r .state <<<"$task")"
e2e_assert_eq "getTask: failed" "$failed" "$(jq -r .failed <<<"$task")"
e2e_assert_eq "getTask: stopped" "$aborted" "$(jq -r .stopped <<<"$task")"
e2e_assert_eq "getTask: rows with message aborted" "$aborted" \
	"$(jq '[.devices[] | select(.status == 5 and .message == "aborted")] | length' <<<"$task")"

campaign_expect_summary status 1 '"\(.state) \(.failed) \(.stopped)"' \
	"aborted $failed $aborted"

e2e_finish
