#!/usr/bin/env bash
# A battery of malformed and hostile messages: device replies, backend
# `set` messages and admin commands with wrong types, ranges, sizes,
# encodings, identities and fields. For each one the plugin must log the
# exact reason (decline code and detail, or the admin error text), derive
# no status message, and leave the database unchanged. Declined replies
# and `set` messages still reach their subscribers; dropped ones do not.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=test/e2e/security_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/security_lib.sh"

e2e_init
sec_require mosquitto_rr mosquitto-clients
trace="$OTA_FIXTURES/fastbee-ota-trace.jsonl"
serial=D1832O34Z5M1
outsider=D9999X00Z0M9
reply_topic="/$serial/http/upgrade/reply"
set_topic="/$serial/http/upgrade/set"
backend=e2e-backend
admin=e2e-admin
command_max=4096

# Prints COUNT copies of the character C.
repeat() {
	local count=$1 char=$2

	head -c "$count" /dev/zero | tr '\0' "$char"
}

# Prints how the plugin shows a JSON value of more than 40 characters in a
# log line: its first 37 characters and "...".
shown() {
	local text=$1

	if ((${#text} > 40)); then
		printf '%s...\n' "${text:0:37}"
	else
		printf '%s\n' "$text"
	fi
}

# ----------------------------------------------------------------------
# The table. Every case has a kind, a name, the client id and username
# ("" for none) it publishes with, the topic, the payload, what the plugin
# must log, and for admin commands the error the response must carry.
# ----------------------------------------------------------------------

kinds=()
names=()
clients=()
users=()
topics=()
payloads=()
logs=()
errors=()
add() {
	kinds+=("$1")
	names+=("$2")
	clients+=("$3")
	users+=("$4")
	topics+=("$5")
	payloads+=("$6")
	logs+=("$7")
	errors+=("${8:-}")
}

# A reply the plugin declines but delivers:
# reply NAME CODE DETAIL PAYLOAD [CLIENT] [TOPIC]
reply() {
	local client=${5:-$serial} topic=${6:-$reply_topic}

	add declined "$1" "$client" "" "$topic" "$4" \
		"ota: declined $2 from client '$client' on '$topic': $3"
}

# A message the plugin drops: dropped NAME CODE DETAIL CLIENT TOPIC PAYLOAD
dropped() {
	add dropped "$1" "$4" "" "$5" "$6" "ota: declined $2 from client '$4' on '$5': $3"
}

# A `set` the plugin declines but delivers:
# set_message NAME CODE DETAIL PAYLOAD [CLIENT] [USERNAME]
set_message() {
	local client=${5:-$backend} user=${6-$backend}

	add declined "$1" "$client" "$user" "$set_topic" "$4" \
		"ota: declined $2 from client '$client' on '$set_topic': $3"
}

# An admin command that fails with ERROR:
# command_error NAME COMMAND ERROR PAYLOAD
command_error() {
	add control "$1" "e2e-rr-$((${#names[@]} + 1))-$$" "$admin" "" "$4" \
		"| $2 | error=$3" "$3"
}

# An admin request rejected as a whole: request_rejected NAME ERROR PAYLOAD
request_rejected() {
	add control "$1" "e2e-rr-$((${#names[@]} + 1))-$$" "$admin" "" "$3" \
		"| rejected | $2" "$2"
}

# An admin request from a user not in admin_users:
# request_denied NAME USERNAME PAYLOAD
request_denied() {
	add control "$1" "e2e-rr-$((${#names[@]} + 1))-$$" "$2" "" "$3" \
		"| denied | username not in admin_users" \
		"not authorized: username is not in plugin_opt_admin_users"
}

# A createTask with FIELDS (JSON members) added to a valid request.
create_with() {
	printf '{"commands":[{"command":"createTask","version":"2.0","url":"/f.bin","devices":["A1","A2"]%s}]}' \
		"${1:+,$1}"
}

# --- replies: JSON and encoding ---
truncated='{"taskId":26,"progress":60,"status":2'
reply "truncated JSON" bad_json "payload of ${#truncated} bytes: not valid JSON" "$truncated"
reply "empty payload" bad_json "payload of 0 bytes: not valid JSON" ""
single="{'taskId':26,'status':2}"
reply "single quotes" bad_json "payload of ${#single} bytes: not valid JSON" "$single"
reply "array" not_object "payload: must be a JSON object" '[26,60,2]'
reply "string" not_object "payload: must be a JSON object" '"progress 60"'
reply "null" not_object "payload: must be a JSON object" 'null'
reply "nested 9 levels" too_deep "payload nested 9 levels: at most 8 allowed" \
	'{"taskId":26,"progress":60,"status":2,"x":[[[[[[[[1]]]]]]]]}'
for bytes in '\xff' '\xc0\xaf' '\xed\xa0\x80' '\xe2\x82'; do
	payload=$(printf '{"taskId":26,"progress":60,"status":2,"msg":"%b"}' "$bytes")
	reply "invalid UTF-8 $bytes" bad_utf8 "payload of ${#payload} bytes: not valid UTF-8" "$payload"
done
payload="{\"taskId\":26,\"progress\":60,\"status\":2,\"pad\":\"$(repeat 4060 x)\"}"
reply "payload of ${#payload} bytes" too_large "payload of ${#payload} bytes: at most 4096 allowed" \
	"$payload"

# --- replies: status ---
reply "status missing" bad_status "status (missing): must be 2, 3 or 4" '{"taskId":26,"progress":60}'
reply "status as text" bad_status 'status "x": must be 2, 3 or 4' '{"taskId":26,"progress":60,"status":"x"}'
reply "status 1" bad_status "status 1: must be 2, 3 or 4" '{"taskId":26,"progress":60,"status":1}'
reply "status 5" bad_status "status 5: must be 2, 3 or 4" '{"taskId":26,"status":5}'
reply "status 404" bad_status "status 404: must be 2, 3 or 4" '{"taskId":26,"status":404}'
reply "status 2.5" bad_status "status 2.5: must be 2, 3 or 4" '{"taskId":26,"progress":60,"status":2.5}'
reply "status null" bad_status "status null: must be 2, 3 or 4" '{"taskId":26,"progress":60,"status":null}'

# --- replies: taskId ---
reply "taskId missing" bad_task_id "taskId (missing): must be a positive integer" '{"progress":60,"status":2}'
reply "taskId 0" bad_task_id "taskId 0: must be a positive integer" '{"taskId":0,"progress":60,"status":2}'
reply "taskId negative" bad_task_id "taskId -26: must be a positive integer" '{"taskId":-26,"progress":60,"status":2}'
reply "taskId as words" bad_task_id 'taskId "abc": must be a positive integer' '{"taskId":"abc","progress":60,"status":2}'
reply "taskId fraction" bad_task_id "taskId 1.5: must be a positive integer" '{"taskId":1.5,"progress":60,"status":2}'
reply "taskId above 2^53" bad_task_id "taskId 1e+16: must be a positive integer" \
	'{"taskId":1e16,"progress":60,"status":2}'
reply "taskId exponent text" bad_task_id 'taskId "2.6e1": must be a positive integer' \
	'{"taskId":"2.6e1","progress":60,"status":2}'
reply "taskId unknown" unknown_task "taskId 99: no such task" '{"taskId":99,"progress":60,"status":2}'

# --- replies: progress ---
reply "progress 101" bad_progress "progress 101: must be a whole number 0..100" '{"taskId":26,"progress":101,"status":2}'
reply "progress -1" bad_progress "progress -1: must be a whole number 0..100" '{"taskId":26,"progress":-1,"status":2}'
reply "progress 50.5" bad_progress "progress 50.5: must be a whole number 0..100" '{"taskId":26,"progress":50.5,"status":2}'
reply "progress text 60.5" bad_progress 'progress "60.5": must be a whole number 0..100' '{"taskId":26,"progress":"60.5","status":2}'
reply "progress true" bad_progress "progress true: must be a whole number 0..100" '{"taskId":26,"progress":true,"status":2}'
reply "progress exponent text" bad_progress 'progress "6e1": must be a whole number 0..100' '{"taskId":26,"progress":"6e1","status":2}'
reply "progress leading space" bad_progress 'progress " 60": must be a whole number 0..100' '{"taskId":26,"progress":" 60","status":2}'

# --- replies: version and message ---
rule="must be a number or a string of 1-64 bytes"
reply "version empty" bad_version "version \"\": $rule" '{"taskId":26,"progress":60,"version":"","status":2}'
long_version="\"$(repeat 65 9)\""
reply "version of 65 bytes" bad_version "version $(shown "$long_version"): $rule" \
	"{\"taskId\":26,\"progress\":60,\"version\":$long_version,\"status\":2}"
reply "version object" bad_version "version {}: $rule" '{"taskId":26,"progress":60,"version":{},"status":2}'
reply "version true" bad_version "version true: $rule" '{"taskId":26,"progress":60,"version":true,"status":2}'
rule="must be a string of at most 256 bytes"
long_message="\"$(repeat 257 m)\""
reply "msg of 257 bytes" bad_message "message $(shown "$long_message"): $rule" \
	"{\"taskId\":26,\"status\":4,\"msg\":$long_message}"
reply "message of 257 bytes" bad_message "message $(shown "$long_message"): $rule" \
	"{\"taskId\":26,\"status\":4,\"message\":$long_message}"
reply "msg number" bad_message "message 42: $rule" '{"taskId":26,"status":4,"msg":42}'

# --- replies: state and device ---
reply "progress 50 again" duplicate \
	"status 2 progress 50 for $serial in task 26: row is REPLY progress 50" \
	'{"taskId":26,"progress":50,"version":"1.2","status":2}'
reply "progress back to 30" stale \
	"status 2 progress 30 for $serial in task 26: row is REPLY progress 50" \
	'{"taskId":26,"progress":30,"version":"1.2","status":2}'
reply "device outside the task" not_this_device "taskId 26: device $outsider is not part of it" \
	'{"taskId":26,"progress":60,"status":2}' "$outsider" "/$outsider/http/upgrade/reply"
long_serial=$(repeat 65 S)
reply "serial of 65 bytes" bad_serial \
	"serial number in topic: must be 1-64 bytes without '/', '+' or '#'" \
	'{"taskId":26,"progress":60,"status":2}' "e2e-long" "/$long_serial/http/upgrade/reply"
# Last of the replies: were one accepted, the row would move on from 50.
trailing='{"taskId":26,"progress":60,"status":2} x'
reply "text after the object" bad_json "payload of ${#trailing} bytes: not valid JSON" "$trailing"
two='{"taskId":26,"progress":60,"status":2}{"taskId":26,"progress":70,"status":2}'
reply "two objects" bad_json "payload of ${#two} bytes: not valid JSON" "$two"

# --- dropped: identity and dashboard topics ---
dropped "spoofed client id" identity \
	"device $serial does not match client id 'e2e-impostor' or username '' (device_identity auto)" \
	e2e-impostor "$reply_topic" '{"taskId":26,"status":3}'
dropped "spoofed FastBee client id" identity \
	"device $serial does not match client id 'S&$outsider&1&1' or username '' (device_identity auto)" \
	"S&$outsider&1&1" "$reply_topic" '{"taskId":26,"status":3}'
dropped "status from a device" reserved_topic "only the OTA plugin may publish dashboard topics" \
	"$serial" /26/ws/ota/status '{"serialNumber":"D1832O34Z5M1","status":3,"timestamp":1}'
dropped "summary without slash" reserved_topic "only the OTA plugin may publish dashboard topics" \
	"$serial" 26/ws/ota/summary '{"taskId":26,"state":"finished"}'

# --- set messages ---
url=/profile/iot/1/2024-0824-001954.bin
set_message "set from an anonymous client" not_backend "username '' is not in backend_users" \
	"{\"taskId\":27,\"url\":\"$url\",\"version\":1.3,\"status\":1}" e2e-intruder ""
set_message "set from another user" not_backend "username 'mallory' is not in backend_users" \
	"{\"taskId\":27,\"url\":\"$url\",\"version\":1.3,\"status\":1}" e2e-intruder mallory
rule="must be a string of 1-1024 bytes"
set_message "set with empty url" bad_url "url \"\": $rule" '{"taskId":27,"url":"","version":1.3,"status":1}'
set_message "set without url" bad_url "url (missing): $rule" '{"taskId":27,"version":1.3,"status":1}'
long_url="\"/$(repeat 1024 u)\""
set_message "set with url of 1025 bytes" bad_url "url $(shown "$long_url"): $rule" \
	"{\"taskId\":27,\"url\":$long_url,\"version\":1.3,\"status\":1}"
set_message "set with version true" bad_version "version true: must be a number or a string of 1-64 bytes" \
	"{\"taskId\":27,\"url\":\"$url\",\"version\":true,\"status\":1}"
set_message "set with taskId as words" bad_task_id 'taskId "x": must be a positive integer' \
	"{\"taskId\":\"x\",\"url\":\"$url\",\"version\":1.3,\"status\":1}"
set_message "set with another url" conflict \
	"taskId 26 exists with version 1.2 and another url or version; not tracked" \
	'{"taskId":26,"url":"/other.bin","version":1.2,"status":1}'
set_message "set with another version" conflict \
	"taskId 26 exists with version 1.2 and another url or version; not tracked" \
	"{\"taskId\":26,\"url\":\"$url\",\"version\":1.3,\"status\":1}"

# --- admin: createTask fields ---
serial_rule="serial number must be 1-64 characters without '/', '+' or '#'"
command_error "createTask with devices[3] invalid" createTask "devices[3]: $serial_rule" \
	'{"commands":[{"command":"createTask","version":"2.0","url":"/f.bin","devices":["A1","A2","A3","A/4"]}]}'
command_error "createTask with devices[1] a number" createTask "devices[1]: $serial_rule" \
	'{"commands":[{"command":"createTask","version":"2.0","url":"/f.bin","devices":["A1",2]}]}'
command_error "createTask with a duplicate device" createTask "devices[2]: duplicate serial number A1" \
	'{"commands":[{"command":"createTask","version":"2.0","url":"/f.bin","devices":["A1","A2","A1"]}]}'
command_error "createTask with no devices" createTask \
	"devices: must be an array of 1 to 100000 serial numbers, got 0" \
	'{"commands":[{"command":"createTask","version":"2.0","url":"/f.bin","devices":[]}]}'
command_error "createTask with devices a string" createTask \
	"devices: must be an array of 1 to 100000 serial numbers" \
	'{"commands":[{"command":"createTask","version":"2.0","url":"/f.bin","devices":"A1"}]}'
command_error "createTask without version" createTask "version: missing" \
	'{"commands":[{"command":"createTask","url":"/f.bin","devices":["A1"]}]}'
command_error "createTask with version object" createTask \
	"version: must be a number or a string of 1-64 bytes" \
	'{"commands":[{"command":"createTask","version":{},"url":"/f.bin","devices":["A1"]}]}'
command_error "createTask with empty url" createTask "url: must be a string of 1-1024 bytes" \
	'{"commands":[{"command":"createTask","version":"2.0","url":"","devices":["A1"]}]}'
command_error "createTask with name of 129 bytes" createTask "name: must be a string of 1-128 bytes" \
	"$(create_with "\"name\":\"$(repeat 129 n)\"")"
checksum_rule='checksum: must be {"sha256": 64 hex digits} or {"md5": 32 hex digits}'
command_error "createTask with bad sha256 checksum" createTask "$checksum_rule" \
	"$(create_with "\"checksum\":{\"sha256\":\"$(repeat 63 a)\"}")"
command_error "createTask with non-hex md5 checksum" createTask "$checksum_rule" \
	"$(create_with "\"checksum\":{\"md5\":\"$(repeat 32 z)\"}")"
