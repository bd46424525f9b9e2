#!/usr/bin/env bash
# SIGKILL to the broker while hundreds of devices report. reply_fleet plays
# the devices and records every reply the broker acknowledged at QoS 1.
# After a restart, with durability sync or full, each acknowledged reply
# must be in the database: its progress or a later state in the device's
# row, and, when it changed the status, an entry in the history. With
# batch, the replies of the last batch window may be lost, as documented.
# In every mode, every row must be in a legal state, and rows and history
# must agree, because a reply commits both in one transaction.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=test/e2e/security_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/security_lib.sh"

e2e_init
sec_require mosquitto_rr mosquitto-clients
fleet=${OTA_REPLY_FLEET:-$E2E_ROOT/build/test/e2e/reply_fleet}
[[ -x "$fleet" ]] || e2e_die "reply_fleet not found at $fleet: build it first or set OTA_REPLY_FLEET"
devices=300
replies=$((devices * 10))
task=40
admin=e2e-admin

# Runs the whole test with plugin_opt_durability MODE on a fresh database.
run_kill() {
	local mode=$1 db_dir db request response acked fleet_pid acked_count
	local options=("plugin_opt_admin_users $admin" "plugin_opt_durability $mode")

	db_dir=$(e2e_make_db_dir "db-$mode")
	db="$db_dir/ota.db"
	e2e_start_broker "$db" "${options[@]}"

	# reply_fleet names its devices K0000, K0001, ...
	request=$(jq -c -n --argjson n "$devices" --argjson task "$task" '{commands: [{
		command: "createTask", taskId: $task, version: "2.0", url: "/firmware/2.0.bin",
		devices: [range($n) | "K\(. | tostring | ("000" + .)[-4:])"]}]}')
	response=$(sec_request "$request" -i "e2e-admin-$$" -u "$admin" || true)
	e2e_assert_eq "$mode: task created with every device" "$devices" \
		"$(jq -r '.responses[0].data.accepted' <<<"$response" 2>/dev/null)"

	# Kill the broker once about a third of the replies were acknowledged.
	acked="$E2E_DIR/acked-$mode.txt"
	"$fleet" -p "$E2E_PORT" -n "$devices" -t "$task" -o "$acked" -g 20 -w 60 \
		>"$E2E_DIR/fleet.out" 2>&1 &
	fleet_pid=$!
	E2E_PIDS+=("$fleet_pid")
	for _ in $(seq 1 600); do
		[[ -f "$acked" ]] && (($(wc -l <"$acked") >= replies / 3)) && break
		e2e_is_child "$fleet_pid" || break
		sleep 0.05
	done
	kill -KILL "$E2E_BROKER_PID"
	e2e_reap "$E2E_BROKER_PID" || true
	E2E_BROKER_PID=

	for _ in $(seq 1 300); do
		e2e_is_child "$fleet_pid" || break
		sleep 0.1
	done
	e2e_reap "$fleet_pid" || e2e_fail "$mode: reply_fleet failed: $(cat "$E2E_DIR/fleet.out")"
	acked_count=$(wc -l <"$acked")
	e2e_say "$mode: $(cat "$E2E_DIR/fleet.out"); killed at $acked_count of $replies replies"
	e2e_assert_eq "$mode: broker killed mid-way" yes \
		"$( ((acked_count > 0 && acked_count < replies)) && echo yes || echo "no: $acked_count acknowledged")"

	# Restart on the same database, stop, and read what it contains.
	e2e_start_broker "$db" "${options[@]}"
	e2e_assert_eq "$mode: restart without database errors" "" \
		"$(e2e_log_since_launch | grep -a -E "ota: .*(database|not committed)" || true)"
	e2e_stop_broker
	e2e_assert_eq "$mode: broker exit code after SIGTERM" 0 "$E2E_BROKER_RC"
	check_database "$mode" "$db" "$acked"
}

