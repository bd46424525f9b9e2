#!/usr/bin/env bash
# The secure setup of mosquitto.conf.example and mosquitto.acl.example, run
# as shipped with only ports and file paths replaced: every account may do
# its job and nothing else. A device reports only for itself, the backend's
# `set` is tracked, dashboards only read, and only the admin account
# reaches the admin API. Clients without a valid login, or without the
# CA's certificate on the TLS listener, are refused.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=test/e2e/security_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/security_lib.sh"

e2e_init
sec_require openssl openssl
sec_require mosquitto_passwd mosquitto
sec_require mosquitto_rr mosquitto-clients

sec_start_example example
db="$E2E_DIR/example/db/ota.db"
device_topic="/$SEC_DEVICE/http/upgrade/reply"
other_topic="/$SEC_OTHER_DEVICE/http/upgrade/reply"
set_payload='{"taskId":26,"url":"/profile/iot/1/2024-0824-001954.bin","version":1.2,"status":1}'

# Publishes at QoS 1 as USER and waits for the acknowledgement. Options
# after PAYLOAD go to mosquitto_pub: publish_as USER TOPIC PAYLOAD [option...]
publish_as() {
	local user=$1 topic=$2 payload=$3 login=()

	shift 3
	mapfile -t login < <(sec_login "$user")
	timeout "$E2E_TIMEOUT" mosquitto_pub -h 127.0.0.1 -p "$E2E_PORT" -q 1 \
		-i "e2e-$user-$$" "${login[@]}" -t "$topic" -m "$payload" "$@" \
		|| e2e_die "mosquitto_pub as $user on '$topic' failed"
}

# Starts `mosquitto_sub -d -v` as USER on TOPICs, writing to
# $E2E_DIR/NAME.out, and waits for its SUBACK: subscribe_as NAME USER TOPIC...
declare -A subscriber_pid=()
subscribe_as() {
	local name=$1 user=$2 topic args=() login=()

	shift 2
	mapfile -t login < <(sec_login "$user")
	for topic in "$@"; do
		args+=(-t "$topic")
	done
	stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$E2E_PORT" -q 1 -d -v -i "e2e-sub-$name-$$" \
		"${login[@]}" "${args[@]}" >"$E2E_DIR/$name.out" 2>&1 &
	subscriber_pid[$name]=$!
	E2E_PIDS+=("$!")
	for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
		grep -a -q "^Subscribed" "$E2E_DIR/$name.out" && return 0
		sleep 0.1
	done
	e2e_die "subscriber $name got no SUBACK: $(cat "$E2E_DIR/$name.out")"
}

# Prints the messages subscriber NAME received whose topic matches the
# extended regular expression TOPIC_RE, as "topic payload" lines.
messages_of() {
	grep -a -E "^($2) " "$E2E_DIR/$1.out" || true
}

# Waits until subscriber NAME has COUNT messages on TOPIC_RE.
wait_messages() {
	local name=$1 count=$2 topic_re=$3

	for _ in $(seq 1 $((E2E_TIMEOUT * 20))); do
		(($(messages_of "$name" "$topic_re" | wc -l) >= count)) && return 0
		sleep 0.05
	done
	e2e_fail "subscriber $name: fewer than $count messages on $topic_re"
}

status_of() {
	messages_of dashboard '/26/ws/ota/status' | sed 's/^[^ ]* //' \
		| jq -c '[.serialNumber, .status, .progress]'
}

# ----------------------------------------------------------------------
# Logins
# ----------------------------------------------------------------------

rc=0
timeout "$E2E_TIMEOUT" mosquitto_pub -h 127.0.0.1 -p "$E2E_PORT" -q 1 -i "e2e-anon-$$" \
	-t e2e/x -m x 2>/dev/null || rc=$?
e2e_assert_eq "anonymous client refused" refused "$( ((rc != 0)) && echo refused || echo accepted)"
rc=0
timeout "$E2E_TIMEOUT" mosquitto_pub -h 127.0.0.1 -p "$E2E_PORT" -q 1 -i "e2e-wrong-$$" \
	-u "$SEC_ADMIN" -P wrong-password -t e2e/x -m x 2>/dev/null || rc=$?
