#!/usr/bin/env bash
# Replays the trace up to progress 50, restarts the broker on the same
# database, replays the rest, and checks the stream after the restart and
# the rows the upgrade leaves behind.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init
trace="$OTA_FIXTURES/fastbee-ota-trace.jsonl"
db_dir=$(e2e_make_db_dir db)
db="$db_dir/ota.db"
serial=D1832O34Z5M1

# The trace line of the status message with progress 50 ends the first half.
midway=$(jq -n '[inputs] | to_entries
	| map(select(.value.from == "plugin" and .value.payload.progress == 50))
	| .[0].key + 1' "$trace")

e2e_start_broker "$db"
e2e_collect before /26/ws/ota/status
since=$(e2e_now_ms)
e2e_replay "$trace" 1 "$midway"
e2e_since_sync before >"$E2E_DIR/actual-before"
until=$(e2e_now_ms)
e2e_expected_status "$trace" 1 "$midway" >"$E2E_DIR/expected-before"
e2e_say "before the restart:"
e2e_compare_status "$E2E_DIR/expected-before" "$E2E_DIR/actual-before" "$since" "$until"

e2e_stop_collector before
e2e_stop_broker
e2e_assert_eq "broker exit code after SIGTERM" 0 "$E2E_BROKER_RC"

e2e_start_broker "$db"
e2e_collect after /26/ws/ota/status
since=$(e2e_now_ms)
e2e_replay "$trace" $((midway + 1))
e2e_since_sync after >"$E2E_DIR/actual-after"
until=$(e2e_now_ms)
e2e_expected_status "$trace" $((midway + 1)) >"$E2E_DIR/expected-after"
e2e_say "after the restart:"
e2e_compare_status "$E2E_DIR/expected-after" "$E2E_DIR/actual-after" "$since" "$until"

e2e_stop_broker
e2e_assert_eq "broker exit code after SIGTERM" 0 "$E2E_BROKER_RC"

e2e_assert_eq "task_device row: status|progress" "3|100" \
	"$(e2e_sqlite "$db" "SELECT status, progress FROM task_device
		WHERE task_id = 26 AND serial = '$serial'")"
e2e_assert_eq "device row: installed version" "1.2" \
	"$(e2e_sqlite "$db" "SELECT installed_version FROM device WHERE serial = '$serial'")"
e2e_finish