command_error "createTask with two checksums" createTask "$checksum_rule" \
	"$(create_with "\"checksum\":{\"md5\":\"$(repeat 32 a)\",\"sha256\":\"$(repeat 64 a)\"}")"
command_error "createTask with size 0" createTask "size: must be a whole number from 1 to 9007199254740991" \
	"$(create_with '"size":0')"
start=$(($(e2e_now_ms) + 86400000))
command_error "createTask with endAt before startAt" createTask \
	"endAt $((start - 1000)): must be later than startAt and now" \
	"$(create_with "\"startAt\":$start,\"endAt\":$((start - 1000))")"
command_error "createTask with endAt in the past" createTask \
	"endAt 1000: must be later than startAt and now" "$(create_with '"endAt":1000')"
command_error "createTask with timeoutSeconds -1" createTask \
	"timeoutSeconds: must be a whole number from 0 to 31536000" "$(create_with '"timeoutSeconds":-1')"
command_error "createTask with maxRetries as text" createTask \
	"maxRetries: must be a whole number from 0 to 1000" "$(create_with '"maxRetries":"3"')"
command_error "createTask with abortFailurePercent 101" createTask \
	"abortFailurePercent: must be a whole number from 1 to 100" "$(create_with '"abortFailurePercent":101')"
command_error "createTask with abortMinFinished alone" createTask \
	"abortMinFinished: needs abortFailurePercent" "$(create_with '"abortMinFinished":5')"
