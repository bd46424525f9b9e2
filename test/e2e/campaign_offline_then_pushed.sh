#!/usr/bin/env bash
# A device that is offline when its task starts gets status 0 and then 5
# (STOP) and no push. Once it publishes anything, on a topic that is no
# business of the plugin's, the plugin pushes the `set` and publishes
# status 1, and the upgrade goes on to success. The same holds for a
# device that had published and then disconnected before its task.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-1.2.bin
serial=OFF1

campaign_start_broker db
campaign_device_start "$serial" success
e2e_collect status /1/ws/ota/status

campaign_cli create-task --version 1.2 --url "$url" "$serial"
e2e_assert_eq "create-task: exit code" 0 "$CAMPAIGN_RC"

# ----------------------------------------------------------------------
# Offline: 0, then 5, and nothing pushed
# ----------------------------------------------------------------------

campaign_expect_event status 1 "$serial" 5
# The gate is checked on every tick; a second lets a wrong push show.
sleep 1
e2e_sync status
e2e_sync "set-$serial"
e2e_assert_eq "offline: status events" "0,5" "$(campaign_event_list status 1 "$serial")"
e2e_assert_eq "offline: pushes received" "" "$(campaign_device_sets "$serial")"
e2e_assert_eq "offline: row status" 5 "$(campaign_task 1 '.devices[0].status')"
e2e_assert_eq "offline: task state" running "$(campaign_task 1 .state)"

# ----------------------------------------------------------------------
# The device publishes: pushed, then success
# ----------------------------------------------------------------------

campaign_device_online "$serial"
campaign_expect_event status 1 "$serial" 3
e2e_sync status
e2e_assert_eq "online: status events" "0,5,1,2/50,3" \
	"$(campaign_event_list status 1 "$serial")"
e2e_assert_eq "online: pushes received" \
	"{\"taskId\":1,\"url\":\"$url\",\"version\":1.2,\"status\":1}" \
	"$(campaign_device_sets "$serial")"
campaign_wait_task_state 1 finished || e2e_fail "task 1 not finished within ${E2E_TIMEOUT}s"

# ----------------------------------------------------------------------
# A device that published and disconnected is offline again
# ----------------------------------------------------------------------

serial=GONE1
campaign_device_start "$serial" success
online_before=$(campaign_json get-stats | jq .devicesOnline)
campaign_device_online "$serial"
campaign_device_disconnect "$serial"
for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
	[[ "$(campaign_json get-stats | jq .devicesOnline)" != "$online_before" ]] || break
	sleep 0.1
done
e2e_assert_eq "after the disconnect: devices online" "$online_before" \
	"$(campaign_json get-stats | jq .devicesOnline)"

e2e_collect status2 /2/ws/ota/status
campaign_cli create-task --version 1.2 --url "$url" "$serial"
e2e_assert_eq "task 2: create-task exit code" 0 "$CAMPAIGN_RC"
campaign_expect_event status2 2 "$serial" 5
sleep 1
e2e_sync status2
e2e_sync "set-$serial"
e2e_assert_eq "disconnected: status events" "0,5" "$(campaign_event_list status2 2 "$serial")"
e2e_assert_eq "disconnected: pushes received" "" "$(campaign_device_sets "$serial")"

campaign_device_connect "$serial"
campaign_device_online "$serial"
campaign_expect_event status2 2 "$serial" 3
e2e_sync status2
e2e_assert_eq "back online: status events" "0,5,1,2/50,3" \
	"$(campaign_event_list status2 2 "$serial")"
e2e_assert_eq "back online: pushes received" \
	"{\"taskId\":2,\"url\":\"$url\",\"version\":1.2,\"status\":1}" \
	"$(campaign_device_sets "$serial")"

e2e_finish
