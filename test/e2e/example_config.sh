#!/usr/bin/env bash
# mosquitto.conf.example must load as shipped once its ports and file paths
# are set, with the password file, ACL and TLS certificate it names, and
# again with every documented option uncommented at its shown value. The
# security tests check what the example's accounts may do.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=test/e2e/security_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/security_lib.sh"

e2e_init
sec_require openssl openssl
sec_require mosquitto_passwd mosquitto
[[ -f "$SEC_EXAMPLE" ]] || e2e_die "missing $SEC_EXAMPLE"

# Uncomments every option line of the configuration FILE.
uncomment_options() {
	sed -i 's/^#\(plugin_opt_[a-z_]* \)/\1/' "$1"
	e2e_assert_eq "options uncommented" yes \
		"$(grep -q '^plugin_opt_max_tasks ' "$1" && echo yes || echo no)"
}

# Starts the broker on the example, which waits for an account to log in,
# checks that an anonymous client cannot and that the plugin loaded, then
# stops it: check_loads NAME [EDIT]
check_loads() {
	local name=$1 rc=0

	sec_start_example "$@"
	timeout "$E2E_TIMEOUT" mosquitto_pub -h 127.0.0.1 -p "$E2E_PORT" -q 1 \
		-i "e2e-anonymous-$$" -t e2e/anonymous -m x 2>/dev/null || rc=$?
	e2e_assert_eq "$name: anonymous client refused" refused \
		"$( ((rc != 0)) && echo refused || echo accepted)"
	e2e_assert_log_has "$name: plugin loaded" "$E2E_LOG_OFFSET" \
		"ota: tracking OTA upgrades in $E2E_DIR/$name/db/ota.db"
	e2e_stop_broker
	e2e_assert_eq "$name: broker exit code after SIGTERM" 0 "$E2E_BROKER_RC"
}

check_loads as-shipped
check_loads all-options uncomment_options
e2e_finish
