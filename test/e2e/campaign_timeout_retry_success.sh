#!/usr/bin/env bash
# A device stays silent after its push: with timeoutSeconds 1 it fails
# with "timed out", and with maxRetries 1 and retryDelaySeconds 1 it is
# pushed a second time, and it replies to that push with success.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-1.2.bin
serial=SLOW1
push="{\"taskId\":1,\"url\":\"$url\",\"version\":1.2,\"status\":1}"

campaign_start_broker db
campaign_devices_online silent "$serial"
e2e_collect status /1/ws/ota/status

campaign_cli create-task --version 1.2 --url "$url" --timeout 1 --max-retries 1 \
	--retry-delay 1 "$serial"
e2e_assert_eq "create-task: exit code" 0 "$CAMPAIGN_RC"

campaign_expect_event status 1 "$serial" "4:timed out"
# The retry comes a second after the time-out, and the device replies to it.
campaign_device_mode "$serial" success
campaign_expect_event status 1 "$serial" 3
e2e_sync status
e2e_sync "set-$serial"

e2e_assert_eq "status events" "0,1,4:timed out,1,2/50,3" \
	"$(campaign_event_list status 1 "$serial")"
e2e_assert_eq "pushes received" "$push"$'\n'"$push" "$(campaign_device_sets "$serial")"

campaign_wait_task_state 1 finished || e2e_fail "task 1 not finished within ${E2E_TIMEOUT}s"
task=$(campaign_json get-task 1)
e2e_assert_eq "row: status" 3 "$(jq -r '.devices[0].status' <<<"$task")"
e2e_assert_eq "row: attempts" 2 "$(jq -r '.devices[0].attempts' <<<"$task")"
e2e_assert_eq "task: success" 1 "$(jq -r .success <<<"$task")"
e2e_assert_eq "task: failed" 0 "$(jq -r .failed <<<"$task")"

e2e_finish
