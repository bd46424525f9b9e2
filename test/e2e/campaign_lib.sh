# shellcheck shell=bash
# Helpers for the campaign tests (test/e2e/campaign_*.sh): the admin API
# through the mosquitto_ota tool or mosquitto_rr, simulated devices that
# come online and reply to pushes, and readers of the status stream. Source
# this file from a bash script that runs with `set -euo pipefail`; it
# sources lib.sh.
#
# Inputs, all optional, taken from the environment besides lib.sh's:
#   OTA_CLI  the mosquitto_ota tool (default: build/tools/mosquitto_ota)
#
# A simulated device is four processes, all children of the test script:
#   - a collector (e2e_collect) named set-SERIAL on /SERIAL/http/upgrade/set;
#   - `mosquitto_pub -l` on e2e/hello/SERIAL, which brings the device online
#     when a line is written to its FIFO;
#   - `mosquitto_pub -l` on /SERIAL/http/upgrade/reply for the replies;
#   - a responder loop that reads new `set` messages and writes replies to
#     the reply FIFO as the device's mode sets.
# Both publishers log in with the serial number as username, which the
# `auto` identity accepts, and each has a client id of its own. They stay
# connected, because on Mosquitto 2.0 a device counts as online from its
# first publish until that connection closes. A client that publishes and
# disconnects, such as a plain `mosquitto_pub -m`, would take the device
# offline again when it leaves.

# The CAMPAIGN_ variables set here are read by the scripts that source this
# file.
# shellcheck disable=SC2034

# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OTA_CLI=${OTA_CLI:-$E2E_ROOT/build/tools/mosquitto_ota}
CAMPAIGN_ADMIN="admin"
# Seconds a responder loop runs at most; tests stop it long before.
CAMPAIGN_DEVICE_LIFETIME=${CAMPAIGN_DEVICE_LIFETIME:-240}
# Seconds mosquitto_ota waits for a response (its -W option).
CAMPAIGN_CLI_WAIT=$E2E_TIMEOUT

CAMPAIGN_RC=
CAMPAIGN_OUT=
CAMPAIGN_ERR=
CAMPAIGN_HELLOS=0
CAMPAIGN_DEVICES=()
# Per serial number: the collector and responder, and the publishers.
declare -A CAMPAIGN_DEVICE_PIDS=()
declare -A CAMPAIGN_PUBLISHER_PIDS=()

# ======================================================================
# Set-up
# ======================================================================

# Runs e2e_init and checks the command-line tool and mosquitto_rr.
campaign_init() {
	e2e_init
	command -v mosquitto_rr >/dev/null || {
		e2e_say "missing tools: mosquitto_rr (package mosquitto-clients)"
		exit "$E2E_SKIP"
	}
	[[ -x "$OTA_CLI" ]] || e2e_die "mosquitto_ota not found at $OTA_CLI: build the target" \
		"mosquitto_ota_cli first, or set OTA_CLI"
}

# Starts a broker with the plugin, a fresh database in the folder
# $E2E_DIR/NAME and the user admin in plugin_opt_admin_users. Extra
# arguments are configuration lines: campaign_start_broker NAME [LINE...]
# Sets CAMPAIGN_DB.
campaign_start_broker() {
	local dir

	dir=$(e2e_make_db_dir "$1")
	shift
	CAMPAIGN_DB="$dir/ota.db"
	e2e_start_broker "$CAMPAIGN_DB" "plugin_opt_admin_users $CAMPAIGN_ADMIN" "$@"
}

# ======================================================================
# Admin API
# ======================================================================

# Runs mosquitto_ota as USER against the broker ("" connects without a
# username) and keeps its exit code, stdout and stderr in CAMPAIGN_RC,
# CAMPAIGN_OUT and CAMPAIGN_ERR: campaign_cli_as USER ARG...
campaign_cli_as() {
	local user=$1 login=()

	shift
	[[ -z "$user" ]] || login=(-u "$user")
	CAMPAIGN_RC=0
	timeout $((CAMPAIGN_CLI_WAIT + 5)) "$OTA_CLI" -h 127.0.0.1 -p "$E2E_PORT" "${login[@]}" \
		-W "$CAMPAIGN_CLI_WAIT" "$@" >"$E2E_DIR/cli.out" 2>"$E2E_DIR/cli.err" </dev/null \
		|| CAMPAIGN_RC=$?
	CAMPAIGN_OUT=$(cat "$E2E_DIR/cli.out")
	CAMPAIGN_ERR=$(cat "$E2E_DIR/cli.err")
}

# Runs mosquitto_ota as the admin: campaign_cli ARG...
campaign_cli() {
	campaign_cli_as "$CAMPAIGN_ADMIN" "$@"
}

