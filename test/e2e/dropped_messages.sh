#!/usr/bin/env bash
# Messages the plugin drops: replies whose topic names another device than
# the publishing client, and client publishes on the dashboard topics,
# which only the plugin may publish. Replies from the right client, by
# client id, FastBee client id or username, must still pass.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init
trace="$OTA_FIXTURES/fastbee-ota-trace.jsonl"
serial=D1832O34Z5M1
reply_topic="/$serial/http/upgrade/reply"

midway=$(jq -n '[inputs] | to_entries
	| map(select(.value.from == "plugin" and .value.payload.progress == 50))
	| .[0].key + 1' "$trace")

db_dir=$(e2e_make_db_dir db)
db="$db_dir/ota.db"
e2e_start_broker "$db"
e2e_replay "$trace" 1 "$midway"
e2e_collect watch "/+/http/upgrade/reply" \
	/26/ws/ota/status /26/ws/ota/summary 26/ws/ota/status 26/ws/ota/summary

# Publishes PAYLOAD on TOPIC as CLIENT (with mosquitto_pub options after
# it) and prints what the collector received meanwhile into $E2E_DIR/seen.
publish_and_collect() {
	local client=$1 topic=$2 payload=$3

	shift 3
	e2e_sync watch
	e2e_pub "$client" "$topic" "$payload" "$@"
	e2e_since_sync watch >"$E2E_DIR/seen"
}

status_lines() {
	grep -a -E "^/?26/ws/ota/status " "$E2E_DIR/seen" || true
}

# ----------------------------------------------------------------------
# Dropped: name, expected decline code, client id, username ("" for
# none), topic, payload
# ----------------------------------------------------------------------

check_dropped() {
	local name=$1 code=$2 client=$3 username=$4 topic=$5 payload=$6
	local log_offset user_args=()

	[[ -z "$username" ]] || user_args=(-u "$username")
	e2e_dump_db "$db" >"$E2E_DIR/before.sql"
	log_offset=$(e2e_log_size)

	publish_and_collect "$client" "$topic" "$payload" "${user_args[@]}"

	e2e_assert_eq "$name: not delivered" "" \
		"$(grep -a -x -F -- "$topic $payload" "$E2E_DIR/seen" || true)"
	e2e_assert_eq "$name: status messages derived" "" "$(status_lines)"
	e2e_dump_db "$db" >"$E2E_DIR/after.sql"
	e2e_assert_same_file "$name: database unchanged" "$E2E_DIR/before.sql" \
		"$E2E_DIR/after.sql"
	e2e_assert_log_has "$name: decline logged" "$log_offset" \
		"ota: declined $code from client '$client' on '$topic': "
}

dashboard_event='{"serialNumber":"D1832O34Z5M1","status":3,"timestamp":1724482308749}'
summary='{"taskId":26,"version":1.2,"total":1,"state":"finished"}'

check_dropped "reply from another client id" identity \
	e2e-impostor "" "$reply_topic" \
	'{"taskId":26,"progress":60,"version":"1.2","status":2}'
check_dropped "reply from another username" identity \
	e2e-impostor e2e-someone "$reply_topic" \
	'{"taskId":26,"progress":60,"version":"1.2","status":2}'
check_dropped "status from a client" reserved_topic \
	e2e-dashboard "" /26/ws/ota/status "$dashboard_event"
check_dropped "status without slash from a client" reserved_topic \
	e2e-dashboard "" 26/ws/ota/status "$dashboard_event"
check_dropped "summary from a client" reserved_topic \
	e2e-dashboard "" /26/ws/ota/summary "$summary"
check_dropped "summary without slash from a client" reserved_topic \
	e2e-dashboard "" 26/ws/ota/summary "$summary"

# ----------------------------------------------------------------------
# Accepted: the same device proven three ways, each reporting progress
# higher than the last
# ----------------------------------------------------------------------

check_accepted() {
	local name=$1 client=$2 username=$3 progress=$4
	local payload user_args=()

	payload="{\"taskId\":26,\"progress\":$progress,\"version\":\"1.2\",\"status\":2}"
	[[ -z "$username" ]] || user_args=(-u "$username")

	publish_and_collect "$client" "$reply_topic" "$payload" "${user_args[@]}"

	e2e_assert_eq "$name: delivered" "$reply_topic $payload" \
		"$(grep -a -x -F -- "$reply_topic $payload" "$E2E_DIR/seen" || true)"
	e2e_assert_eq "$name: progress derived" "$progress" \
		"$(status_lines | sed 's/^[^ ]* //' | jq -r .progress)"
}

check_accepted "reply from client id" "$serial" "" 60
check_accepted "reply from FastBee client id" "S&$serial&1&1" "" 70
check_accepted "reply from username" e2e-device "$serial" 80

e2e_finish
