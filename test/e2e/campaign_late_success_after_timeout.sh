#!/usr/bin/env bash
# A device times out with no retries left, then reports success with the
# target version: the plugin accepts the late success, publishes status 3
# and records the row as SUCCESS and the installed version.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-1.2.bin
serial=LATE1

campaign_start_broker db
campaign_devices_online silent "$serial"
e2e_collect status /1/ws/ota/status

campaign_cli create-task --version 1.2 --url "$url" --timeout 1 "$serial"
e2e_assert_eq "create-task: exit code" 0 "$CAMPAIGN_RC"

campaign_expect_event status 1 "$serial" "4:timed out"
campaign_wait_task_state 1 finished || e2e_fail "task 1 not finished after the time-out"
e2e_assert_eq "after the time-out: row status" 4 "$(campaign_task 1 '.devices[0].status')"

campaign_device_reply "$serial" '{"taskId":1,"progress":100,"version":"1.2","status":3}'
campaign_expect_event status 1 "$serial" 3
e2e_sync status
e2e_assert_eq "status events" "0,1,4:timed out,3" "$(campaign_event_list status 1 "$serial")"

task=$(campaign_json get-task 1)
e2e_assert_eq "row: status" 3 "$(jq -r '.devices[0].status' <<<"$task")"
e2e_assert_eq "task: success" 1 "$(jq -r .success <<<"$task")"
e2e_assert_eq "task: failed" 0 "$(jq -r .failed <<<"$task")"
e2e_assert_eq "task: state" finished "$(jq -r .state <<<"$task")"
e2e_assert_eq "device: installed version" 1.2 \
	"$(campaign_json get-device "$serial" | jq -r .installedVersion)"

e2e_finish
