#!/usr/bin/env bash
# The retained task summary: once one device succeeded, one failed and one
# is offline, a subscriber that comes later receives the retained summary
# with those counts. After a broker restart on the same database, and with
# broker persistence off, the plugin publishes the summary again, so a new
# subscriber still receives it retained.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-1.2.bin
summary_topic=/1/ws/ota/summary
expected_counts='{"taskId":1,"version":1.2,"total":3,"await":0,"send":0,"upgrading":0,"success":1,"failed":1,"stopped":1,"state":"running"}'

# Prints the retained summary of task 1 as a late subscriber receives it,
# or nothing when none came within 2 seconds.
retained_summary() {
	timeout 5 mosquitto_sub -h 127.0.0.1 -p "$E2E_PORT" -i "e2e-late-$$" --retained-only \
		-C 1 -W 2 -t "$summary_topic" 2>/dev/null || true
}

# Prints the fields of a summary that the checks compare, in a fixed order.
summary_counts() {
	jq -c '{taskId, version, total, await, send, upgrading, success, failed, stopped, state}' \
		<<<"${1:-null}" 2>/dev/null || echo "not JSON: $1"
}

# Waits until the retained summary has the expected counts, and prints it.
wait_summary() {
	local summary=

	for _ in $(seq 1 "$E2E_TIMEOUT"); do
		summary=$(retained_summary)
		[[ "$(summary_counts "$summary")" != "$expected_counts" ]] || break
	done
	printf '%s\n' "$summary"
}

# Checks every key the summary must have and the counts: check_summary NAME SUMMARY
check_summary() {
	local name=$1 summary=$2

	e2e_assert_eq "$name: keys" \
		'["taskId","version","total","await","send","upgrading","success","failed","stopped","state","updatedAt"]' \
		"$(jq -c '[keys_unsorted[] | select(. != "name")]' <<<"${summary:-null}" 2>/dev/null)"
	e2e_assert_eq "$name: counts and state" "$expected_counts" "$(summary_counts "$summary")"
	e2e_assert_eq "$name: updatedAt is a time in ms" true \
		"$(jq '.updatedAt > 1600000000000' <<<"${summary:-null}" 2>/dev/null)"
}

campaign_start_broker db
campaign_devices_online success SUM1
campaign_devices_online fail SUM2
e2e_collect status /1/ws/ota/status

# SUM3 never connects, so it stays offline.
campaign_cli create-task --version 1.2 --url "$url" SUM1 SUM2 SUM3
e2e_assert_eq "create-task: exit code" 0 "$CAMPAIGN_RC"
campaign_expect_event status 1 SUM1 3
campaign_expect_event status 1 SUM2 "4:flash write failed"
campaign_expect_event status 1 SUM3 5

summary=$(wait_summary)
check_summary "before the restart" "$summary"

# ----------------------------------------------------------------------
# Restart on the same database
# ----------------------------------------------------------------------

campaign_devices_stop
e2e_stop_collector status
e2e_stop_broker
e2e_assert_eq "broker exit code after SIGTERM" 0 "$E2E_BROKER_RC"
grep -q -x "persistence false" "$E2E_CONF" || e2e_die "the broker must run without persistence"

e2e_start_broker "$CAMPAIGN_DB" "plugin_opt_admin_users $CAMPAIGN_ADMIN"
summary=$(wait_summary)
check_summary "after the restart" "$summary"

e2e_finish
