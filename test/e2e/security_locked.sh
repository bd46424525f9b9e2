#!/usr/bin/env bash
# A database locked by another process while a device reports. Another
# process holds BEGIN EXCLUSIVE on the database for longer than the
# plugin's 2 s busy timeout while the device sends a QoS 1 reply. The
# broker must log the path and the cause, close the device's connection
# without a PUBACK, and keep serving other clients. Once the lock is
# released, the device reconnects and sends the reply again, and the reply
# is committed exactly once.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init
resend=${OTA_QOS1_RESEND:-$E2E_ROOT/build/test/e2e/qos1_resend}
[[ -x "$resend" ]] || e2e_die "qos1_resend not found at $resend: build it first or set OTA_QOS1_RESEND"
trace="$OTA_FIXTURES/fastbee-ota-trace.jsonl"
serial=D1832O34Z5M1
topic="/$serial/http/upgrade/reply"
payload='{"taskId":26,"progress":70,"version":"1.2","status":2}'

midway=$(jq -n '[inputs] | to_entries
	| map(select(.value.from == "plugin" and .value.payload.progress == 50))
	| .[0].key + 1' "$trace")

db_dir=$(e2e_make_db_dir db)
db="$db_dir/ota.db"
e2e_start_broker "$db"
e2e_replay "$trace" 1 "$midway"
e2e_collect watch /26/ws/ota/status

# Waits until FILE contains TEXT, for at most E2E_TIMEOUT seconds.
wait_for_text() {
	local file=$1 text=$2

	for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
		grep -a -q -F -- "$text" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Prints how many times the broker log contains TEXT after byte OFFSET.
log_count() {
	tail -c +$(($1 + 1)) "$E2E_LOG" | grep -a -c -F -- "$2" || true
}

# ----------------------------------------------------------------------
# Lock the database, then let the device report
# ----------------------------------------------------------------------

# The lock is held until the file "release" appears, 30 s at most.
(
	printf "BEGIN EXCLUSIVE;\nSELECT 'locked';\n"
	for _ in $(seq 1 300); do
		[[ -f "$E2E_DIR/release" ]] && break
		sleep 0.1
	done
	printf 'COMMIT;\n'
) | e2e_sqlite "$db" >"$E2E_DIR/lock.out" 2>&1 &
lock_pid=$!
E2E_PIDS+=("$lock_pid")
wait_for_text "$E2E_DIR/lock.out" locked \
	|| e2e_die "sqlite3 did not take the lock: $(cat "$E2E_DIR/lock.out")"

log_offset=$(e2e_log_size)
"$resend" -p "$E2E_PORT" -i "$serial" -t "$topic" -m "$payload" -w 60 >"$E2E_DIR/resend.out" 2>&1 &
resend_pid=$!
E2E_PIDS+=("$resend_pid")

failure="ota: reply from client '$serial' on '$topic' not committed: $db: database is locked"
failure+=" (beginning a transaction); closing the connection so that the device sends it again"
# Two failures show that the device sent the reply again after the first
# closed connection, and that the broker refused it again.
for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
	(($(log_count "$log_offset" "$failure") >= 2)) && break
	sleep 0.1
done
e2e_assert_eq "refused twice while locked, with path and cause" yes \
	"$( (($(log_count "$log_offset" "$failure") >= 2)) && echo yes || echo no)"
e2e_assert_eq "no PUBACK while locked" 0 "$(log_count "$log_offset" "Sending PUBACK to $serial ")"
e2e_assert_eq "device saw its connection closed" yes \
	"$(grep -q -x "connection lost" "$E2E_DIR/resend.out" && echo yes || echo no)"

# Other traffic still flows: a client publishes and a subscriber gets it.
e2e_pub e2e-other e2e/other "still serving"
# e2e_since_sync runs outside a subshell, because it keeps its position in
# variables.
e2e_since_sync watch >"$E2E_DIR/seen"
e2e_assert_eq "other clients served while locked" "" "$(cat "$E2E_DIR/seen")"
e2e_assert_eq "broker still running while locked" yes \
	"$(e2e_is_child "$E2E_BROKER_PID" && echo yes || echo no)"

# ----------------------------------------------------------------------
# Release the lock: the device's next attempt is committed once
# ----------------------------------------------------------------------

touch "$E2E_DIR/release"
e2e_reap "$lock_pid" || e2e_fail "sqlite3 holding the lock failed: $(cat "$E2E_DIR/lock.out")"

rc=0
for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
	e2e_is_child "$resend_pid" || break
	sleep 0.1
done
e2e_reap "$resend_pid" || rc=$?
e2e_assert_eq "device's reply acknowledged in the end (qos1_resend exit code)" 0 "$rc"
connections=$(sed -n 's/^acknowledged after \([0-9]*\) connections$/\1/p' "$E2E_DIR/resend.out")
e2e_assert_eq "acknowledged on a later connection" yes \
	"$( ((${connections:-0} >= 2)) && echo yes || echo "no: ${connections:-none}")"
e2e_assert_eq "resent with the DUP flag" yes \
	"$( (($(log_count "$log_offset" "Received PUBLISH from $serial (d1, q1") >= 1)) && echo yes || echo no)"
e2e_assert_eq "one PUBACK in all" 1 "$(log_count "$log_offset" "Sending PUBACK to $serial ")"

e2e_since_sync watch >"$E2E_DIR/seen"
e2e_assert_eq "one status event for progress 70" \
	"/26/ws/ota/status 2 70" \
	"$(grep -a "^/26/ws/ota/status " "$E2E_DIR/seen" \
		| while read -r line_topic line_payload; do
			printf '%s %s\n' "$line_topic" "$(jq -r '"\(.status) \(.progress)"' <<<"$line_payload")"
		done)"

e2e_stop_broker
e2e_assert_eq "broker exit code after SIGTERM" 0 "$E2E_BROKER_RC"
# History records the entry into status 2 only, so the progress report
# and its resends add nothing there.
e2e_assert_eq "one status 2 entry in the history" 1 \
	"$(e2e_sqlite "$db" "SELECT count(*) FROM history WHERE serial = '$serial' AND status = 2")"
e2e_assert_eq "row at progress 70" "2|70" \
	"$(e2e_sqlite "$db" "SELECT status, progress FROM task_device WHERE serial = '$serial'")"
e2e_finish
