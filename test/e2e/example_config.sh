#!/usr/bin/env bash
# mosquitto.conf.example must load as shipped once the port, the plugin
# path and the database path are set, and again with every documented
# option uncommented at its shown value.
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init
example="$E2E_ROOT/mosquitto.conf.example"
[[ -f "$example" ]] || e2e_die "missing $example"

# Replaces the whole line that matches PATTERN with REPLACEMENT and checks
# that exactly one line matched, so a changed example fails loudly:
# substitute_line FILE PATTERN REPLACEMENT
substitute_line() {
	local file=$1 pattern=$2 replacement=$3 count

	count=$(grep -c -E -- "$pattern" "$file" || true)
	e2e_assert_eq "lines in the example matching /$pattern/" 1 "$count"
	PATTERN=$pattern REPLACEMENT=$replacement awk \
		'$0 ~ ENVIRON["PATTERN"] { print ENVIRON["REPLACEMENT"]; next } { print }' \
		"$file" >"$file.new"
	mv "$file.new" "$file"
}

# Starts the broker on CONF and checks it accepts a connection and logs
# that the plugin loaded: check_loads NAME CONF PORT
check_loads() {
	local name=$1 conf=$2 port=$3 rc=0

	e2e_launch_broker "$conf" "$E2E_DIR/broker-$name.log"
	e2e_wait_ready "$port" || rc=$?
	e2e_assert_eq "$name: broker accepts a connection (0 ready, 1 exited, 2 timed out)" 0 "$rc"
	e2e_assert_log_has "$name: plugin loaded" "$E2E_LOG_OFFSET" \
		"ota: tracking OTA upgrades in $E2E_DIR/db-$name/ota.db"
	e2e_stop_broker
	e2e_assert_eq "$name: broker exit code after SIGTERM" 0 "$E2E_BROKER_RC"
}

# Writes a copy of the example for run NAME and sets port, plugin and db.
make_config() {
	local name=$1 port=$2 conf="$E2E_DIR/$1.conf" db_dir

	db_dir=$(e2e_make_db_dir "db-$name")
	cp "$example" "$conf"
	substitute_line "$conf" '^listener 1883 127\.0\.0\.1$' "listener $port 127.0.0.1"
	substitute_line "$conf" '^plugin ' "plugin $OTA_PLUGIN"
	substitute_line "$conf" '^plugin_opt_db_path ' "plugin_opt_db_path $db_dir/ota.db"
}

port=$(e2e_pick_port)
make_config as-shipped "$port"
check_loads as-shipped "$E2E_DIR/as-shipped.conf" "$port"

port=$(e2e_pick_port)
make_config all-options "$port"
sed -i 's/^#\(plugin_opt_[a-z_]* \)/\1/' "$E2E_DIR/all-options.conf"
e2e_assert_eq "options uncommented" yes \
	"$(grep -q '^plugin_opt_max_tasks ' "$E2E_DIR/all-options.conf" && echo yes || echo no)"
check_loads all-options "$E2E_DIR/all-options.conf" "$port"
e2e_finish