e2e_assert_eq "wrong password refused" refused "$( ((rc != 0)) && echo refused || echo accepted)"
rc=0
mapfile -t device_login < <(sec_login "$SEC_DEVICE")
timeout "$E2E_TIMEOUT" mosquitto_pub -h 127.0.0.1 -p "$SEC_TLS_PORT" -q 1 -i "e2e-notls-$$" \
	"${device_login[@]}" --capath /nonexistent -t e2e/x -m x 2>/dev/null || rc=$?
e2e_assert_eq "TLS listener refuses an unknown CA" refused \
	"$( ((rc != 0)) && echo refused || echo accepted)"

# ----------------------------------------------------------------------
# What each account may do
# ----------------------------------------------------------------------

subscribe_as dashboard "$SEC_DASHBOARD" /+/ws/ota/status /+/ws/ota/summary
subscribe_as device "$SEC_DEVICE" "/$SEC_DEVICE/http/upgrade/set" --cafile "$SEC_CAFILE"
subscribe_as backend "$SEC_BACKEND" /+/http/upgrade/reply
# Mosquitto 2.0 grants the subscription but delivers nothing the ACL
# does not let the account read.
subscribe_as peek "$SEC_DASHBOARD" /+/http/upgrade/reply "/$SEC_DEVICE/http/upgrade/set"

publish_as "$SEC_BACKEND" "/$SEC_DEVICE/http/upgrade/set" "$set_payload"
wait_messages dashboard 2 '/26/ws/ota/status'
# The device reports over TLS, checking the broker's certificate.
publish_as "$SEC_DEVICE" "$device_topic" '{"taskId":26,"progress":50,"version":"1.2","status":2}' \
	-p "$SEC_TLS_PORT" --cafile "$SEC_CAFILE"
wait_messages dashboard 3 '/26/ws/ota/status'

# ----------------------------------------------------------------------
# What no account may do: the ACL stops each before the plugin receives it
# ----------------------------------------------------------------------

publish_as "$SEC_DEVICE" "$other_topic" '{"taskId":26,"progress":90,"status":2}'
publish_as "$SEC_OTHER_DEVICE" "$device_topic" '{"taskId":26,"progress":90,"status":2}'
publish_as "$SEC_DEVICE" "/$SEC_DEVICE/http/upgrade/set" '{"taskId":27,"url":"/evil.bin","version":9,"status":1}'
publish_as "$SEC_DEVICE" /26/ws/ota/status '{"serialNumber":"D1832O34Z5M1","status":3,"timestamp":1}'
publish_as "$SEC_DASHBOARD" /26/ws/ota/status '{"serialNumber":"D1832O34Z5M1","status":3,"timestamp":1}'
publish_as "$SEC_DASHBOARD" /26/ws/ota/summary '{"taskId":26,"state":"finished"}'
publish_as "$SEC_BACKEND" /26/ws/ota/status '{"serialNumber":"D1832O34Z5M1","status":4,"timestamp":1}'

stats='{"commands":[{"command":"getStats","correlationData":"e2e"}]}'
for user in "$SEC_DEVICE" "$SEC_BACKEND" "$SEC_DASHBOARD"; do
	mapfile -t login < <(sec_login "$user")
	response=$(E2E_TIMEOUT=2 sec_request "$stats" -i "e2e-rr-$user-$$" \
		"${login[@]}" 2>/dev/null || true)
	e2e_assert_eq "admin API closed to $user" "" "$response"
done

# ----------------------------------------------------------------------
# The admin account reaches the admin API, and nothing above reached the
# plugin
# ----------------------------------------------------------------------

mapfile -t login < <(sec_login "$SEC_ADMIN")
log_offset=$(e2e_log_size)
response=$(sec_request "$stats" -i "e2e-rr-admin-$$" "${login[@]}" || true)
e2e_assert_eq "getStats by the admin: correlation data" e2e \
	"$(jq -r '.responses[0].correlationData' <<<"$response" 2>/dev/null)"
e2e_assert_eq "plugin saw no reply for another device" 0 \
	"$(jq -r '.responses[0].data.declined.identity' <<<"$response" 2>/dev/null)"
e2e_assert_eq "plugin saw no client publish on dashboard topics" 0 \
	"$(jq -r '.responses[0].data.declined.reserved_topic' <<<"$response" 2>/dev/null)"
e2e_assert_eq "plugin saw no untrusted set" 0 \
	"$(jq -r '.responses[0].data.declined.not_backend' <<<"$response" 2>/dev/null)"
e2e_assert_log_has "admin command audited" "$log_offset" \
	"ota: $SEC_ADMIN/e2e-rr-admin-$$ | getStats | ok"

