#!/usr/bin/env bash
# Limits and their errors, each checked on both sides of the boundary:
# reply and `set` payload size (plugin_opt_reply_max_bytes), admin command
# size (plugin_opt_command_max_bytes), JSON nesting, string lengths,
# devices per task (100,000), tasks kept (plugin_opt_max_tasks) and
# finished tasks deleted after plugin_opt_retention_days.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=test/e2e/security_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/security_lib.sh"

e2e_init
sec_require mosquitto_rr mosquitto-clients
cli=${OTA_CLI:-$E2E_ROOT/build/tools/mosquitto_ota}
[[ -x "$cli" ]] || e2e_die "mosquitto_ota not found at $cli: build it first or set OTA_CLI"
trace="$OTA_FIXTURES/fastbee-ota-trace.jsonl"
serial=D1832O34Z5M1
reply_topic="/$serial/http/upgrade/reply"
set_topic="/$serial/http/upgrade/set"
url=/profile/iot/1/2024-0824-001954.bin
admin=e2e-admin

repeat() {
	head -c "$1" /dev/zero | tr '\0' "$2"
}

# Prints JSON text of exactly SIZE bytes: the object PREFIX (without its
# closing brace) with a "pad" member filling the rest: sized SIZE PREFIX
sized() {
	local size=$1 prefix=$2 frame

	frame="$prefix,\"pad\":\"\"}"
	printf '%s,"pad":"%s"}' "$prefix" "$(repeat $((size - ${#frame})) p)"
}

# Prints JSON text nested DEPTH levels: an object whose "x" contains arrays.
nested() {
	local depth=$1 prefix=$2

	printf '%s,"x":%s1%s}' "$prefix" "$(repeat $((depth - 1)) '[')" "$(repeat $((depth - 1)) ']')"
}

# Publishes a reply or `set` and checks that the plugin accepted it (a
# status event) or declined it with DETAIL:
# check_message NAME CLIENT TOPIC PAYLOAD accepted|"CODE: DETAIL"
check_message() {
	local name=$1 client=$2 topic=$3 payload=$4 expect=$5 log_offset seen

	e2e_dump_db "$db" >"$E2E_DIR/before.sql"
	e2e_sync watch
	log_offset=$(e2e_log_size)
	e2e_pub "$client" "$topic" "$payload"
	e2e_since_sync watch >"$E2E_DIR/seen"
	seen=$(grep -a -c "^/[0-9]*/ws/ota/status " "$E2E_DIR/seen" || true)
	if [[ "$expect" == accepted ]]; then
		e2e_assert_eq "$name: accepted" yes "$( ((seen > 0)) && echo yes || echo no)"
		return
	fi
	e2e_assert_eq "$name: no status derived" 0 "$seen"
	e2e_assert_log_has "$name: decline logged" "$log_offset" \
		"ota: declined ${expect%%: *} from client '$client' on '$topic': ${expect#*: }"
	e2e_dump_db "$db" >"$E2E_DIR/after.sql"
	e2e_assert_same_file "$name: database unchanged" "$E2E_DIR/before.sql" "$E2E_DIR/after.sql"
}

# Sends an admin request and checks that it ran (ok) or failed with ERROR:
# check_request NAME PAYLOAD ok|ERROR
check_request() {
	local name=$1 payload=$2 expect=$3 response error

	response=$(sec_request "$payload" -i "e2e-rr-$$" -u "$admin" || true)
	error=$(jq -r '.responses[0].error // "ok"' <<<"$response" 2>/dev/null || echo "no response")
	e2e_assert_eq "$name" "$expect" "$error"
}

# ----------------------------------------------------------------------
# Sizes and nesting: reply_max_bytes 256, command_max_bytes 1024
# ----------------------------------------------------------------------

db_dir=$(e2e_make_db_dir db-sizes)
db="$db_dir/ota.db"
e2e_start_broker "$db" "plugin_opt_reply_max_bytes 256" "plugin_opt_command_max_bytes 1024" \
	"plugin_opt_admin_users $admin" "plugin_opt_log_burst 1000"
e2e_pub e2e-backend "$set_topic" "{\"taskId\":26,\"url\":\"$url\",\"version\":1.2,\"status\":1}"
e2e_collect watch /26/ws/ota/status /27/ws/ota/status

check_message "reply of 256 bytes" "$serial" "$reply_topic" \
	"$(sized 256 '{"taskId":26,"progress":10,"status":2')" accepted
check_message "reply of 257 bytes" "$serial" "$reply_topic" \
	"$(sized 257 '{"taskId":26,"progress":20,"status":2')" \
	"too_large: payload of 257 bytes: at most 256 allowed"
