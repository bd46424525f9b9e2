#!/usr/bin/env bash
# plugin_opt_device_identity in each of its modes: a reply counts only when
# the publishing client proves it is the device named in the topic, and is
# dropped otherwise, with a log line that shows both identities. Client ids
# and usernames that contain '+', '#' or '/' never match, even where the
# serial number inside a FastBee client id would.
#
# The broker here lets any client publish anywhere, so that the plugin's
# check is the only one; the example configuration adds an ACL in front.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init
trace="$OTA_FIXTURES/fastbee-ota-trace.jsonl"
serial=D1832O34Z5M1
topic="/$serial/http/upgrade/reply"

# The trace line of the backend's `set`.
set_line=$(jq -n '[inputs] | to_entries | map(select(.value.from == "backend")) | .[0].key + 1' \
	"$trace")

# A table of cases: mode, name, client id, username ("" for none), and
# whether the reply passes or is dropped.
case_modes=()
case_names=()
case_clients=()
case_users=()
case_verdicts=()
add_case() {
	case_modes+=("$1")
	case_names+=("$2")
	case_clients+=("$3")
	case_users+=("$4")
	case_verdicts+=("$5")
}

add_case auto "client id is the serial" "$serial" "" pass
add_case auto "FastBee client id" "S&$serial&1&1" "" pass
add_case auto "username is the serial" e2e-device "$serial" pass
add_case auto "another client id" e2e-impostor "" drop
add_case auto "another username" e2e-impostor e2e-someone drop
add_case auto "FastBee id of another device" "S&D9999X00Z0M9&1&1" "" drop
add_case auto "serial with a suffix" "${serial}x" "" drop
add_case auto "client id with a slash" "$serial/" "" drop
add_case auto "username with a hash" e2e-device "$serial#" drop
add_case auto "FastBee id with a slash" "S/x&$serial&1&1" "" drop
add_case auto "FastBee id with a plus" "S&$serial&1&+" "" drop
add_case auto "FastBee id with a hash" "S&$serial&1&1#" "" drop

add_case clientid "client id is the serial" "$serial" "" pass
add_case clientid "FastBee client id" "S&$serial&1&1" "" drop
add_case clientid "username is the serial" e2e-device "$serial" drop

add_case username "username is the serial" e2e-device "$serial" pass
add_case username "client id is the serial" "$serial" "" drop
add_case username "client id is the serial, other username" "$serial" e2e-someone drop
add_case username "username with a slash" e2e-device "$serial/" drop

add_case fastbee "FastBee client id" "S&$serial&1&1" "" pass
add_case fastbee "client id is the serial" "$serial" "" drop
add_case fastbee "username is the serial" e2e-device "$serial" drop
add_case fastbee "FastBee id of three fields" "S&$serial&1" "" drop
add_case fastbee "FastBee id with a slash and a hash" "S&$serial&1&1/#" "" drop

add_case none "any client" e2e-anyone "" pass
add_case none "FastBee id of another device" "S&D9999X00Z0M9&1&1" "" pass

# Runs the cases of MODE against a broker of their own, with task 26 from
# the trace's `set`: run_mode MODE
run_mode() {
	local mode=$1 i name client user verdict user_args payload progress=10 log_offset
	local db_dir db seen

	db_dir=$(e2e_make_db_dir "db-$mode")
	db="$db_dir/ota.db"
	e2e_start_broker "$db" "plugin_opt_device_identity $mode" "plugin_opt_log_burst 1000"
	e2e_replay "$trace" 1 "$set_line"
	e2e_collect watch /26/ws/ota/status "/+/http/upgrade/reply"

	for i in "${!case_names[@]}"; do
		[[ "${case_modes[i]}" == "$mode" ]] || continue
		name="$mode: ${case_names[i]}"
		client=${case_clients[i]}
		user=${case_users[i]}
		verdict=${case_verdicts[i]}
		user_args=()
		[[ -z "$user" ]] || user_args=(-u "$user")
		if [[ "$verdict" == pass ]]; then
			payload="{\"taskId\":26,\"progress\":$progress,\"version\":\"1.2\",\"status\":2}"
		else
			payload='{"taskId":26,"progress":99,"version":"1.2","status":2}'
		fi

		e2e_dump_db "$db" >"$E2E_DIR/before.sql"
		e2e_sync watch
		log_offset=$(e2e_log_size)
		e2e_pub "$client" "$topic" "$payload" "${user_args[@]}"
		# Not in a subshell: e2e_since_sync keeps its position in variables.
		e2e_since_sync watch >"$E2E_DIR/seen"
		seen=$(cat "$E2E_DIR/seen")

		if [[ "$verdict" == pass ]]; then
			e2e_assert_eq "$name: reply delivered" "$topic $payload" \
				"$(grep -a -F -x -- "$topic $payload" <<<"$seen" || true)"
			e2e_assert_eq "$name: progress derived" "$progress" \
				"$(grep -a "^/26/ws/ota/status " <<<"$seen" | sed 's/^[^ ]* //' | jq -r .progress)"
			progress=$((progress + 10))
			continue
		fi
		e2e_assert_eq "$name: reply not delivered" "" \
			"$(grep -a -F -- "$topic " <<<"$seen" || true)"
		e2e_assert_eq "$name: no status derived" "" \
			"$(grep -a "^/26/ws/ota/status " <<<"$seen" || true)"
		e2e_dump_db "$db" >"$E2E_DIR/after.sql"
		e2e_assert_same_file "$name: database unchanged" "$E2E_DIR/before.sql" \
			"$E2E_DIR/after.sql"
		e2e_assert_log_has "$name: both identities logged" "$log_offset" \
			"ota: declined identity from client '$client' on '$topic': device $serial does not match client id '$client' or username '$user' (device_identity $mode)"
	done

	e2e_stop_collector watch
	e2e_stop_broker
}

for mode in auto clientid username fastbee none; do
	run_mode "$mode"
done
e2e_finish
