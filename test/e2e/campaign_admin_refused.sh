#!/usr/bin/env bash
# The admin API rejects users not in plugin_opt_admin_users. A client with
# another username and one with none get a response whose error starts
# with "not authorized", the broker log gets a `denied` audit line, and no
# command runs. Responses go only to the requesting client, so another
# client subscribed to $CONTROL/ota/v1/response receives none of them.
set -euo pipefail
# shellcheck source=test/e2e/campaign_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/campaign_lib.sh"

campaign_init
url=/profile/iot/1/firmware-1.2.bin

campaign_start_broker db
# shellcheck disable=SC2016 # $CONTROL is part of the topic, not a variable.
e2e_collect watch '$CONTROL/ota/v1/response'
log_offset=$(e2e_log_size)

# ----------------------------------------------------------------------
# Through mosquitto_ota
# ----------------------------------------------------------------------

campaign_cli_as bob create-task --version 1.2 --url "$url" DEV1
e2e_assert_eq "CLI as bob: exit code" 1 "$CAMPAIGN_RC"
e2e_assert_eq "CLI as bob: error" \
	"Error: not authorized: username is not in plugin_opt_admin_users" \
	"$(grep -a '^Error:' <<<"$CAMPAIGN_ERR")"

campaign_cli_as "" get-stats
e2e_assert_eq "CLI without username: exit code" 1 "$CAMPAIGN_RC"
e2e_assert_eq "CLI without username: error" \
	"Error: not authorized: username is not in plugin_opt_admin_users" \
	"$(grep -a '^Error:' <<<"$CAMPAIGN_ERR")"

# ----------------------------------------------------------------------
# The raw response, through mosquitto_rr
# ----------------------------------------------------------------------

for user in bob ""; do
	name=${user:-"no username"}
	response=$(campaign_api "$user" '{"command":"getStats","correlationData":"c-1"}')
	e2e_assert_eq "$name: responses" 1 "$(jq '.responses | length' <<<"$response")"
	e2e_assert_eq "$name: command" getStats "$(jq -r '.responses[0].command' <<<"$response")"
	e2e_assert_eq "$name: correlationData" c-1 \
		"$(jq -r '.responses[0].correlationData' <<<"$response")"
	e2e_assert_eq "$name: error says not authorized" true \
		"$(jq '.responses[0].error | startswith("not authorized")' <<<"$response")"
	e2e_assert_eq "$name: no data" false "$(jq '.responses[0] | has("data")' <<<"$response")"
done
e2e_assert_log_has "audit line for bob" "$log_offset" "ota: bob/e2e-rr-$$ | denied |"
e2e_assert_log_has "audit line without username" "$log_offset" "ota: /e2e-rr-$$ | denied |"

# ----------------------------------------------------------------------
# Nothing done, and no response seen by the watcher
# ----------------------------------------------------------------------

tasks=$(campaign_json list-tasks)
e2e_assert_eq "admin: tasks after the refused createTask" 0 "$(jq '.tasks | length' <<<"$tasks")"

e2e_since_sync watch >"$E2E_DIR/watched"
e2e_assert_eq "watcher: responses received" "" "$(cat "$E2E_DIR/watched")"

e2e_finish
