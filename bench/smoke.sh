#!/usr/bin/env bash
# Smoke test of the load generator: 20 devices for about 2 seconds against
# a broker with the plugin on 127.0.0.1. It checks that the generator exits
# 0 and that the plugin derived a status message for some replies. It
# measures nothing: speed is never asserted in tests.
#
# usage: smoke.sh LOADGEN PLUGIN
set -euo pipefail

loadgen=$1
plugin=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/broker.sh
. "$here/broker.sh"

if ! command -v mosquitto >/dev/null; then
	bench_say "SKIP: mosquitto is not installed"
	exit 77
fi

work=$(mktemp -d)
cleanup() {
	bench_stop_broker
	rm -rf "$work"
}
trap cleanup EXIT

bench_broker_dir "$work/db"
port=$(bench_free_port)
bench_write_conf "$work/mosquitto.conf" "$port" \
	"plugin $plugin" "plugin_opt_db_path $work/db/ota.db"
bench_start_broker "$work/mosquitto.conf" "$work/broker.log" "$port"

status=0
timeout 30 "$loadgen" -p "$port" -n 20 --rates 200 --seconds 2 --warmup 0 --drain 2 \
	--label smoke --broker-pid "$BENCH_BROKER_PID" --db "$work/db/ota.db" \
	>"$work/loadgen.out" || status=$?
cat "$work/loadgen.out"
if [ "$status" -ne 0 ]; then
	bench_say "FAIL: loadgen exited with $status; broker log:"
	tail -n 20 "$work/broker.log" >&2
	exit 1
fi
accepted=$(sed -n 's/^done .*accepted=\([0-9]*\).*/\1/p' "$work/loadgen.out")
if [ -z "$accepted" ] || [ "$accepted" -eq 0 ]; then
	bench_say "FAIL: loadgen reported no accepted reply"
	exit 1
fi
echo "1 passed, 0 failed"
