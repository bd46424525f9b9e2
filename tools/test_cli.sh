#!/usr/bin/env bash
# End-to-end test of the mosquitto_ota command-line tool: starts a real
# mosquitto with the plugin on a free port of 127.0.0.1 and runs the tool
# against it. Nothing here connects anywhere but 127.0.0.1.
#
# Usage: tools/test_cli.sh [PLUGIN [CLI]]
# Defaults: build/mosquitto_ota.so and build/tools/mosquitto_ota in the
# repository. MOSQUITTO may name the broker binary. Exits 77 (skipped) when
# mosquitto is not installed.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PLUGIN=${1:-$ROOT/build/mosquitto_ota.so}
CLI=${2:-$ROOT/build/tools/mosquitto_ota}
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
WAIT_SECONDS=10

PASSED=0
FAILED=0
SKIPPED=0
PIDS=()

say() {
	printf '%s\n' "$*" >&2
}

die() {
	say "ERROR: $*"
	exit 1
}

cleanup() {
	local rc=$? pid

	set +e
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if ((rc != 0 && rc != 77)) && [[ -f "${TMP:-}/broker.log" ]]; then
		say "--- last lines of the broker log ---"
		tail -n 30 "$TMP/broker.log" >&2
	fi
	[[ -z "${TMP:-}" ]] || rm -rf "$TMP"
	exit "$rc"
}

[[ -x "$MOSQUITTO" ]] || { say "SKIP: mosquitto not found (package mosquitto)"; exit 77; }
[[ -f "$PLUGIN" ]] || die "plugin not found at $PLUGIN; build it first"
[[ -x "$CLI" ]] || die "mosquitto_ota not found at $CLI; build it first"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mosquitto-ota-cli.XXXXXX")
trap cleanup EXIT
# Started as root, mosquitto drops to user mosquitto before it loads
# plugins, and that user must be able to write the database folder.
chmod 0755 "$TMP"
mkdir "$TMP/db"
if ((EUID == 0)); then
	chown mosquitto "$TMP/db"
fi

# ======================================================================
# Checks
# ======================================================================

OUT=
ERR=
RC=