check_message "set of 257 bytes" e2e-backend "/D0000000002/http/upgrade/set" \
	"$(sized 257 "{\"taskId\":27,\"url\":\"$url\",\"version\":1.2,\"status\":1")" \
	"too_large: payload of 257 bytes: at most 256 allowed"
check_message "set of 256 bytes" e2e-backend "/D0000000002/http/upgrade/set" \
	"$(sized 256 "{\"taskId\":27,\"url\":\"$url\",\"version\":1.2,\"status\":1")" accepted
check_message "reply nested 8 levels" "$serial" "$reply_topic" \
	"$(nested 8 '{"taskId":26,"progress":30,"status":2')" accepted
check_message "reply nested 9 levels" "$serial" "$reply_topic" \
	"$(nested 9 '{"taskId":26,"progress":40,"status":2')" \
	"too_deep: payload nested 9 levels: at most 8 allowed"

check_request "command of 1024 bytes" "$(sized 1024 '{"commands":[{"command":"getStats"}]')" ok
check_request "command of 1025 bytes" "$(sized 1025 '{"commands":[{"command":"getStats"}]')" \
	"payload of 1025 bytes: at most 1024 allowed (plugin_opt_command_max_bytes)"
check_request "command nested 8 levels" \
	"{\"commands\":[{\"command\":\"getStats\",\"x\":$(repeat 5 '[')1$(repeat 5 ']')}]}" ok
check_request "command nested 9 levels" \
	"{\"commands\":[{\"command\":\"getStats\",\"x\":$(repeat 6 '[')1$(repeat 6 ']')}]}" \
	"payload: nested deeper than 8 levels"
e2e_stop_collector watch
e2e_stop_broker

# ----------------------------------------------------------------------
# String lengths, devices per task and max_tasks 3
# ----------------------------------------------------------------------

db_dir=$(e2e_make_db_dir db-counts)
db="$db_dir/ota.db"
e2e_start_broker "$db" "plugin_opt_max_tasks 3" "plugin_opt_admin_users $admin" \
	"plugin_opt_log_burst 1000"
e2e_pub e2e-backend "$set_topic" "{\"taskId\":26,\"url\":\"$url\",\"version\":1.2,\"status\":1}"
e2e_collect watch /26/ws/ota/status /27/ws/ota/status /29/ws/ota/status

version64="\"$(repeat 64 9)\""
version65="\"$(repeat 65 9)\""
check_message "version of 64 bytes" "$serial" "$reply_topic" \
	"{\"taskId\":26,\"progress\":10,\"version\":$version64,\"status\":2}" accepted
check_message "version of 65 bytes" "$serial" "$reply_topic" \
	"{\"taskId\":26,\"progress\":20,\"version\":$version65,\"status\":2}" \
	"bad_version: version ${version65:0:37}...: must be a number or a string of 1-64 bytes"
message256="\"$(repeat 256 m)\""
message257="\"$(repeat 257 m)\""
check_message "msg of 256 bytes" "$serial" "$reply_topic" \
	"{\"taskId\":26,\"progress\":30,\"msg\":$message256,\"status\":2}" accepted
check_message "msg of 257 bytes" "$serial" "$reply_topic" \
	"{\"taskId\":26,\"progress\":40,\"msg\":$message257,\"status\":2}" \
	"bad_message: message ${message257:0:37}...: must be a string of at most 256 bytes"
url1024="\"/$(repeat 1023 u)\""
url1025="\"/$(repeat 1024 u)\""
check_message "url of 1025 bytes" e2e-backend "/D0000000002/http/upgrade/set" \
	"{\"taskId\":27,\"url\":$url1025,\"version\":1.2,\"status\":1}" \
	"bad_url: url ${url1025:0:37}...: must be a string of 1-1024 bytes"
check_message "url of 1024 bytes" e2e-backend "/D0000000002/http/upgrade/set" \
	"{\"taskId\":27,\"url\":$url1024,\"version\":1.2,\"status\":1}" accepted
serial64=$(repeat 64 S)
serial65=$(repeat 65 S)
check_message "serial of 64 bytes" "$serial64" "/$serial64/http/upgrade/reply" \
	'{"taskId":26,"progress":50,"status":2}' \
	"not_this_device: taskId 26: device $serial64 is not part of it"
check_message "serial of 65 bytes" "$serial65" "/$serial65/http/upgrade/reply" \
	'{"taskId":26,"progress":50,"status":2}' \
	"bad_serial: serial number in topic: must be 1-64 bytes without '/', '+' or '#'"
check_request "task name of 129 bytes" \
	"{\"commands\":[{\"command\":\"createTask\",\"version\":2,\"url\":\"/f.bin\",\"devices\":[\"A1\"],\"name\":\"$(repeat 129 n)\"}]}" \
	"name: must be a string of 1-128 bytes"

