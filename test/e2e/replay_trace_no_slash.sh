#!/usr/bin/env bash
# Replays the FastBee trace with the leading "/" removed from every topic:
# the plugin must then derive its messages on 26/ws/ota/status.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init
trace="$E2E_DIR/trace-no-slash.jsonl"
e2e_strip_slash "$OTA_FIXTURES/fastbee-ota-trace.jsonl" "$trace"
db_dir=$(e2e_make_db_dir db)

e2e_start_broker "$db_dir/ota.db"
e2e_collect status 26/ws/ota/status

since=$(e2e_now_ms)
e2e_replay "$trace"
e2e_since_sync status >"$E2E_DIR/actual"
until=$(e2e_now_ms)

e2e_expected_status "$trace" >"$E2E_DIR/expected"
e2e_compare_status "$E2E_DIR/expected" "$E2E_DIR/actual" "$since" "$until"
e2e_finish
