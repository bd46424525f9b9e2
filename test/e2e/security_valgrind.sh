#!/usr/bin/env bash
# The plugin under valgrind's memcheck: the broker runs the trace replay,
# a few declined replies and admin commands, and stops on SIGTERM. Any
# memory error, or any memory the plugin definitely leaked, fails the test.
# Mosquitto 2.0.11 itself reports nothing here, so no suppression file is
# needed; OTA_VALGRIND_OPTIONS can add one for another broker version.
#
# Skipped when valgrind is missing, or when the plugin is built with
# AddressSanitizer (cmake -DOTA_SANITIZE=ON), which valgrind cannot run.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=test/e2e/security_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/security_lib.sh"

# The broker starts and responds several times slower under valgrind.
E2E_TIMEOUT=${E2E_TIMEOUT_VALGRIND:-60}
e2e_init
sec_require valgrind valgrind
sec_require mosquitto_rr mosquitto-clients
if [[ -n "$E2E_ASAN_RUNTIME" ]]; then
	e2e_say "the plugin is built with AddressSanitizer; valgrind cannot run it"
	exit "$E2E_SKIP"
fi
trace="$OTA_FIXTURES/fastbee-ota-trace.jsonl"
errors_exit=99
report="$E2E_DIR/valgrind.txt"

E2E_BROKER_PREFIX=(valgrind --tool=memcheck --error-exitcode="$errors_exit"
	--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
	--num-callers=30 --vgdb=no --log-file="$report")
if [[ -n "${OTA_VALGRIND_OPTIONS:-}" ]]; then
	read -r -a extra_options <<<"$OTA_VALGRIND_OPTIONS"
	E2E_BROKER_PREFIX+=("${extra_options[@]}")
fi

db_dir=$(e2e_make_db_dir db)
e2e_start_broker "$db_dir/ota.db" "plugin_opt_admin_users e2e-admin"
e2e_collect status /26/ws/ota/status

since=$(e2e_now_ms)
e2e_replay "$trace"
e2e_since_sync status >"$E2E_DIR/actual"
until=$(e2e_now_ms)
e2e_expected_status "$trace" >"$E2E_DIR/expected"
e2e_compare_status "$E2E_DIR/expected" "$E2E_DIR/actual" "$since" "$until"

# Paths the trace does not take: declines, a drop, and admin commands that
# create, read, cancel and fail.
e2e_pub D1832O34Z5M1 /D1832O34Z5M1/http/upgrade/reply '{"taskId":26,"progress":"x","status":2}'
e2e_pub D1832O34Z5M1 /D1832O34Z5M1/http/upgrade/reply '[1,2'
e2e_pub e2e-impostor /D1832O34Z5M1/http/upgrade/reply '{"taskId":26,"status":3}'
e2e_pub D1832O34Z5M1 /26/ws/ota/status '{"status":3}'
for request in \
	'{"commands":[{"command":"createTask","taskId":27,"version":"2.0","url":"/f.bin","devices":["D1832O34Z5M1","D2"],"checksum":{"md5":"0123456789abcdef0123456789abcdef"},"size":1024}]}' \
	'{"commands":[{"command":"getTask","taskId":27},{"command":"listTasks"},{"command":"getDevice","serialNumber":"D1832O34Z5M1"}]}' \
	'{"commands":[{"command":"cancelTask","taskId":27},{"command":"retryTask","taskId":26},{"command":"getStats"}]}' \
	'{"commands":[{"command":"createTask","version":"2.0","url":"/f.bin","devices":["bad/serial"]},{"command":"nope"}]}' \
	'not json'; do
	response=$(sec_request "$request" -i "e2e-admin-$$" -u e2e-admin || true)
	e2e_assert_eq "admin request answered: ${request:0:40}" yes \
		"$(jq -e '.responses | length > 0' <<<"$response" >/dev/null 2>&1 && echo yes || echo no)"
done

e2e_stop_broker
e2e_assert_eq "valgrind exit code (99: errors or definite leaks)" 0 "$E2E_BROKER_RC"
e2e_assert_eq "valgrind error summary" "0 errors" \
	"$(sed -n 's/.*ERROR SUMMARY: \([0-9]* errors\).*/\1/p' "$report" | tail -n 1)"
if ((E2E_FAILURES > 0)); then
	e2e_say "--- valgrind report ---"
	sed 's/^/  /' "$report" >&2
fi
e2e_finish
