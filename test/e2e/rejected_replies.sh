#!/usr/bin/env bash
# Replies the plugin must decline. Each case runs against task 26 with its
# device at REPLY progress 50, or at SUCCESS in the second table. Each case
# checks that no status message is derived, that the database is unchanged,
# that the log names the decline code and the client, and that the reply
# still reaches a subscriber of the reply topic unchanged.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init
trace="$OTA_FIXTURES/fastbee-ota-trace.jsonl"
serial=D1832O34Z5M1
outsider=D9999X00Z0M9

# The trace line of the status message with progress 50.
midway=$(jq -n '[inputs] | to_entries
	| map(select(.value.from == "plugin" and .value.payload.progress == 50))
	| .[0].key + 1' "$trace")

# A table of cases: name, expected decline code, publishing device (its
# serial number is both the client id and the topic level), payload.
case_names=()
case_codes=()
case_devices=()
case_payloads=()
add_case() {
	case_names+=("$1")
	case_codes+=("$2")
	case_devices+=("$3")
	case_payloads+=("$4")
}

# Publishes every case of the table and checks it.
run_cases() {
	local db=$1 i name code device topic payload log_offset

	for i in "${!case_names[@]}"; do
		name=${case_names[i]}
		code=${case_codes[i]}
		device=${case_devices[i]}
		payload=${case_payloads[i]}
		topic="/$device/http/upgrade/reply"

		e2e_dump_db "$db" >"$E2E_DIR/before.sql"
		e2e_sync watch
		log_offset=$(e2e_log_size)

		e2e_pub "$device" "$topic" "$payload"
		e2e_since_sync watch >"$E2E_DIR/seen"

		e2e_assert_eq "$name: status messages derived" "" \
			"$(grep -a "^/26/ws/ota/status " "$E2E_DIR/seen" || true)"
		e2e_assert_eq "$name: reply delivered to its subscriber" "$topic $payload" \
			"$(grep -a "^$topic " "$E2E_DIR/seen" || true)"
		e2e_dump_db "$db" >"$E2E_DIR/after.sql"
		e2e_assert_same_file "$name: database unchanged" "$E2E_DIR/before.sql" \
			"$E2E_DIR/after.sql"
		e2e_assert_log_has "$name: decline logged" "$log_offset" \
			"ota: declined $code from client '$device' on '$topic': "
	done
	case_names=()
	case_codes=()
	case_devices=()
	case_payloads=()
}

# Starts a broker on a fresh database in folder DB_NAME, replays trace
# lines 1..LAST and starts the collector `watch` on the status and reply
# topics: start_at LAST DB_NAME
start_at() {
	local last=$1 db_dir

	db_dir=$(e2e_make_db_dir "$2")
	e2e_start_broker "$db_dir/ota.db"
	e2e_replay "$trace" 1 "$last"
	e2e_collect watch /26/ws/ota/status "/+/http/upgrade/reply"
}

# ----------------------------------------------------------------------
# Device at REPLY progress 50
# ----------------------------------------------------------------------

oversized=$(printf '{"taskId":26,"progress":60,"status":2,"pad":"%s"}' \
	"$(head -c 5000 /dev/zero | tr '\0' x)")

add_case "duplicate progress 50" duplicate "$serial" \
	'{"taskId":26,"progress":50,"version":"1.2","status":2}'
add_case "stale progress 30" stale "$serial" \
	'{"taskId":26,"progress":30,"version":"1.2","status":2}'
add_case "unknown task 99" unknown_task "$serial" \
	'{"taskId":99,"progress":60,"version":"1.2","status":2}'
add_case "bad JSON" bad_json "$serial" \
	'{"taskId":26,"progress":60,"status":2'
add_case "array, not an object" not_object "$serial" \
	'[26,60,2]'
add_case "number, not an object" not_object "$serial" \
	'42'
add_case "status as text" bad_status "$serial" \
	'{"taskId":26,"progress":60,"status":"x"}'
add_case "progress true" bad_progress "$serial" \
	'{"taskId":26,"progress":true,"status":2}'
add_case "taskId 1.5" bad_task_id "$serial" \
	'{"taskId":1.5,"progress":60,"status":2}'
add_case "progress 140" bad_progress "$serial" \
	'{"taskId":26,"progress":140,"status":2}'
add_case "progress -1" bad_progress "$serial" \
	'{"taskId":26,"progress":-1,"status":2}'
add_case "status 1" bad_status "$serial" \
	'{"taskId":26,"progress":60,"status":1}'
add_case "status 5" bad_status "$serial" \
	'{"taskId":26,"progress":60,"status":5}'
add_case "invalid UTF-8" bad_utf8 "$serial" \
	$'{"taskId":26,"progress":60,"status":2,"msg":"\xff\xfe"}'
add_case "oversized payload" too_large "$serial" \
	"$oversized"
add_case "device not in the task" not_this_device "$outsider" \
	'{"taskId":26,"progress":60,"version":"1.2","status":2}'

start_at "$midway" db-progress50
run_cases "$E2E_DIR/db-progress50/ota.db"
e2e_stop_broker

# ----------------------------------------------------------------------
# Device at SUCCESS: a late report must not reopen the upgrade
# ----------------------------------------------------------------------

# The plugin files a progress report after success under `stale`: it is a
# late message, and FastBee would turn the success back into "upgrading".
add_case "progress after success" stale "$serial" \
	'{"taskId":26,"progress":100,"version":"1.2","status":2}'
add_case "failure after success" illegal_transition "$serial" \
	'{"taskId":26,"version":"1.2","status":4}'

start_at "" db-success
run_cases "$E2E_DIR/db-success/ota.db"
e2e_stop_broker
e2e_finish