# Runs mosquitto_ota as the admin with --json and prints the response's
# data. Stops the script when the command fails, because every later
# check would read a missing response: campaign_json ARG...
campaign_json() {
	campaign_cli --json "$@"
	((CAMPAIGN_RC == 0)) || e2e_die "mosquitto_ota $* exited with $CAMPAIGN_RC: $CAMPAIGN_ERR"
	printf '%s\n' "$CAMPAIGN_OUT"
}

# Sends one admin command object as USER ("" for none) with mosquitto_rr
# and prints the whole response payload: campaign_api USER COMMAND_JSON
campaign_api() {
	local user=$1 command=$2 login=() payload

	[[ -z "$user" ]] || login=(-u "$user")
	payload=$(jq -c '{commands: [.]}' <<<"$command")
	# shellcheck disable=SC2016 # $CONTROL is part of the topic, not a variable.
	timeout $((E2E_TIMEOUT + 5)) mosquitto_rr -h 127.0.0.1 -p "$E2E_PORT" "${login[@]}" \
		-i "e2e-rr-$$" -t '$CONTROL/ota/v1' -e '$CONTROL/ota/v1/response' \
		-m "$payload" -W "$E2E_TIMEOUT" \
		|| e2e_die "mosquitto_rr got no response to $command"
}

# Prints the value of the jq FILTER applied to `get-task TASK --json`:
# campaign_task TASK FILTER [get-task option...]
campaign_task() {
	local task=$1 filter=$2

	shift 2
	campaign_json get-task "$task" "$@" | jq -r "$filter"
}

# Waits until the task's state is STATE, for at most E2E_TIMEOUT seconds.
# Returns 1 on time-out: campaign_wait_task_state TASK STATE
campaign_wait_task_state() {
	local task=$1 state=$2

	for _ in $(seq 1 $((E2E_TIMEOUT * 5))); do
		if [[ "$(campaign_task "$task" .state --limit 1)" == "$state" ]]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# ======================================================================
# Simulated devices
# ======================================================================

# Writes one line to a device FIFO. The publisher keeps the FIFO open for
# reading and writing, so this never blocks and the publisher never reads
# the end of its input.
campaign__write_fifo() {
	printf '%s\n' "$2" >"$1"
}

# Publishes a reply as device SERIAL on /SERIAL/http/upgrade/reply over
# its long-lived connection: campaign_device_reply SERIAL PAYLOAD
campaign_device_reply() {
	campaign__write_fifo "$E2E_DIR/device-$1.reply" "$2"
}

# Sets how device SERIAL replies to the pushes it receives from now on, and
# how many seconds it waits before it replies (default 0):
#   silent   no reply
#   success  progress 50, then status 3 with the pushed version
#   fail     status 4 with the message "flash write failed"
# campaign_device_mode SERIAL MODE [DELAY]
campaign_device_mode() {
	printf '%s %s\n' "$2" "${3:-0}" >"$E2E_DIR/device-$1.mode.tmp"
	mv "$E2E_DIR/device-$1.mode.tmp" "$E2E_DIR/device-$1.mode"
}

# Replies to one `set` payload as MODE would after DELAY seconds (see
# campaign_device_mode): campaign__answer SERIAL PAYLOAD MODE DELAY
campaign__answer() {
	local serial=$1 payload=$2 mode=$3 delay=$4 task version

	[[ "$mode" != silent ]] || return 0
	task=$(jq -r '.taskId' <<<"$payload" 2>/dev/null) || return 0
	version=$(jq -c '.version | tostring' <<<"$payload" 2>/dev/null) || return 0
	[[ "$delay" == 0 ]] || sleep "$delay"
	case "$mode" in
		success)
			campaign_device_reply "$serial" \
				"{\"taskId\":$task,\"progress\":50,\"version\":$version,\"status\":2}"
			campaign_device_reply "$serial" \
				"{\"taskId\":$task,\"progress\":100,\"version\":$version,\"status\":3}"
			;;
		fail)
			campaign_device_reply "$serial" \
				"{\"taskId\":$task,\"version\":$version,\"status\":4,\"msg\":\"flash write failed\"}"
			;;
	esac
}

# Replies to the last push device SERIAL received as MODE would, now:
# campaign_device_answer SERIAL MODE
campaign_device_answer() {
	local payload

	payload=$(campaign_device_sets "$1" | tail -n 1)
	[[ -n "$payload" ]] || e2e_die "device $1 has received no push to reply to"
	campaign__answer "$1" "$payload" "$2" 0
}

