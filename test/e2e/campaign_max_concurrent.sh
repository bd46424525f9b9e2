#!/usr/bin/env bash
# Ten online devices in a task with maxConcurrent 3. Each replies to its
# push with progress and success after 0.3 s. Replaying the status stream
# in order, at most 3 devices are ever in SEND (1) or REPLY (2), and all
# ten finish with one push each.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-3.1.bin
devices=()
for i in $(seq -w 1 10); do
	devices+=("MC$i")
done

campaign_start_broker db
for serial in "${devices[@]}"; do
	campaign_device_start "$serial" success 0.3
done
for serial in "${devices[@]}"; do
	campaign_device_online "$serial"
done
e2e_collect status /1/ws/ota/status

campaign_cli create-task --version 3.1 --url "$url" --max-concurrent 3 "${devices[@]}"
e2e_assert_eq "create-task: exit code" 0 "$CAMPAIGN_RC"

for serial in "${devices[@]}"; do
	campaign_expect_event status 1 "$serial" 3
done
e2e_sync status

# The largest number of devices in SEND or REPLY at any point of the
# stream.
in_flight_max=$(grep -a '^/1/ws/ota/status ' "$E2E_DIR/status.out" | cut -d' ' -f2- \
	| jq -s 'reduce .[] as $e ({status: {}, max: 0};
		.status[$e.serialNumber] = $e.status
		| .max = ([.max, ([.status[] | select(. == 1 or . == 2)] | length)] | max))
		| .max')
e2e_assert_eq "devices in SEND or REPLY at most" 3 "$in_flight_max"

for serial in "${devices[@]}"; do
	e2e_assert_eq "$serial: status events" "0,1,2/50,3" \
		"$(campaign_event_list status 1 "$serial")"
	e2e_assert_eq "$serial: pushes received" 1 "$(campaign_device_sets "$serial" | wc -l)"
done

campaign_wait_task_state 1 finished || e2e_fail "task 1 not finished within ${E2E_TIMEOUT}s"
e2e_assert_eq "task: success" 10 "$(campaign_task 1 .success)"

e2e_finish
