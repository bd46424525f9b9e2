#!/usr/bin/env bash
# A task created with `mosquitto_ota create-task` reaches two online
# devices, which report progress 50 and then success. Checks the `set`
# each device receives, each device's status events, the task as get-task
# shows it, and the device as get-device shows it. A second task whose
# target is the version DEV1 now runs marks DEV1 "already at target
# version" at once, without a push.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-2.0.bin
devices=(DEV1 DEV2)

campaign_start_broker db
campaign_devices_online success "${devices[@]}"
e2e_collect status /1/ws/ota/status

# ----------------------------------------------------------------------
# Create the task
# ----------------------------------------------------------------------

campaign_cli create-task --version 2.0 --url "$url" "${devices[@]}"
e2e_assert_eq "create-task: exit code" 0 "$CAMPAIGN_RC"
e2e_assert_eq "create-task: task id" 1 \
	"$(awk '$1 == "task" && $2 == "id:" { print $3 }' <<<"$CAMPAIGN_OUT")"
e2e_assert_eq "create-task: accepted" 2 \
	"$(awk '$1 == "accepted:" { print $2 }' <<<"$CAMPAIGN_OUT")"

# ----------------------------------------------------------------------
# Pushes and status events
# ----------------------------------------------------------------------

for serial in "${devices[@]}"; do
	campaign_expect_event status 1 "$serial" 3
done
e2e_sync status

# The CLI sends 2.0 as a JSON number, and the plugin prints it as cJSON
# does.
for serial in "${devices[@]}"; do
	e2e_assert_eq "$serial: pushes received" \
		"{\"taskId\":1,\"url\":\"$url\",\"version\":2,\"status\":1}" \
		"$(campaign_device_sets "$serial")"
	e2e_assert_eq "$serial: status events" "0,1,2/50,3" \
		"$(campaign_event_list status 1 "$serial")"
done
e2e_assert_eq "status event with progress: key order" \
	'["serialNumber","status","timestamp","progress"]' \
	"$(grep -a -F '"status":2,' "$E2E_DIR/status.out" | head -n 1 | cut -d' ' -f2- \
		| jq -c keys_unsorted)"

# ----------------------------------------------------------------------
# get-task
# ----------------------------------------------------------------------

campaign_wait_task_state 1 finished || e2e_fail "task 1 not finished within ${E2E_TIMEOUT}s"
task=$(campaign_json get-task 1)
e2e_assert_eq "get-task: state" finished "$(jq -r .state <<<"$task")"
e2e_assert_eq "get-task: total" 2 "$(jq -r .total <<<"$task")"
e2e_assert_eq "get-task: success" 2 "$(jq -r .success <<<"$task")"
e2e_assert_eq "get-task: failed" 0 "$(jq -r .failed <<<"$task")"
e2e_assert_eq "get-task: version" 2 "$(jq -r .version <<<"$task")"
e2e_assert_eq "get-task: url" "$url" "$(jq -r .url <<<"$task")"
e2e_assert_eq "get-task: device rows" "DEV1 3|DEV2 3" \
	"$(jq -r '[.devices[] | "\(.serialNumber) \(.status)"] | join("|")' <<<"$task")"

campaign_cli get-task 1
e2e_assert_eq "get-task text: exit code" 0 "$CAMPAIGN_RC"
e2e_assert_eq "get-task text: state line" finished \
	"$(awk '$1 == "state:" { print $2 }' <<<"$CAMPAIGN_OUT")"

# ----------------------------------------------------------------------
# get-device: installed version and history, newest first
# ----------------------------------------------------------------------

device=$(campaign_json get-device DEV1)
e2e_assert_eq "get-device: installed version" 2 "$(jq -r .installedVersion <<<"$device")"
e2e_assert_eq "get-device: history statuses, newest first" "3,2,1" \
	"$(jq -r '[.history[].status] | map(tostring) | join(",")' <<<"$device")"
e2e_assert_eq "get-device: history task ids" "1,1,1" \
	"$(jq -r '[.history[].taskId] | map(tostring) | join(",")' <<<"$device")"
e2e_assert_eq "get-device: history times never increase" true \
	"$(jq '[.history[].at] | . == (sort | reverse)' <<<"$device")"
e2e_assert_eq "get-device: progress of the status 2 entry" 50 \
	"$(jq -r '.history[] | select(.status == 2) | .progress' <<<"$device")"

# ----------------------------------------------------------------------
# A device already at the target version
# ----------------------------------------------------------------------

e2e_collect status2 /2/ws/ota/status
campaign_cli create-task --version 2.0 --url "$url" DEV1
e2e_assert_eq "task 2: create-task exit code" 0 "$CAMPAIGN_RC"
e2e_assert_eq "task 2: already at target" 1 \
	"$(awk '$1 == "already" && $2 == "at" { print $4 }' <<<"$CAMPAIGN_OUT")"
campaign_expect_event status2 2 DEV1 "3:already at target version"
campaign_wait_task_state 2 finished || e2e_fail "task 2 not finished within ${E2E_TIMEOUT}s"
e2e_sync status2
e2e_sync set-DEV1
e2e_assert_eq "task 2: DEV1 status events" "0,3:already at target version" \
	"$(campaign_event_list status2 2 DEV1)"
e2e_assert_eq "task 2: DEV1 pushes received in all" 1 "$(campaign_device_sets DEV1 | wc -l)"

e2e_finish