# Runs QUERY on DB with the acknowledged replies of ACKED in the table
# `acked`, and prints its rows, at most 10: query DB ACKED QUERY
query() {
	{
		echo "CREATE TEMP TABLE acked (serial TEXT, status INTEGER, progress INTEGER);"
		awk '{ printf "INSERT INTO acked VALUES (\x27%s\x27, %d, %d);\n", $1, $2, $3 }' "$2"
		echo "$3 LIMIT 10;"
	} | e2e_sqlite -readonly "$1"
}

# check_database MODE DB ACKED
check_database() {
	local mode=$1 db=$2 acked=$3 lacking

	e2e_assert_eq "$mode: database integrity" ok "$(e2e_sqlite "$db" "PRAGMA integrity_check")"

	lacking="SELECT a.serial, a.status, a.progress, r.status, r.progress FROM acked a
		LEFT JOIN task_device r ON r.task_id = $task AND r.serial = a.serial
		WHERE r.serial IS NULL OR NOT (r.status = 3
			OR (a.status = 2 AND r.status = 2 AND r.progress >= a.progress))"
	if [[ "$mode" == batch ]]; then
		e2e_say "batch: $(query "$db" "$acked" "SELECT count(*) FROM ($lacking)")" \
			"acknowledged replies lost with batch_ms 50"
	else
		e2e_assert_eq "$mode: acknowledged replies whose state the row lacks" "" \
			"$(query "$db" "$acked" "$lacking")"
		e2e_assert_eq "$mode: acknowledged status changes missing from the history" "" \
			"$(query "$db" "$acked" "
			SELECT a.serial, a.status FROM acked a
			WHERE NOT EXISTS (SELECT 1 FROM history h WHERE h.task_id = $task
				AND h.serial = a.serial AND h.status = a.status))")"
	fi

	e2e_assert_eq "$mode: rows of the task" "$devices" \
		"$(e2e_sqlite "$db" "SELECT count(*) FROM task_device WHERE task_id = $task")"
	e2e_assert_eq "$mode: task in a legal state" yes \
		"$(e2e_sqlite "$db" "SELECT state IN ('running', 'finished') FROM task WHERE id = $task" \
			| sed 's/^1$/yes/')"
	# Active rows carry no reason; stopped and failed rows carry theirs;
	# rows in SEND or REPLY have a timeout deadline (plugin_opt_timeout).
	e2e_assert_eq "$mode: rows in an illegal state" "" "$(query "$db" "$acked" "
		SELECT serial, status, progress, reason, due_at FROM task_device WHERE task_id = $task
		AND NOT ((status IN (0, 1, 2) AND reason = 0)
			OR (status = 3 AND reason IN (0, 8))
			OR (status = 4 AND reason IN (5, 6, 7))
			OR (status = 5 AND reason IN (1, 2, 3, 4)))
		OR progress NOT BETWEEN 0 AND 100
		OR (status IN (1, 2) AND due_at IS NULL)")"
	# A row at REPLY entered it once, with a progress no higher than now.
	e2e_assert_eq "$mode: rows at REPLY whose entry the history lacks" "" "$(query "$db" "$acked" "
		SELECT r.serial, r.progress FROM task_device r WHERE r.task_id = $task AND r.status = 2
		AND NOT EXISTS (SELECT 1 FROM history h WHERE h.task_id = $task
			AND h.serial = r.serial AND h.status = 2 AND h.progress <= r.progress)")"
	e2e_assert_eq "$mode: rows at SUCCESS without success in the history" "" "$(query "$db" "$acked" "
		SELECT r.serial FROM task_device r WHERE r.task_id = $task AND r.status = 3
		AND NOT EXISTS (SELECT 1 FROM history h
			WHERE h.task_id = $task AND h.serial = r.serial AND h.status = 3)")"
	e2e_assert_eq "$mode: statuses entered twice in the history" "" "$(query "$db" "$acked" "
		SELECT serial, status, count(*) FROM history
		WHERE task_id = $task AND status IN (2, 3)
		GROUP BY serial, status HAVING count(*) > 1")"
}

for mode in sync full batch; do
	run_kill "$mode"
done
e2e_finish
