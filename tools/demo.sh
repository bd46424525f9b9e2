#!/usr/bin/env bash
# Shows the plugin at work. It installs the Debian packages and builds the
# plugin if needed, then starts a broker with it on a free port of
# 127.0.0.1 with a temporary database. It then replays a recorded FastBee upgrade and prints each status message the
# plugin derives as it arrives. Last, it stops the broker and prints the rows
# left in the database.
#
# Usage: tools/demo.sh [TRACE]
#   TRACE  a trace in the format of test/fixtures/fastbee-ota-trace.jsonl
#          (the default)
# Environment: BUILD_DIR (default: build), E2E_TIMEOUT (seconds to wait for
# each step, default 10), E2E_KEEP=1 to keep the temporary folder.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
trace=${1:-$root/test/fixtures/fastbee-ota-trace.jsonl}

fail() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

[[ -f "$trace" ]] || fail "trace not found: $trace"

# ----------------------------------------------------------------------
# Build
# ----------------------------------------------------------------------

# Installs the Debian packages when any is missing (needs root or sudo).
"$root/tools/deps.sh" || fail "installing the Debian packages failed"

if [[ ! -f "$build/CMakeCache.txt" ]]; then
	echo "Configuring $build"
	cmake -S "$root" -B "$build" >/dev/null || fail "cmake could not configure $build"
fi
cmake --build "$build" --target mosquitto_ota -j2 >/dev/null \
	|| fail "building the plugin failed; run: cmake --build $build --target mosquitto_ota"

export OTA_PLUGIN="$build/mosquitto_ota.so"
export E2E_SKIP=1
# shellcheck source=test/e2e/lib.sh
source "$root/test/e2e/lib.sh"
e2e_init

# ----------------------------------------------------------------------
# Broker and subscriber
# ----------------------------------------------------------------------

db_dir=$(e2e_make_db_dir db)
db="$db_dir/ota.db"
e2e_start_broker "$db"
status_topic=$(jq -r 'select(.from == "plugin") | .topic' "$trace" | head -n 1)
[[ -n "$status_topic" ]] || fail "the trace has no plugin lines, so no status topic"
e2e_collect status "$status_topic"

echo "Broker with the plugin on 127.0.0.1:$E2E_PORT, database $db"
echo "Subscribed to $status_topic"
echo

# ----------------------------------------------------------------------
# Replay
# ----------------------------------------------------------------------

mapfile -t sources < <(jq -r .from "$trace")
shown=0

# Prints how many status messages the trace expects once trace line
# NUMBER is published: every `plugin` line before the next published line.
expected_after() {
	local number=$1 i count=0

	for ((i = 0; i < ${#sources[@]}; i++)); do
		if ((i >= number)) && [[ "${sources[i]}" != plugin ]]; then
			break
		fi
		[[ "${sources[i]}" != plugin ]] || count=$((count + 1))
	done
	echo "$count"
}

# Runs after each published trace line: prints it, then the status
# messages it caused as they arrive.
show_step() {
	local number=$1 line expected payload label

	line=$(sed -n "${number}p" "$trace")
	jq -r '"\(.from | . + "       " | .[0:8]) \(.topic)  \(.payload | tojson)"' <<<"$line"

	expected=$(expected_after "$number")
	e2e_wait_lines status "$expected" "$status_topic" \
		|| fail "expected $expected status messages by now, got" \
			"$(e2e_line_count status "$status_topic") within ${E2E_TIMEOUT}s"
	grep -a -F -- "$status_topic " "$E2E_DIR/status.out" \
		| sed -n "$((shown + 1)),\$p" \
		| while IFS= read -r message; do
			payload=${message#* }
			label=$(jq -r '(["AWAIT", "SEND", "REPLY", "SUCCESS", "FAILED", "STOP"][.status]
				// "UNKNOWN") as $name | "\(.status) \($name)"' <<<"$payload" 2>/dev/null \
				|| echo "(not JSON)")
			printf '  -> status %-10s %s\n' "$label" "$payload"
		done
	shown=$expected
}

since=$(e2e_now_ms)
e2e_replay "$trace" 1 "" show_step
e2e_since_sync status >"$E2E_DIR/actual"
until=$(e2e_now_ms)

e2e_expected_status "$trace" >"$E2E_DIR/expected"
e2e_compare_status "$E2E_DIR/expected" "$E2E_DIR/actual" "$since" "$until"
((E2E_FAILURES == 0)) \
	|| fail "the derived status messages differ from the trace's plugin lines (see above)"
echo
echo "The derived messages match the trace's plugin lines (timestamps aside)."

# ----------------------------------------------------------------------
# Final rows
# ----------------------------------------------------------------------

e2e_stop_broker
((E2E_BROKER_RC == 0)) || fail "the broker exited with code $E2E_BROKER_RC on SIGTERM"

echo
echo "Database rows after the broker stopped:"
echo
echo "task_device:"
e2e_sqlite -header -column "$db" \
	"SELECT task_id, serial, status, progress, attempts, message FROM task_device"
echo
echo "device:"
e2e_sqlite -header -column "$db" "SELECT serial, installed_version FROM device"