command_error "createTask with force as text" createTask "force: must be true or false" \
	"$(create_with '"force":"yes"')"
command_error "createTask with taskId 0" createTask \
	"taskId: must be a whole number from 1 to 9007199254740991" "$(create_with '"taskId":0')"
command_error "createTask with taskId 2^53" createTask \
	"taskId: must be a whole number from 1 to 9007199254740991" "$(create_with '"taskId":9007199254740992')"
command_error "createTask with an existing taskId" createTask "taskId 26: already exists" \
	"$(create_with '"taskId":26')"

# --- admin: other commands ---
command_error "getTask without taskId" getTask "taskId: missing" '{"commands":[{"command":"getTask"}]}'
command_error "getTask of no task" getTask "taskId 999: no such task" \
	'{"commands":[{"command":"getTask","taskId":999}]}'
command_error "getTask with limit 1001" getTask "limit: must be a whole number from 1 to 1000" \
	'{"commands":[{"command":"getTask","taskId":26,"limit":1001}]}'
command_error "listTasks with unknown state" listTasks \
	"state: must be scheduled, running, finished, cancelled, aborted or expired" \
	'{"commands":[{"command":"listTasks","state":"bogus"}]}'
command_error "cancelTask with devices a string" cancelTask \
	"devices: must be a non-empty array of serial numbers" \
	'{"commands":[{"command":"cancelTask","taskId":26,"devices":"x"}]}'
