# Shared helpers for the end-to-end tests and tools/demo.sh. Source this
# file from a bash script that runs with `set -euo pipefail`.
#
# Each script gets its own temporary folder, a free port on 127.0.0.1 and a
# fresh database, so scripts can run in parallel. Every wait is bounded,
# most by E2E_TIMEOUT seconds (default 10). Nothing here connects anywhere
# but 127.0.0.1.
#
# Inputs, all optional, taken from the environment:
#   OTA_PLUGIN    the plugin (default: build/mosquitto_ota.so in the repository)
#   OTA_FIXTURES  the fixtures folder (default: test/fixtures in the repository)
#   MOSQUITTO     the broker binary (default: mosquitto from PATH or /usr/sbin)
#   OTA_PRELOAD   the AddressSanitizer runtime to preload into the broker
#                 (default: the libasan the plugin links, if any)
#   E2E_KEEP=1    keep the temporary folder and print where it is

# The E2E_ variables set here are read by the scripts that source this file.
# shellcheck disable=SC2034

# Everything below treats text as bytes: replies with invalid UTF-8 are
# among the cases.
export LC_ALL=C

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OTA_PLUGIN=${OTA_PLUGIN:-$E2E_ROOT/build/mosquitto_ota.so}
OTA_FIXTURES=${OTA_FIXTURES:-$E2E_ROOT/test/fixtures}
E2E_TIMEOUT=${E2E_TIMEOUT:-10}
# Exit code when a tool is missing. ctest reports 77 as a skipped test
# (SKIP_RETURN_CODE), and tools/demo.sh sets 1.
E2E_SKIP=${E2E_SKIP:-77}

E2E_DIR=
E2E_FAILURES=0
E2E_PIDS=()
E2E_BROKER_PID=
E2E_BROKER_RC=
E2E_PORT=
E2E_CONF=
E2E_LOG=
E2E_LOG_OFFSET=0
declare -A E2E_COLLECTOR_PID=()
declare -A E2E_COLLECTOR_MARK=()
E2E_MARKERS=0
# Words put before the broker's command, such as a valgrind command line.
# A script sets it after sourcing this file. When it stays empty and the
# plugin is built with AddressSanitizer, e2e_launch_broker preloads the
# ASan runtime instead (see e2e_broker_prefix).
E2E_BROKER_PREFIX=()
E2E_ASAN_RUNTIME=

# ======================================================================
# Reporting
# ======================================================================

e2e_say() {
	printf '%s\n' "$*" >&2
}

# Stops the script at once: for broken set-ups, not for failed checks.
e2e_die() {
	e2e_say "ERROR: $*"
	exit 1
}

# Records a failed check and goes on, so one run reports every failure.
e2e_fail() {
	E2E_FAILURES=$((E2E_FAILURES + 1))
	e2e_say "FAIL: $*"
}

e2e_assert_eq() {
	local name=$1 expected=$2 actual=$3

	if [[ "$expected" != "$actual" ]]; then
		e2e_fail "$name"
		e2e_say "  expected: $expected"
		e2e_say "  actual:   $actual"
	fi
}

# Compares two files and shows their differences on failure.
e2e_assert_same_file() {
	local name=$1 expected=$2 actual=$3

	if ! cmp -s "$expected" "$actual"; then
		e2e_fail "$name"
		diff -u --label expected --label actual "$expected" "$actual" >&2 || true
	fi
}

# Checks that the broker log contains TEXT after byte OFFSET (see
# e2e_log_size): e2e_assert_log_has NAME OFFSET TEXT
e2e_assert_log_has() {
	local name=$1 offset=$2 text=$3

	if ! tail -c +$((offset + 1)) "$E2E_LOG" | grep -a -q -F -- "$text"; then
		e2e_fail "$name"
		e2e_say "  expected in the log: $text"
		e2e_say "  log lines from the plugin:"
		tail -c +$((offset + 1)) "$E2E_LOG" | grep -a -F "ota:" | sed 's/^/    /' >&2 || true
	fi
}