# Runs the tool with a timeout, keeping its stdout, stderr and exit status
# in OUT, ERR and RC: run ARG...
run() {
	RC=0
	timeout 30 "$CLI" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

pass() {
	PASSED=$((PASSED + 1))
	say "ok - $1"
}

fail() {
	FAILED=$((FAILED + 1))
	say "FAIL - $1"
	say "  exit status: $RC"
	say "  stdout: $(head -c 600 <<<"$OUT")"
	say "  stderr: $(head -c 600 <<<"$ERR")"
}

# check_exit NAME EXPECTED_STATUS
check_exit() {
	if [[ "$RC" == "$2" ]]; then pass "$1"; else fail "$1 (expected exit status $2)"; fi
}

# check_out NAME EXTENDED_REGEX: stdout matches
check_out() {
	if grep -E -q -- "$2" <<<"$OUT"; then pass "$1"; else fail "$1 (stdout should match: $2)"; fi
}

# check_err NAME EXTENDED_REGEX: stderr matches
check_err() {
	if grep -E -q -- "$2" <<<"$ERR"; then pass "$1"; else fail "$1 (stderr should match: $2)"; fi
}

# check_count NAME EXTENDED_REGEX COUNT: stdout has COUNT matching lines
check_count() {
	local count

	count=$(grep -E -c -- "$2" <<<"$OUT" || true)
	if [[ "$count" == "$3" ]]; then pass "$1"; else fail "$1 ($3 lines should match $2, not $count)"; fi
}

# ======================================================================
# Brokers
# ======================================================================

# Prints a port on 127.0.0.1 that nothing listens on right now.
free_port() {
	local port

	for _ in $(seq 1 100); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	die "no free port found on 127.0.0.1"
}

# Starts a broker from config lines on a free port and waits until it
# listens: start_broker NAME [CONFIG LINE...]. Sets PORT and BROKER_PID.
start_broker() {
	local name=$1 conf="$TMP/$1.conf" log="$TMP/$1.log" line

	shift
	for attempt in 1 2 3; do
		PORT=$(free_port)
		{
			echo "listener $PORT 127.0.0.1"
			echo "allow_anonymous true"
			echo "persistence false"
			for line in "$@"; do echo "$line"; done
		} >"$conf"
		: >"$log"
		"$MOSQUITTO" -c "$conf" 2>"$log" &
		BROKER_PID=$!
		PIDS+=("$BROKER_PID")
		for _ in $(seq 1 $((WAIT_SECONDS * 10))); do
			if grep -q "mosquitto version .* running" "$log" \
					&& (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
				return 0
			fi
			kill -0 "$BROKER_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$BROKER_PID" 2>/dev/null; then
			die "broker $name not ready on port $PORT after ${WAIT_SECONDS}s; see $log"
		fi
		grep -q "Address already in use" "$log" || { cat "$log" >&2; die "broker $name exited at start"; }
		say "port $PORT taken meanwhile, retrying (attempt $attempt)"
	done
	die "broker $name could not bind a free port"
}

start_broker broker \
	"plugin $PLUGIN" \
	"plugin_opt_db_path $TMP/db/ota.db" \
	"plugin_opt_admin_users admin"
OTA_PORT=$PORT
ADMIN=(-h 127.0.0.1 -p "$OTA_PORT" -u admin -W "$WAIT_SECONDS")

# ======================================================================
# getStats, authorization and connection failures
# ======================================================================

run "${ADMIN[@]}" get-stats
check_exit "get-stats as admin succeeds" 0
check_out "get-stats table shows accepted" '^accepted: +[0-9]+$'
check_out "get-stats table shows declined codes" '^  bad_progress: +[0-9]+$'

run "${ADMIN[@]}" get-stats --json
check_exit "get-stats --json succeeds" 0
check_out "get-stats --json has accepted" '"accepted":[[:space:]]*[0-9]+'

run "${ADMIN[@]}" getStats
check_exit "camelCase alias getStats works" 0

run -h 127.0.0.1 -p "$OTA_PORT" -u nobody -W "$WAIT_SECONDS" get-stats
check_exit "get-stats as non-admin fails" 1
check_err "non-admin gets not authorized" '^Error: not authorized'

run -h 127.0.0.1 -p "$OTA_PORT" -u admin -V mqttv311 -W "$WAIT_SECONDS" get-stats
check_exit "get-stats over MQTT 3.1.1 succeeds" 0

CLOSED_PORT=$(free_port)
run -h 127.0.0.1 -p "$CLOSED_PORT" -u admin -W "$WAIT_SECONDS" get-stats
check_exit "closed port exits 3" 3
check_err "closed port message names host and port" "127\\.0\\.0\\.1:$CLOSED_PORT"
check_err "closed port message gives the cause" 'Connection refused'

run frobnicate
check_exit "unknown command exits 2" 2
check_err "unknown command is named" 'unknown command "frobnicate"'

run get-task
check_exit "get-task without TASK_ID exits 2" 2

run "${ADMIN[@]}" create-task --version 1 --url /fw.bin --start-at 2026-02-30T00:00:00Z D1
check_exit "invalid ISO-8601 date exits 2" 2

run --help
check_exit "help exits 0" 0
check_out "help lists create-task" '^  create-task'

# ======================================================================
# Timeout: a broker without the plugin never responds
# ======================================================================

start_broker plain
run -h 127.0.0.1 -p "$PORT" -u admin -W 1 get-stats
check_exit "broker without plugin times out" 4
check_err "timeout message names the plugin" 'no response from the OTA plugin within 1 s'
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true

# ======================================================================
# Task commands
# ======================================================================

run "${ADMIN[@]}" create-task --task-id 42 --name cli-test --version 1.2 --url /fw.bin \
	--max-retries 1 --json D1 D2
if [[ "$RC" == 1 ]] && grep -q "unknown command" <<<"$ERR"; then
	SKIPPED=$((SKIPPED + 1))
	say "SKIP - task commands: the plugin answers createTask with \"unknown command\""
else
	check_exit "create-task succeeds" 0
	check_out "create-task returns the task id" '"taskId":[[:space:]]*42'
	check_out "create-task accepts both devices" '"accepted":[[:space:]]*2'

	RC=0
	printf 'D3\r\n\n# comment\n  D4  \n' \
		| timeout 30 "$CLI" "${ADMIN[@]}" create-task --task-id 43 --version 2.0.1 \
			--url /fw2.bin --devices-file - --json >"$TMP/out" 2>"$TMP/err" || RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
	check_exit "create-task from stdin succeeds" 0
	check_out "devices file skips blanks and comments" '"accepted":[[:space:]]*2'

	run "${ADMIN[@]}" create-task --task-id 44 --version 1 --url /fw.bin D1
	check_exit "busy device is not accepted" 1
	check_err "busy device error names the cause" 'busy'

	run "${ADMIN[@]}" get-task 42
	check_exit "get-task succeeds" 0
	check_out "get-task shows the name" '^name: +cli-test$'
	check_out "get-task shows the device table" '^  SERIAL +STATUS +PROGRESS'
	check_out "get-task rows show status name and code" '^  D1 +[A-Z]+ \([0-9]+\)'

	run "${ADMIN[@]}" get-task 42 --json --limit 1
	check_exit "get-task --limit succeeds" 0
	check_count "get-task --limit returns one row" '"serialNumber":' 1

	run "${ADMIN[@]}" getTask 999
	check_exit "get-task of missing task fails" 1
	check_err "missing task error" '^Error: taskId 999: no such task'

	run "${ADMIN[@]}" list-tasks
	check_exit "list-tasks succeeds" 0
	check_out "list-tasks header" '^  TASK +NAME +VERSION +STATE +TOTAL'
	check_out "list-tasks shows task 42" '^ +42 +cli-test +1\.2 +[a-z]+ +2 '
	check_out "list-tasks shows task 43" '^ +43 +- +2\.0\.1 '

	run "${ADMIN[@]}" list-tasks --state bogus
	check_exit "list-tasks with invalid state fails" 1

	run "${ADMIN[@]}" cancel-task 42 D1 --json
	check_exit "cancel-task of one device succeeds" 0
	check_out "cancel-task cancels one device" '"cancelled":[[:space:]]*1'

	run "${ADMIN[@]}" cancel-task 42
	check_exit "cancel-task of the task succeeds" 0

	run "${ADMIN[@]}" get-task 42 --json
	check_out "cancelled task has state cancelled" '"state":[[:space:]]*"cancelled"'

	run "${ADMIN[@]}" retry-task 43 --statuses failed,stop --json
	check_exit "retry-task succeeds" 0
	check_out "retry-task reports requeued" '"requeued":[[:space:]]*[0-9]+'

	run "${ADMIN[@]}" get-device D1
	check_exit "get-device succeeds" 0
	check_out "get-device shows the serial" '^serial number: +D1$'
	check_out "get-device shows history of task 42" '^ +42 +[A-Z]+ \([0-9]+\)'
fi

printf '%s passed, %s failed, %s skipped\n' "$PASSED" "$FAILED" "$SKIPPED"
((FAILED == 0))