# The responder loop of device SERIAL: reads the `set` messages its
# collector appends to set-SERIAL.out and replies to each. It runs for at most
# CAMPAIGN_DEVICE_LIFETIME seconds.
campaign__respond() {
	local serial=$1 topic_prefix="/$1/http/upgrade/set " chunk line pending="" mode delay
	local end=$((SECONDS + CAMPAIGN_DEVICE_LIFETIME))

	set +e
	exec 3<"$E2E_DIR/set-$serial.out"
	while ((SECONDS < end)); do
		chunk=
		if IFS= read -r chunk <&3; then
			line=$pending$chunk
			pending=
			if [[ "$line" == "$topic_prefix"* ]] \
					&& read -r mode delay <"$E2E_DIR/device-$serial.mode"; then
				campaign__answer "$serial" "${line#"$topic_prefix"}" "$mode" "$delay"
			fi
		else
			# A read at the end of the file returns what there is of an
			# unfinished line; the rest comes with a later read.
			pending+=$chunk
			sleep 0.05
		fi
	done
}

# Starts the two publishers of device SERIAL (see the top of this file).
# They connect at once but do not publish, so the device is still offline:
# campaign_device_connect SERIAL
campaign_device_connect() {
	local serial=$1 kind fifo topic

	CAMPAIGN_PUBLISHER_PIDS[$serial]=
	for kind in hello reply; do
		fifo="$E2E_DIR/device-$serial.$kind"
		rm -f "$fifo"
		mkfifo "$fifo"
		if [[ "$kind" == hello ]]; then
			topic="e2e/hello/$serial"
		else
			topic="/$serial/http/upgrade/reply"
		fi
		mosquitto_pub -h 127.0.0.1 -p "$E2E_PORT" -q 1 -l -i "$serial-$kind" -u "$serial" \
			-t "$topic" 0<>"$fifo" >/dev/null 2>"$E2E_DIR/device-$serial.$kind.err" &
		E2E_PIDS+=("$!")
		CAMPAIGN_PUBLISHER_PIDS[$serial]+=" $!"
	done
}

# Stops the publishers of device SERIAL, which closes their connections
# and takes the device offline: campaign_device_disconnect SERIAL
campaign_device_disconnect() {
	local pid

	for pid in ${CAMPAIGN_PUBLISHER_PIDS[$1]:-}; do
		e2e_stop_pid "$pid"
	done
	CAMPAIGN_PUBLISHER_PIDS[$1]=
}

# Starts a simulated device, offline and subscribed to its pushes, that
# replies in MODE (default success, see campaign_device_mode):
# campaign_device_start SERIAL [MODE [DELAY]]
campaign_device_start() {
	local serial=$1

	campaign_device_mode "$serial" "${2:-success}" "${3:-0}"
	e2e_collect "set-$serial" "/$serial/http/upgrade/set"
	CAMPAIGN_DEVICE_PIDS[$serial]=${E2E_COLLECTOR_PID[set-$serial]}
	campaign_device_connect "$serial"
	campaign__respond "$serial" &
	E2E_PIDS+=("$!")
	CAMPAIGN_DEVICE_PIDS[$serial]+=" $!"
	CAMPAIGN_DEVICES+=("$serial")
}

# Brings device SERIAL online: it publishes on e2e/hello/SERIAL, which is no
# topic of the plugin's. Returns once the broker delivered that message,
# after the plugin's message callback saw it. The plugin pushes what waits
# for the device on its next tick: campaign_device_online SERIAL
campaign_device_online() {
	local serial=$1 marker

	[[ -n "${CAMPAIGN_PUBLISHER_PIDS[$serial]:-}" ]] \
		|| e2e_die "device $serial is disconnected; run campaign_device_connect first"
	if [[ -z "${E2E_COLLECTOR_PID[hello]:-}" ]]; then
		e2e_collect hello "e2e/hello/+"
	fi
	CAMPAIGN_HELLOS=$((CAMPAIGN_HELLOS + 1))
	marker="e2e/hello/$serial hello-$CAMPAIGN_HELLOS"
	campaign__write_fifo "$E2E_DIR/device-$serial.hello" "hello-$CAMPAIGN_HELLOS"
	for _ in $(seq 1 $((E2E_TIMEOUT * 20))); do
		if grep -a -q -x -F "$marker" "$E2E_DIR/hello.out"; then
			return 0
		fi
		sleep 0.05
	done
	e2e_die "device $serial: its hello did not come back within ${E2E_TIMEOUT}s:" \
		"$(cat "$E2E_DIR/device-$serial.hello.err")"
}

# Starts devices and brings them online: campaign_devices_online MODE SERIAL...
campaign_devices_online() {
	local mode=$1 serial

	shift
	for serial in "$@"; do
		campaign_device_start "$serial" "$mode"
	done
	for serial in "$@"; do
		campaign_device_online "$serial"
	done
}