command_error "cancelTask with an invalid device" cancelTask "devices[0]: $serial_rule" \
	'{"commands":[{"command":"cancelTask","taskId":26,"devices":["a#b"]}]}'
command_error "retryTask with statuses [3]" retryTask \
	"statuses: must be a non-empty array of 4 (FAILED) and 5 (STOP)" \
	'{"commands":[{"command":"retryTask","taskId":26,"statuses":[3]}]}'
command_error "getDevice with a wildcard serial" getDevice \
	"serialNumber: must be 1-64 characters without '/', '+' or '#'" \
	'{"commands":[{"command":"getDevice","serialNumber":"D+"}]}'
command_error "unknown command" dropTable 'command "dropTable": unknown command' \
	'{"commands":[{"command":"dropTable","taskId":26}]}'
command_error "command without a name" "(none)" 'command: must be an object with a "command" string' \
	'{"commands":[{"taskId":26}]}'
command_error "command that is a number" "(none)" 'command: must be an object with a "command" string' \
	'{"commands":[42]}'

# --- admin: whole requests ---
commands_rule='payload: must be a JSON object with a "commands" array'
request_rejected "commands an object" "$commands_rule" '{"commands":{"command":"getStats"}}'
request_rejected "commands missing" "$commands_rule" '{"command":"getStats"}'
request_rejected "request not JSON" "$commands_rule" 'getStats please'
request_rejected "request with text after it" "$commands_rule" \
	'{"commands":[{"command":"getStats"}]} {"commands":[{"command":"getStats"}]}'
