#!/usr/bin/env bash
# A database in a folder that does not exist, or that the broker's user
# cannot write, must stop the broker's start, with one log line that names
# the path and the cause.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init

# Starts a broker on database DB, checks that it exits non-zero and that one
# log line names DB and matches CAUSE_RE: expect_refused DB CAUSE_RE
expect_refused() {
	local db=$1 cause_re=$2 port conf pid rc=0 line

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
		return
	fi
	e2e_reap "$pid" || rc=$?
	e2e_assert_eq "broker exit code with $db is non-zero" yes \
		"$( ((rc != 0)) && echo yes || echo "no: $rc")"
	line=$(grep -a -F -- "$db" "$E2E_LOG" | grep -a -E "$cause_re" || true)
	if [[ -z "$line" ]]; then
		e2e_fail "no log line names both $db and the cause"
		e2e_say "  expected: a line with '$db' matching '$cause_re'"
		e2e_say "  actual log:"
		sed 's/^/    /' "$E2E_LOG" >&2
	fi
}

expect_refused "$E2E_DIR/missing-folder/ota.db" \
	"unable to open database file.*folder .*missing-folder does not exist"

# A folder the broker's user may not write: owned by root when the broker
# drops to mosquitto, or made read-only for a broker run by this user.
locked="$E2E_DIR/read-only-folder"
mkdir -p "$locked"
chmod 555 "$locked"
expect_refused "$locked/ota.db" "unable to open database file.*folder .*read-only-folder is not writable"
chmod 755 "$locked"
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
