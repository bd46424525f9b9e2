#!/usr/bin/env bash
# A database in a folder that does not exist must stop the broker's start,
# with a log line that names the path and the cause.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init
db="$E2E_DIR/missing-folder/ota.db"
port=$(e2e_pick_port)
conf="$E2E_DIR/mosquitto.conf"
e2e_write_config "$conf" "$port" "$db"

e2e_launch_broker "$conf" "$E2E_DIR/broker.log"
pid=$E2E_BROKER_PID
for _ in $(seq 1 $((E2E_TIMEOUT * 10))); do
	e2e_is_child "$pid" || break
	sleep 0.1
done
if e2e_is_child "$pid"; then
	e2e_fail "broker still running ${E2E_TIMEOUT}s after start with db_path $db"
	e2e_finish
fi
rc=0
e2e_reap "$pid" || rc=$?

e2e_assert_eq "broker exit code is non-zero" yes "$( ((rc != 0)) && echo yes || echo "no: $rc")"
# One line must carry both the path and SQLite's or the system's cause.
line=$(grep -a -F -- "$db" "$E2E_LOG" | grep -a -E "No such file or directory|unable to open database file" || true)
if [[ -z "$line" ]]; then
	e2e_fail "no log line names both the database path and the cause"
	e2e_say "  expected: a line with '$db' and 'No such file or directory' or 'unable to open database file'"
	e2e_say "  actual log:"
	sed 's/^/    /' "$E2E_LOG" >&2
fi
e2e_finish