# Prints the `set` payloads device SERIAL received, one a line.
campaign_device_sets() {
	local topic_prefix="/$1/http/upgrade/set "

	PREFIX="$topic_prefix" awk 'index($0, ENVIRON["PREFIX"]) == 1 {
		print substr($0, length(ENVIRON["PREFIX"]) + 1) }' "$E2E_DIR/set-$1.out"
}

# Waits until device SERIAL received at least COUNT pushes. Returns 1 on
# time-out: campaign_wait_sets SERIAL COUNT
campaign_wait_sets() {
	e2e_wait_lines "set-$1" "$2" "/$1/http/upgrade/set"
}

# Stops every simulated device, for example before the broker stops:
# Mosquitto's clients reconnect on their own, and must not find another
# test's broker on the same port.
campaign_devices_stop() {
	local serial pid

	for serial in "${CAMPAIGN_DEVICES[@]}"; do
		campaign_device_disconnect "$serial"
		for pid in ${CAMPAIGN_DEVICE_PIDS[$serial]}; do
			e2e_stop_pid "$pid"
		done
		unset 'E2E_COLLECTOR_PID[set-'"$serial"']'
	done
	CAMPAIGN_DEVICES=()
	CAMPAIGN_DEVICE_PIDS=()
	CAMPAIGN_PUBLISHER_PIDS=()
	if [[ -n "${E2E_COLLECTOR_PID[hello]:-}" ]]; then
		e2e_stop_collector hello
		unset 'E2E_COLLECTOR_PID[hello]'
	fi
}

# ======================================================================
# Status stream
# ======================================================================

# Prints the status events of device SERIAL that the collector NAME got on
# /TASK/ws/ota/status, one a line: the status, "/progress" when present,
# ":message" when present. Example: 0, 1, 2/50, 3, 4:timed out.
# campaign_events NAME TASK SERIAL
campaign_events() {
	local topic_prefix="/$2/ws/ota/status "

	PREFIX="$topic_prefix" awk 'index($0, ENVIRON["PREFIX"]) == 1 {
		print substr($0, length(ENVIRON["PREFIX"]) + 1) }' "$E2E_DIR/$1.out" \
		| jq -r --arg serial "$3" 'select(.serialNumber == $serial)
			| (.status | tostring)
			+ (if has("progress") then "/\(.progress)" else "" end)
			+ (if has("message") then ":\(.message)" else "" end)'
}

# Prints the events of campaign_events joined with commas: "0,1,2/50,3".
campaign_event_list() {
	campaign_events "$@" | paste -s -d, -
}

# Waits until the events of device SERIAL contain EVENT at least COUNT times
# (default 1). Returns 1 on time-out:
# campaign_wait_event NAME TASK SERIAL EVENT [COUNT]
campaign_wait_event() {
	local name=$1 task=$2 serial=$3 event=$4 count=${5:-1} seen

	for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
		seen=$(campaign_events "$name" "$task" "$serial" | grep -c -x -F -- "$event" || true)
		if ((seen >= count)); then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# Like campaign_wait_event, but records a failure on time-out and shows
# the events seen: campaign_expect_event NAME TASK SERIAL EVENT [COUNT]
campaign_expect_event() {
	if ! campaign_wait_event "$@"; then
		e2e_fail "$3: no event '$4' (x${5:-1}) within ${E2E_TIMEOUT}s"
		e2e_say "  events: $(campaign_event_list "$1" "$2" "$3")"
	fi
}

# Prints the latest summary of TASK that the collector NAME got on
# /TASK/ws/ota/summary, or nothing: campaign_last_summary NAME TASK
campaign_last_summary() {
	local topic_prefix="/$2/ws/ota/summary "

	PREFIX="$topic_prefix" awk 'index($0, ENVIRON["PREFIX"]) == 1 {
		last = substr($0, length(ENVIRON["PREFIX"]) + 1) } END { print last }' \
		"$E2E_DIR/$1.out"
}

# Waits until the jq FILTER applied to the latest summary of TASK prints
# EXPECTED, and records a failure on time-out. Summaries are coalesced, so
# the latest one may lag the events by a fraction of a second:
# campaign_expect_summary NAME TASK FILTER EXPECTED
campaign_expect_summary() {
	local name=$1 task=$2 filter=$3 expected_value=$4 actual_value=""

	for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
		actual_value=$(campaign_last_summary "$name" "$task" | jq -r "$filter" 2>/dev/null || true)
		[[ "$actual_value" != "$expected_value" ]] || return 0
		sleep 0.1
	done
	e2e_fail "summary of task $task: $filter"
	e2e_say "  expected: $expected_value"
	e2e_say "  actual:   $actual_value"
	e2e_say "  summary:  $(campaign_last_summary "$name" "$task")"
}