# Markers: a later reply and `set` arrive after anything the denied
# publishes could have caused.
publish_as "$SEC_DEVICE" "$device_topic" '{"taskId":26,"progress":60,"version":"1.2","status":2}'
publish_as "$SEC_BACKEND" "/$SEC_DEVICE/http/upgrade/set" "$set_payload"
wait_messages dashboard 5 '/26/ws/ota/status'
wait_messages device 2 "/$SEC_DEVICE/http/upgrade/set"
wait_messages backend 2 '/[^ ]*/http/upgrade/reply'

e2e_assert_eq "dashboard: status events, and only the plugin's" \
	"$(printf '%s\n' '["D1832O34Z5M1",0,null]' '["D1832O34Z5M1",1,null]' \
		'["D1832O34Z5M1",2,50]' '["D1832O34Z5M1",2,60]' '["D1832O34Z5M1",1,null]')" \
	"$(status_of)"
e2e_assert_eq "dashboard: summaries come from the plugin only" "" \
	"$(messages_of dashboard '/26/ws/ota/summary' | grep -v '"total"' || true)"
e2e_assert_eq "device: only the backend's set messages" \
	"$(printf '%s\n' "/$SEC_DEVICE/http/upgrade/set $set_payload" "/$SEC_DEVICE/http/upgrade/set $set_payload")" \
	"$(messages_of device "/$SEC_DEVICE/http/upgrade/set")"
e2e_assert_eq "backend: only the device's own replies" \
	"$(printf '%s\n' \
		"$device_topic {\"taskId\":26,\"progress\":50,\"version\":\"1.2\",\"status\":2}" \
		"$device_topic {\"taskId\":26,\"progress\":60,\"version\":\"1.2\",\"status\":2}")" \
	"$(messages_of backend '/[^ ]*/http/upgrade/reply')"
e2e_assert_eq "dashboard may not read replies or set messages" "" \
	"$(messages_of peek '/[^ ]*/http/upgrade/(reply|set)')"

# With plugin_opt_watch_subscribe, a device that only connected and
# subscribed to its `set` topic counts as online: a new task pushes to it
# at once instead of stopping it as offline.
subscribe_as quiet "$SEC_OTHER_DEVICE" "/$SEC_OTHER_DEVICE/http/upgrade/set"
create='{"commands":[{"command":"createTask","taskId":40,"version":"3.0","url":"/fw/3.0.bin","devices":["'"$SEC_OTHER_DEVICE"'"]}]}'
mapfile -t login < <(sec_login "$SEC_ADMIN")
response=$(sec_request "$create" -i "e2e-rr-create-$$" "${login[@]}" || true)
e2e_assert_eq "createTask for a device that only subscribed" 1 \
	"$(jq -r '.responses[0].data.accepted' <<<"$response" 2>/dev/null)"
wait_messages quiet 1 "/$SEC_OTHER_DEVICE/http/upgrade/set"
e2e_assert_eq "push to the device that only subscribed" \
	"/$SEC_OTHER_DEVICE/http/upgrade/set {\"taskId\":40,\"url\":\"/fw/3.0.bin\",\"version\":\"3.0\",\"status\":1}" \
	"$(messages_of quiet "/$SEC_OTHER_DEVICE/http/upgrade/set")"

# A dashboard that connects later gets the retained summary.
mapfile -t login < <(sec_login "$SEC_DASHBOARD")
summary=$(timeout "$E2E_TIMEOUT" mosquitto_sub -h 127.0.0.1 -p "$E2E_PORT" -i "e2e-late-$$" \
	"${login[@]}" -t /26/ws/ota/summary -C 1 -W 5 2>/dev/null || true)
e2e_assert_eq "retained summary for a late dashboard: taskId" 26 \
	"$(jq -r .taskId <<<"$summary" 2>/dev/null)"

e2e_stop_broker
e2e_assert_eq "broker exit code after SIGTERM" 0 "$E2E_BROKER_RC"
e2e_assert_eq "history of the device" "1|
2|50
1|" "$(e2e_sqlite "$db" "SELECT status, progress FROM history WHERE serial = '$SEC_DEVICE' ORDER BY id")"
e2e_assert_eq "no task 27 from the device's set" 0 \
	"$(e2e_sqlite "$db" "SELECT count(*) FROM task WHERE id = 27")"
e2e_finish
