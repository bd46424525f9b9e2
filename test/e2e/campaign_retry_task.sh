#!/usr/bin/env bash
# retryTask: two devices fail and one succeeds. `mosquitto_ota retry-task`
# queues the two FAILED rows again, so they are pushed a second time and
# succeed. The device that had succeeded is not pushed again.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-2.5.bin
failing=(RT1 RT2)
push="{\"taskId\":1,\"url\":\"$url\",\"version\":2.5,\"status\":1}"

campaign_start_broker db
campaign_devices_online fail "${failing[@]}"
campaign_devices_online success RT3
e2e_collect status /1/ws/ota/status

campaign_cli create-task --version 2.5 --url "$url" "${failing[@]}" RT3
e2e_assert_eq "create-task: exit code" 0 "$CAMPAIGN_RC"
for serial in "${failing[@]}"; do
	campaign_expect_event status 1 "$serial" "4:flash write failed"
done
campaign_expect_event status 1 RT3 3
campaign_wait_task_state 1 finished || e2e_fail "task 1 not finished after the failures"
e2e_assert_eq "before retry: failed" 2 "$(campaign_task 1 .failed)"

# ----------------------------------------------------------------------
# Retry
# ----------------------------------------------------------------------

for serial in "${failing[@]}"; do
	campaign_device_mode "$serial" success
done
campaign_cli retry-task 1
e2e_assert_eq "retry-task: exit code" 0 "$CAMPAIGN_RC"
e2e_assert_eq "retry-task: requeued" 2 "$(awk '$1 == "requeued:" { print $2 }' <<<"$CAMPAIGN_OUT")"

for serial in "${failing[@]}"; do
	campaign_expect_event status 1 "$serial" 3
done
e2e_sync status
for serial in "${failing[@]}"; do
	e2e_sync "set-$serial"
	e2e_assert_eq "$serial: status events" "0,1,4:flash write failed,1,2/50,3" \
		"$(campaign_event_list status 1 "$serial")"
	e2e_assert_eq "$serial: pushes received" "$push"$'\n'"$push" "$(campaign_device_sets "$serial")"
done
e2e_sync set-RT3
e2e_assert_eq "RT3: status events" "0,1,2/50,3" "$(campaign_event_list status 1 RT3)"
e2e_assert_eq "RT3: pushes received" "$push" "$(campaign_device_sets RT3)"

campaign_wait_task_state 1 finished || e2e_fail "task 1 not finished after the retry"
task=$(campaign_json get-task 1)
e2e_assert_eq "after retry: success" 3 "$(jq -r .success <<<"$task")"
e2e_assert_eq "after retry: failed" 0 "$(jq -r .failed <<<"$task")"
e2e_assert_eq "after retry: rows (serial status attempts)" "RT1 3 1|RT2 3 1|RT3 3 1" \
	"$(jq -r '[.devices[] | "\(.serialNumber) \(.status) \(.attempts)"] | join("|")' <<<"$task")"

campaign_cli retry-task 1
e2e_assert_eq "retry-task again: exit code" 0 "$CAMPAIGN_RC"
e2e_assert_eq "retry-task again: requeued" 0 \
	"$(awk '$1 == "requeued:" { print $2 }' <<<"$CAMPAIGN_OUT")"

e2e_finish