request_rejected "request nested 9 levels" "payload: nested deeper than 8 levels" \
	'{"commands":[{"command":"getStats","x":[[[[[[[1]]]]]]]}]}'
request_rejected "request with invalid UTF-8" "payload: not valid UTF-8" \
	"$(printf '{"commands":[{"command":"getDevice","serialNumber":"\xc3\x28"}]}')"
payload=$(create_with "\"name\":\"$(repeat "$command_max" n)\"")
request_rejected "request of ${#payload} bytes" \
	"payload of ${#payload} bytes: at most $command_max allowed (plugin_opt_command_max_bytes)" \
	"$payload"
request_denied "getStats from a device" "$serial" '{"commands":[{"command":"getStats"}]}'
request_denied "createTask from the backend" "$backend" "$(create_with "")"
request_denied "getStats without username" "" '{"commands":[{"command":"getStats"}]}'

# ----------------------------------------------------------------------
# Running the table
# ----------------------------------------------------------------------

db_dir=$(e2e_make_db_dir db)
db="$db_dir/ota.db"
e2e_start_broker "$db" "plugin_opt_admin_users $admin,,ops" "plugin_opt_backend_users $backend" \
	"plugin_opt_command_max_bytes $command_max" "plugin_opt_log_burst 1000"
# Task 26 from the trace's `set`, sent by the backend, and its device at
# REPLY progress 50.
e2e_pub "$backend" "$set_topic" \
	"{\"taskId\":26,\"url\":\"$url\",\"version\":1.2,\"status\":1}" -u "$backend"