# Devices per task, through mosquitto_ota: the request is about 1.3 MB.
# The task starts tomorrow, so that no push changes the database while the
# checks below compare it.
seq -f 'Z%06g' 1 100001 >"$E2E_DIR/devices-100001.txt"
head -n 100000 "$E2E_DIR/devices-100001.txt" >"$E2E_DIR/devices-100000.txt"
# Creates a task with the devices in FILE; prints the response's data or
# error as JSON: create_from_file FILE TASK_ID
create_from_file() {
	"$cli" -h 127.0.0.1 -p "$E2E_PORT" -u "$admin" -i "e2e-cli-$$" -W 120 --json \
		create-task --version 2.0 --version-string --url /f.bin --task-id "$2" \
		--name "$(repeat 128 n)" --start-at $(($(e2e_now_ms) + 86400000)) \
		--devices-file "$1" 2>/dev/null || true
}
log_offset=$(e2e_log_size)
create_from_file "$E2E_DIR/devices-100001.txt" 28 >/dev/null
e2e_assert_log_has "100,001 devices refused" "$log_offset" \
	"| createTask | error=devices: must be an array of 1 to 100000 serial numbers, got 100001"
e2e_assert_eq "no task 28 after the refusal" 0 "$(e2e_sqlite "$db" "SELECT count(*) FROM task WHERE id = 28")"
log_offset=$(e2e_log_size)
create_from_file "$E2E_DIR/devices-100000.txt" 28 >/dev/null
e2e_assert_log_has "100,000 devices accepted" "$log_offset" "| createTask | ok"
e2e_assert_eq "rows of task 28" 100000 \
	"$(e2e_sqlite "$db" "SELECT count(*) FROM task_device WHERE task_id = 28")"

# Three tasks now: 26 and 27 observed, 28 created.
limit="task limit of 3 reached (plugin_opt_max_tasks); set plugin_opt_retention_days or raise the limit"
check_request "createTask beyond max_tasks" \
	'{"commands":[{"command":"createTask","version":2,"url":"/f.bin","devices":["A1"]}]}' "$limit"
check_message "set beyond max_tasks" e2e-backend "/D0000000003/http/upgrade/set" \
	"{\"taskId\":29,\"url\":\"$url\",\"version\":1.2,\"status\":1}" "task_limit: $limit"
e2e_stop_collector watch
e2e_stop_broker

# ----------------------------------------------------------------------
# retention_days 1: a task that ended two days ago goes, newer ones stay
# ----------------------------------------------------------------------

db_dir=$(e2e_make_db_dir db-retention)
db="$db_dir/ota.db"
e2e_start_broker "$db"
e2e_replay "$trace"
# Task 30 finished today; task 31 still runs.
e2e_pub e2e-backend /D0000000003/http/upgrade/set '{"taskId":30,"url":"/f.bin","version":3,"status":1}'
e2e_pub D0000000003 /D0000000003/http/upgrade/reply '{"taskId":30,"version":"3","status":3}'
e2e_pub e2e-backend /D0000000004/http/upgrade/set '{"taskId":31,"url":"/f.bin","version":3,"status":1}'
e2e_stop_broker
e2e_sqlite "$db" "UPDATE task SET updated_at = updated_at - 2 * 86400000 WHERE id IN (26, 31)"
e2e_assert_eq "tasks before the restart" "26|finished
30|finished
31|running" "$(e2e_sqlite "$db" "SELECT id, state FROM task ORDER BY id")"

e2e_start_broker "$db" "plugin_opt_retention_days 1"
for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
	e2e_log_since_launch | grep -a -q "ota: task 26 deleted" && break
	sleep 0.1
done
e2e_assert_log_has "deletion logged" "$E2E_LOG_OFFSET" \
	"ota: task 26 deleted after 1 days (retention_days)"
summary=$(timeout "$E2E_TIMEOUT" mosquitto_sub -h 127.0.0.1 -p "$E2E_PORT" -i "e2e-sum-$$" \
	-t /26/ws/ota/summary -t /30/ws/ota/summary -v -W 2 2>/dev/null || true)
e2e_assert_eq "retained summaries: none for task 26" "/30/ws/ota/summary" \
	"$(cut -d' ' -f1 <<<"$summary")"
e2e_stop_broker
e2e_assert_eq "tasks after the restart" "30|finished
31|running" "$(e2e_sqlite "$db" "SELECT id, state FROM task ORDER BY id")"
e2e_assert_eq "rows and history of task 26 deleted" "0|0" \
	"$(e2e_sqlite "$db" "SELECT (SELECT count(*) FROM task_device WHERE task_id = 26),
		(SELECT count(*) FROM history WHERE task_id = 26)")"
e2e_finish