# Exits with the verdict of all checks made so far.
e2e_finish() {
	if ((E2E_FAILURES > 0)); then
		e2e_say "$E2E_FAILURES check(s) failed"
		exit 1
	fi
	e2e_say "all checks passed"
	exit 0
}

# ======================================================================
# Set-up and clean-up
# ======================================================================

e2e_require_tools() {
	local tool missing=()

	MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || true)}
	if [[ -z "$MOSQUITTO" && -x /usr/sbin/mosquitto ]]; then
		MOSQUITTO=/usr/sbin/mosquitto
	fi
	[[ -n "$MOSQUITTO" ]] || missing+=("mosquitto (package mosquitto)")
	for tool in mosquitto_pub mosquitto_sub; do
		command -v "$tool" >/dev/null || missing+=("$tool (package mosquitto-clients)")
	done
	command -v sqlite3 >/dev/null || missing+=("sqlite3 (package sqlite3)")
	command -v jq >/dev/null || missing+=("jq (package jq)")
	command -v timeout >/dev/null || missing+=("timeout (package coreutils)")
	command -v ps >/dev/null || missing+=("ps (package procps)")
	if ((EUID == 0)); then
		command -v runuser >/dev/null || missing+=("runuser (package util-linux)")
	fi
	if ((${#missing[@]} > 0)); then
		e2e_say "missing tools: ${missing[*]}"
		exit "$E2E_SKIP"
	fi
}

# Creates the temporary folder, checks the tools and the plugin, and
# installs the clean-up trap.
e2e_init() {
	e2e_require_tools
	[[ -f "$OTA_PLUGIN" ]] || e2e_die "plugin not found at $OTA_PLUGIN: build it first" \
		"(cmake -S . -B build && cmake --build build) or set OTA_PLUGIN"
	[[ -d "$OTA_FIXTURES" ]] || e2e_die "fixtures folder not found at $OTA_FIXTURES;" \
		"set OTA_FIXTURES"

	E2E_ASAN_RUNTIME=${OTA_PRELOAD:-$(ldd "$OTA_PLUGIN" 2>/dev/null \
		| awk '$1 ~ /^libasan\.so/ { print $3; exit }')}

	E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mosquitto-ota-e2e.XXXXXX")
	# The broker drops to its own user when started as root, and that user
	# must reach the database folder inside.
	chmod 0755 "$E2E_DIR"
	trap e2e_cleanup EXIT
	# Signals end the script through its EXIT trap, which stops the broker
	# and the clients, for example when ctest times a test out.
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Creates the folder $E2E_DIR/NAME for a database, writable by the broker,
# and prints its path: e2e_make_db_dir NAME
e2e_make_db_dir() {
	local dir="$E2E_DIR/$1"

	mkdir -p "$dir"
	if ((EUID == 0)); then
		getent passwd mosquitto >/dev/null \
			|| e2e_die "running as root, but there is no user 'mosquitto' for the broker to drop to"
		chown mosquitto "$dir"
	fi
	printf '%s\n' "$dir"
}

# Runs sqlite3 on a database as the broker's user, so that the -wal and
# -shm files SQLite may create stay writable by the broker.
e2e_sqlite() {
	if ((EUID == 0)); then
		runuser -u mosquitto -- sqlite3 "$@"
	else
		sqlite3 "$@"
	fi
}

# Returns success when PID is a running child of this script. Bash reaps
# exited children on its own, so a stored id may belong to another process
# by now, and this check keeps clean-up from signalling that process.
e2e_is_child() {
	local pid=$1 ppid state

	read -r ppid state < <(ps -o ppid=,stat= -p "$pid" 2>/dev/null || true)
	[[ "${ppid:-}" == "$$" && "${state:-Z}" != Z* ]]
}

# Waits for child PID and drops it from the clean-up list. Returns the
# child's exit code.
e2e_reap() {
	local pid=$1 rc=0 i

	wait "$pid" 2>/dev/null || rc=$?
	for i in "${!E2E_PIDS[@]}"; do
		if [[ "${E2E_PIDS[i]}" == "$pid" ]]; then
			unset 'E2E_PIDS[i]'
		fi
	done
	return "$rc"
}

# Stops child PID: SIGTERM, then SIGKILL after 5 seconds.
e2e_stop_pid() {
	local pid=$1

	if e2e_is_child "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			e2e_is_child "$pid" || break
			sleep 0.1
		done
		if e2e_is_child "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	e2e_reap "$pid" || true
}

e2e_cleanup() {
	local rc=$? pid

	set +e
	for pid in "${E2E_PIDS[@]}"; do
		e2e_stop_pid "$pid"
	done
	if ((rc != E2E_SKIP)) && ! e2e_check_sanitizer_logs; then
		rc=1
	fi
	if ((rc != 0 && rc != E2E_SKIP)) && [[ -n "$E2E_LOG" && -f "$E2E_LOG" ]]; then
		e2e_say "--- last lines of the broker log $E2E_LOG ---"
		tail -n 40 "$E2E_LOG" >&2
	fi
	if [[ -n "$E2E_DIR" && -d "$E2E_DIR" ]]; then
		if [[ "${E2E_KEEP:-0}" == 1 ]]; then
			e2e_say "kept $E2E_DIR"
		else
			rm -rf "$E2E_DIR"
		fi
	fi
	exit "$rc"
}

# ======================================================================
# Broker
# ======================================================================

# Prints a port on 127.0.0.1 that nothing listens on right now. Another
# process may still take it before the broker binds, so e2e_start_broker
# retries with a new port when the bind fails.
e2e_pick_port() {
	local port

	for _ in $(seq 1 100); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	e2e_die "no free port found on 127.0.0.1"
}

# Writes a broker configuration: e2e_write_config FILE PORT DB_PATH [LINE...]
# Extra arguments are appended as configuration lines.
e2e_write_config() {
	local file=$1 port=$2 db=$3 line

	shift 3
	{
		echo "listener $port 127.0.0.1"
		echo "allow_anonymous true"
		echo "persistence false"
		echo "log_dest stderr"
		echo "log_type all"
		echo "log_timestamp_format %Y-%m-%dT%H:%M:%S"
		echo "plugin $OTA_PLUGIN"
		echo "plugin_opt_db_path $db"
		for line in "$@"; do
			echo "$line"
		done
	} >"$file"
}

# Prints, one word a line, the command prefix for the broker: the
# script's E2E_BROKER_PREFIX, else the ASan runtime preload when the plugin
# is sanitized, else nothing. The broker is not built with ASan, and ASan
# must be the first library of the process, so the runtime is preloaded.
# LeakSanitizer stays off in the broker; security_valgrind.sh checks the
# plugin for leaks instead.
e2e_broker_prefix() {
	if ((${#E2E_BROKER_PREFIX[@]} > 0)); then
		printf '%s\n' "${E2E_BROKER_PREFIX[@]}"
	elif [[ -n "$E2E_ASAN_RUNTIME" ]]; then
		printf '%s\n' env "LD_PRELOAD=$E2E_ASAN_RUNTIME" \
			"ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1" \
			"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
	fi
}

# Fails when a broker log of this script contains a sanitizer report. A
# report ends the broker, but one written while it stops would otherwise
# pass unseen.
e2e_check_sanitizer_logs() {
	local log found=0

	[[ -n "$E2E_ASAN_RUNTIME" && -n "$E2E_DIR" && -d "$E2E_DIR" ]] || return 0
	for log in "$E2E_DIR"/*.log; do
		[[ -f "$log" ]] || continue
		if grep -a -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|\.c:[0-9]+:[0-9]+: runtime error: ' \
				"$log"; then
			e2e_say "FAIL: sanitizer report in $log:"
			grep -a -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ' "$log" \
				| head -n 60 >&2
			found=1
		fi
	done
	return "$found"
}

# Starts `mosquitto -c CONF` in the background, its log appended to LOG.
# Sets E2E_BROKER_PID and E2E_LOG_OFFSET (where this run's log begins).
e2e_launch_broker() {
	local conf=$1 log=$2 prefix=()

	E2E_LOG=$log
	touch "$log"
	E2E_LOG_OFFSET=$(stat -c %s "$log")
	mapfile -t prefix < <(e2e_broker_prefix)
	"${prefix[@]}" "$MOSQUITTO" -c "$conf" 2>>"$log" &
	E2E_BROKER_PID=$!
	E2E_PIDS+=("$E2E_BROKER_PID")
}

# Prints the size of the broker log, to look only at what comes after.
e2e_log_size() {
	stat -c %s "$E2E_LOG"
}

# Prints the log written since the broker was last launched.
e2e_log_since_launch() {
	tail -c +$((E2E_LOG_OFFSET + 1)) "$E2E_LOG"
}

# Waits until the broker launched last accepts MQTT connections on PORT,
# connecting with the mosquitto_pub options given after it, such as a
# username and password. Returns 1 when it exits first, 2 when it timed
# out: e2e_wait_ready PORT [mosquitto_pub option...]
e2e_wait_ready() {
	local port=$1
	local tries=$((E2E_TIMEOUT * 10))

	shift

	for _ in $(seq 1 "$tries"); do
		if ! e2e_is_child "$E2E_BROKER_PID"; then
			return 1
		fi
		# The "running" line comes after the listener is open. Checking it
		# means a broker of another test on the same port cannot pass for
		# this one.
		if e2e_log_since_launch | grep -a -q "mosquitto version .* running" \
				&& timeout 2 mosquitto_pub -h 127.0.0.1 -p "$port" -q 0 \
					-i "e2e-ready-$$" -t e2e/ready -n "$@" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 2
}

# Starts a broker with the plugin on a free port and waits until it is
# ready: e2e_start_broker DB_PATH [CONFIG LINE...]
# When another process takes the port first, it retries on another one.
# Sets E2E_PORT, E2E_CONF, E2E_LOG and E2E_BROKER_PID.
e2e_start_broker() {
	local db=$1 rc attempt

	shift
	E2E_CONF="$E2E_DIR/mosquitto.conf"
	for attempt in 1 2 3 4 5; do
		E2E_PORT=$(e2e_pick_port)
		e2e_write_config "$E2E_CONF" "$E2E_PORT" "$db" "$@"
		e2e_launch_broker "$E2E_CONF" "$E2E_DIR/broker.log"
		rc=0
		e2e_wait_ready "$E2E_PORT" || rc=$?
		if ((rc == 0)); then
			return 0
		fi
		if ((rc == 2)); then
			e2e_die "broker on port $E2E_PORT not ready after ${E2E_TIMEOUT}s"
		fi
		e2e_reap "$E2E_BROKER_PID" || true
		if e2e_log_since_launch | grep -a -q "Address already in use"; then
			e2e_say "port $E2E_PORT taken meanwhile, retrying (attempt $attempt)"
			continue
		fi
		e2e_die "broker exited at start; see $E2E_LOG"
	done
	e2e_die "broker could not bind a free port after 5 attempts"
}

# Stops the broker with SIGTERM and waits for it. Sets E2E_BROKER_RC.
e2e_stop_broker() {
	local pid=$E2E_BROKER_PID

	E2E_BROKER_RC=
	[[ -n "$pid" ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
		e2e_is_child "$pid" || break
		sleep 0.1
	done
	if e2e_is_child "$pid"; then
		e2e_stop_pid "$pid"
		E2E_BROKER_PID=
		e2e_die "broker (pid $pid) still running ${E2E_TIMEOUT}s after SIGTERM"
	fi
	E2E_BROKER_RC=0
	e2e_reap "$pid" || E2E_BROKER_RC=$?
	E2E_BROKER_PID=
}

# Prints the rows of the plugin's tables as SQL, to compare before and
# after an event.
e2e_dump_db() {
	local db=$1 table

	for table in task task_device device history; do
		e2e_sqlite "$db" ".dump $table"
	done
}

# ======================================================================
# Clients
# ======================================================================

# Publishes one message at QoS 1 and waits for its acknowledgement:
# e2e_pub CLIENT_ID TOPIC PAYLOAD [mosquitto_pub option...]
e2e_pub() {
	local client_id=$1 topic=$2 payload=$3

	shift 3
	timeout "$E2E_TIMEOUT" mosquitto_pub -h 127.0.0.1 -p "$E2E_PORT" -q 1 \
		-i "$client_id" -t "$topic" -m "$payload" "$@" \
		|| e2e_die "mosquitto_pub as '$client_id' on '$topic' failed or timed out"
}

# Starts a `mosquitto_sub -v` that writes "topic payload" lines to
# $E2E_DIR/NAME.out: e2e_collect NAME TOPIC...
# It also subscribes to e2e/sync/NAME, and returns once a marker published
# there came back, so nothing published afterwards can be missed.
e2e_collect() {
	local name=$1 topic args=()

	shift
	for topic in "$@" "e2e/sync/$name"; do
		args+=(-t "$topic")
	done
	: >"$E2E_DIR/$name.out"
	mosquitto_sub -h 127.0.0.1 -p "$E2E_PORT" -q 1 -v -i "e2e-$name-$$" "${args[@]}" \
		>"$E2E_DIR/$name.out" 2>"$E2E_DIR/$name.err" &
	E2E_COLLECTOR_PID[$name]=$!
	E2E_PIDS+=("$!")
	E2E_COLLECTOR_MARK[$name]=0
	e2e_sync "$name" subscribe
}

e2e_stop_collector() {
	local name=$1

	e2e_stop_pid "${E2E_COLLECTOR_PID[$name]}"
}

# Prints the number of lines the collector NAME received on TOPIC.
e2e_line_count() {
	local name=$1 topic=$2

	PREFIX="$topic " awk 'index($0, ENVIRON["PREFIX"]) == 1 { n++ } END { print n + 0 }' \
		"$E2E_DIR/$name.out"
}

# Waits until the collector NAME has at least COUNT lines on TOPIC, for at
# most E2E_TIMEOUT seconds. Returns 1 on time-out.
e2e_wait_lines() {
	local name=$1 count=$2 topic=$3

	for _ in $(seq 1 $((E2E_TIMEOUT * 20))); do
		if (($(e2e_line_count "$name" "$topic") >= count)); then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# Publishes a marker on e2e/sync/NAME and waits until the collector has
# it. Everything the broker delivered before the marker is then in the
# file. With a second argument the marker is sent again until it arrives,
# for a subscription that may not be active yet. Sets E2E_COLLECTOR_MARK.
e2e_sync() {
	local name=$1 retry=${2:-} out="$E2E_DIR/$1.out" line try marker

	E2E_MARKERS=$((E2E_MARKERS + 1))
	marker="e2e/sync/$name marker-$E2E_MARKERS"
	for try in $(seq 1 $((E2E_TIMEOUT * 10))); do
		if [[ -n "$retry" ]] || ((try == 1)); then
			timeout "$E2E_TIMEOUT" mosquitto_pub -h 127.0.0.1 -p "$E2E_PORT" -q 1 \
				-i "e2e-sync-$$" -t "e2e/sync/$name" -m "marker-$E2E_MARKERS" \
				|| e2e_die "publishing the sync marker for '$name' failed"
		fi
		line=$(grep -a -n -x -F "$marker" "$out" | head -n 1 | cut -d: -f1 || true)
		if [[ -n "$line" ]]; then
			E2E_COLLECTOR_MARK[$name]=$line
			return 0
		fi
		e2e_is_child "${E2E_COLLECTOR_PID[$name]}" \
			|| e2e_die "collector '$name' exited: $(cat "$E2E_DIR/$name.err")"
		sleep 0.1
	done
	e2e_die "collector '$name' did not receive its sync marker within ${E2E_TIMEOUT}s"
}

# Syncs, then prints what the collector received since its previous sync,
# without the markers.
e2e_since_sync() {
	local name=$1 from=${E2E_COLLECTOR_MARK[$1]}

	e2e_sync "$name"
	sed -n "$((from + 1)),$((E2E_COLLECTOR_MARK[$name] - 1))p" "$E2E_DIR/$name.out" \
		| grep -a -v "^e2e/sync/" || true
}

# ======================================================================
# The trace
# ======================================================================

# Milliseconds since the Unix epoch.
e2e_now_ms() {
	date +%s%3N
}

# Publishes the `backend` and `device` lines of a trace in order, without
# waiting for `plugin` lines. Devices publish with their serial number as
# client id. With a callback, it runs after each publish with the line's
# number in the trace: e2e_replay TRACE [FIRST] [LAST] [CALLBACK]
e2e_replay() {
	local trace=$1 first=${2:-1} last=${3:-} callback=${4:-}
	local number=0 line from topic payload client

	while IFS= read -r line; do
		number=$((number + 1))
		((number >= first)) || continue
		[[ -z "$last" ]] || ((number <= last)) || break
		from=$(jq -r .from <<<"$line")
		[[ "$from" == backend || "$from" == device ]] || continue
		topic=$(jq -r .topic <<<"$line")
		payload=$(jq -c .payload <<<"$line")
		if [[ "$from" == device ]]; then
			client=$(jq -r '.topic | ltrimstr("/") | split("/")[0]' <<<"$line")
		else
			client="e2e-backend-$$"
		fi
		e2e_pub "$client" "$topic" "$payload"
		[[ -z "$callback" ]] || "$callback" "$number"
	done <"$trace"
}

# Prints the `plugin` lines of trace lines FIRST..LAST as "topic payload".
e2e_expected_status() {
	local trace=$1 first=${2:-1} last=${3:-1000000}

	sed -n "${first},${last}p" "$trace" \
		| jq -r 'select(.from == "plugin") | .topic + " " + (.payload | tojson)'
}

# Writes a copy of the trace with the leading "/" removed from every topic.
e2e_strip_slash() {
	jq -c '.topic |= ltrimstr("/")' "$1" >"$2"
}

# Compares derived status messages with the expected ones, both as
# "topic payload" lines: topic, key order, every value but `timestamp`,
# and timestamps that lie within a minute of [SINCE_MS, UNTIL_MS] and never
# decrease: e2e_compare_status EXPECTED_FILE ACTUAL_FILE SINCE_MS UNTIL_MS
e2e_compare_status() {
	local expected_file=$1 actual_file=$2 since=$3 until=$4
	local -a expected actual
	local i count previous=0 want got want_topic got_topic want_payload got_payload
	local ts

	mapfile -t expected <"$expected_file"
	mapfile -t actual <"$actual_file"
	e2e_assert_eq "number of status messages" "${#expected[@]}" "${#actual[@]}"
	count=$((${#expected[@]} < ${#actual[@]} ? ${#expected[@]} : ${#actual[@]}))

	for ((i = 0; i < count; i++)); do
		want=${expected[i]}
		got=${actual[i]}
		want_topic=${want%% *}
		got_topic=${got%% *}
		want_payload=${want#* }
		got_payload=${got#* }

		e2e_assert_eq "message $((i + 1)): topic" "$want_topic" "$got_topic"
		if ! jq -e 'type == "object"' <<<"$got_payload" >/dev/null 2>&1; then
			e2e_fail "message $((i + 1)): payload is not a JSON object: $got_payload"
			continue
		fi
		# jq keeps the keys in the order of the raw text.
		e2e_assert_eq "message $((i + 1)): key order" \
			"$(jq -c keys_unsorted <<<"$want_payload")" \
			"$(jq -c keys_unsorted <<<"$got_payload")"
		e2e_assert_eq "message $((i + 1)): values but timestamp" \
			"$(jq -cS 'del(.timestamp)' <<<"$want_payload")" \
			"$(jq -cS 'del(.timestamp)' <<<"$got_payload")"

		ts=$(jq -r '.timestamp | if type == "number" and . == floor then tostring else "invalid" end' \
			<<<"$got_payload")
		if [[ "$ts" == invalid ]]; then
			e2e_fail "message $((i + 1)): timestamp is not a whole number: $got_payload"
			continue
		fi
		if ((ts < since - 60000 || ts > until + 60000)); then
			e2e_fail "message $((i + 1)): timestamp $ts is not within a minute of" \
				"the test's clock [$since, $until]"
		fi
		if ((ts < previous)); then
			e2e_fail "message $((i + 1)): timestamp $ts is before the previous one, $previous"
		fi
		previous=$ts
	done
}