e2e_pub "$serial" "$reply_topic" '{"taskId":26,"progress":50,"version":"1.2","status":2}'
e2e_collect watch "/+/http/upgrade/reply" "/+/http/upgrade/set" "/+/ws/ota/status" \
	"+/ws/ota/status" "/+/ws/ota/summary" "+/ws/ota/summary"

# Prints how many messages on TOPIC the collector received in SEEN.
count_on() {
	PREFIX="$1 " awk 'index($0, ENVIRON["PREFIX"]) == 1 { n++ } END { print n + 0 }' <<<"$2"
}

e2e_say "running ${#names[@]} cases"
for i in "${!names[@]}"; do
	kind=${kinds[i]}
	name=${names[i]}
	client=${clients[i]}
	user=${users[i]}
	topic=${topics[i]}
	payload=${payloads[i]}
	user_args=()
	[[ -z "$user" ]] || user_args=(-u "$user")

	e2e_dump_db "$db" >"$E2E_DIR/before.sql"
	e2e_sync watch
	log_offset=$(e2e_log_size)

	if [[ "$kind" == control ]]; then
		response=$(sec_request "$payload" -i "$client" "${user_args[@]}" || true)
		e2e_assert_eq "$name: response error" "${errors[i]}" \
			"$(jq -r '.responses[0].error' <<<"$response" 2>/dev/null)"
		e2e_assert_log_has "$name: audit line" "$log_offset" \
			"ota: $user/$client ${logs[i]}"
	else
		e2e_pub "$client" "$topic" "$payload" "${user_args[@]}"
		e2e_assert_log_has "$name: reason logged" "$log_offset" "${logs[i]}"
	fi
	# Not in a subshell: e2e_since_sync keeps its position in variables.
	e2e_since_sync watch >"$E2E_DIR/seen"
	seen=$(cat "$E2E_DIR/seen")

	e2e_assert_eq "$name: status messages derived" 0 "$(count_on /26/ws/ota/status "$seen")"
	if [[ "$kind" == declined ]]; then
		e2e_assert_eq "$name: delivered" 1 "$(count_on "$topic" "$seen")"
	elif [[ "$kind" == dropped ]]; then
		e2e_assert_eq "$name: not delivered" 0 "$(count_on "$topic" "$seen")"
	fi
	e2e_dump_db "$db" >"$E2E_DIR/after.sql"
	e2e_assert_same_file "$name: database unchanged" "$E2E_DIR/before.sql" "$E2E_DIR/after.sql"
done

e2e_stop_broker
e2e_assert_eq "broker exit code after SIGTERM" 0 "$E2E_BROKER_RC"
e2e_finish
