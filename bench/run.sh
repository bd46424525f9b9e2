#!/usr/bin/env bash
# Runs every benchmark of the OTA plugin on this machine and writes the
# report: docs/benchmarks.md and the chart docs/bench-throughput.png.
#
#   bench/run.sh           the full run, about 10 minutes on 2 cores
#   bench/run.sh --quick   a smoke run of about a minute, which writes its
#                          report into the results folder, not into docs/
#   --out DIR              where raw results go (default bench/results/<time>)
#
# It installs missing Debian packages with apt-get when run as root, builds
# the plugin and the benchmark programs in build-bench/, and starts its own
# brokers on free ports of 127.0.0.1. Take the figures on a quiet machine:
# the report records the CPU time other processes used during each step.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/broker.sh
. "$ROOT/bench/broker.sh"

quick=0
out=
while [ $# -gt 0 ]; do
	case $1 in
		--quick) quick=1 ;;
		--out) out=$2; shift ;;
		-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
		*) bench_say "unknown argument $1; see bench/run.sh --help"; exit 2 ;;
	esac
	shift
done

# ======================================================================
# Settings
# ======================================================================

WINDOW=4000                 # replies sent and not yet matched, at most
if [ "$quick" -eq 1 ]; then
	DEVICES=100
	RATES=2000,max
	STEP_S=1
	DRAIN_S=2
	WARMUP_S=0.5
	CONFIGS=(a a-relay b-sync b-batch c-sync)
	PASSES=1
	FLEET_DEVICES=1000
	FLEET_RATES=max
	FLEET_CONFIGS=(a b-sync)
	TICK_ROWS=100000
	TICK_CALLS=20000
	TASK_DEVICES=10000
	CALLGRIND_DEVICES=100
	SYSCALL_S=1
	mode=quick
else
	DEVICES=1000
	RATES=2000,5000,10000,20000,max
	STEP_S=5
	DRAIN_S=5
	WARMUP_S=1
	CONFIGS=(a a-relay b-sync b-full b-batch b-sync-exclusive c-sync c-batch)
	PASSES=2
	FLEET_DEVICES=10000
	FLEET_RATES=5000,max
	FLEET_CONFIGS=(a b-sync b-batch c-sync)
	TICK_ROWS=1000000
	TICK_CALLS=100000
	TASK_DEVICES=100000
	CALLGRIND_DEVICES=1000
	SYSCALL_S=3
	mode=full
fi

BUILD=$ROOT/build-bench
out=${out:-$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)-$mode}
if [ "$quick" -eq 1 ]; then
	doc=$out/benchmarks.md
	chart=$out/bench-throughput.png
else
	doc=$ROOT/docs/benchmarks.md
	chart=$ROOT/docs/bench-throughput.png
fi

TRACKER_PID=
cleanup() {
	if [ -n "$TRACKER_PID" ]; then
		kill -TERM "$TRACKER_PID" 2>/dev/null || true
		wait "$TRACKER_PID" 2>/dev/null || true
	fi
	bench_stop_broker
}
trap cleanup EXIT

# ======================================================================
# Packages and build
# ======================================================================

install_missing() {
	local packages=(build-essential cmake mosquitto mosquitto-clients libmosquitto-dev
		mosquitto-dev libcjson-dev libsqlite3-dev gnuplot-nox valgrind strace python3)
	local missing=()

	for package in "${packages[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
			missing+=("$package")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		bench_say "missing packages: ${missing[*]}; install them as root or run this as root"
		exit 1
	fi
	bench_say "installing ${missing[*]}"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

build() {
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTA_TESTS=OFF >/dev/null
	cmake --build "$BUILD" -j"$(nproc)" --target mosquitto_ota loadgen external_tracker \
		create_task tick_cost reply_cost relay_plugin >/dev/null
}

# ======================================================================
# Machine
# ======================================================================

record_machine() {
	local file=$out/machine.txt

	{
		echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "command	bench/run.sh$([ "$quick" -eq 1 ] && echo ' --quick')"
		echo "commit	$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
		echo "uncommitted	$(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed files"
		echo "cores	$(nproc)"
		echo "cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
		echo "memory	$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
		echo "kernel	$(uname -sr)"
		echo "mosquitto	$(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version //p' | head -n 1)"
		echo "sqlite	$(dpkg-query -W -f='${Version}' libsqlite3-0 2>/dev/null || echo unknown)"
		echo "compiler	$(cc --version | head -n 1)"
		echo "open files	$(ulimit -Hn) (hard limit, given to the broker and the generator)"
		echo "load before	$(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$file"
}

# ======================================================================
# Throughput and latency
# ======================================================================

# Starts the external tracker against the broker on `port` and waits until
# its subscriptions are granted. Sets TRACKER_PID.
start_tracker() {
	local dir=$1 port=$2 durability=$3

	"$BUILD/bench/external_tracker" -p "$port" --db "$dir/db/ota.db" \
		-o "durability=$durability" --ready-file "$dir/tracker.ready" 2>"$dir/tracker.log" &
	TRACKER_PID=$!
	for _ in $(seq 1 100); do
		if [ -f "$dir/tracker.ready" ]; then
			return 0
		fi
		sleep 0.1
	done
	bench_say "external tracker did not subscribe in 10 s; see $dir/tracker.log"
	return 1
}

stop_tracker() {
	if [ -n "$TRACKER_PID" ]; then
		kill -TERM "$TRACKER_PID" 2>/dev/null || true
		wait "$TRACKER_PID" 2>/dev/null || true
		TRACKER_PID=
	fi
}

# Runs the load generator against one configuration:
# run_config GROUP NAME PASS DEVICES RATES. Its step lines, labelled
# GROUP/NAME/PASS, go to steps.txt.
run_config() {
	local group=$1 name=$2 pass=$3 devices=$4 rates=$5
	local label=$group/$name/$pass
	local dir=$out/$group-$name-$pass
	local port plugin=() source=status tracker=
	local steps budget rc=0

	mkdir -p "$dir"
	bench_broker_dir "$dir/db"
	port=$(bench_free_port)
	case $name in
		a) source=reply ;;
		a-relay) plugin=("plugin $BUILD/bench/relay_plugin.so") ;;
		b-*) plugin=("plugin $BUILD/mosquitto_ota.so" "plugin_opt_db_path $dir/db/ota.db") ;;
		c-sync) tracker=sync ;;
		c-batch) tracker=batch ;;
	esac
	case $name in
		b-sync) plugin+=("plugin_opt_durability sync") ;;
		b-full) plugin+=("plugin_opt_durability full") ;;
		b-batch) plugin+=("plugin_opt_durability batch") ;;
		b-sync-exclusive) plugin+=("plugin_opt_durability sync" "plugin_opt_locking exclusive") ;;
	esac

	bench_say "$label: $devices devices, rates $rates"
	bench_write_conf "$dir/mosquitto.conf" "$port" "${plugin[@]}"
	bench_start_broker "$dir/mosquitto.conf" "$dir/broker.log" "$port"
	if [ -n "$tracker" ]; then
		start_tracker "$dir" "$port" "$tracker"
	fi

	steps=$(tr ',' '\n' <<<"$rates" | wc -l)
	budget=$(awk -v s="$steps" -v t="$STEP_S" -v d="$DRAIN_S" 'BEGIN {print int(s * (t + d) + 180)}')
	timeout "$budget" "$BUILD/bench/loadgen" -p "$port" -n "$devices" --rates "$rates" \
		--seconds "$STEP_S" --drain "$DRAIN_S" --warmup "$WARMUP_S" --window "$WINDOW" \
		--source "$source" --label "$label" --broker-pid "$BENCH_BROKER_PID" \
		${tracker:+--tracker-pid "$TRACKER_PID"} --db "$dir/db/ota.db" \
		>"$dir/loadgen.out" 2>"$dir/loadgen.log" || rc=$?
	stop_tracker
	bench_stop_broker

	grep '^step ' "$dir/loadgen.out" >>"$out/steps.txt" || true
	if [ "$rc" -ne 0 ]; then
		bench_say "loadgen failed with $rc for $label; see $dir/loadgen.log"
		echo "failed label=$label rc=$rc" >>"$out/steps.txt"
	fi
	if [ -f "$dir/db/ota.db" ]; then
		echo "dbfinal label=$label bytes=$(stat -c %s "$dir/db/ota.db")" >>"$out/steps.txt"
	fi
}

# ======================================================================
# Scale figures
# ======================================================================

# Times a broker start: from exec to the first message received on a
# subscription, which comes after the plugin opened its database and ran
# its first tick.
time_start() {
	local name=$1 dir=$2
	shift 2
	local port started ended

	port=$(bench_free_port)
	bench_write_conf "$dir/$name.conf" "$port" "$@"
	started=$(date +%s%N)
	(ulimit -n "$(ulimit -Hn)" && exec mosquitto -c "$dir/$name.conf") >"$dir/$name.log" 2>&1 &
	BENCH_BROKER_PID=$!
	for _ in $(seq 1 3000); do
		if mosquitto_sub -h 127.0.0.1 -p "$port" -t '$SYS/broker/version' -C 1 -W 5 \
				>/dev/null 2>&1; then
			ended=$(date +%s%N)
			break
		fi
		if ! kill -0 "$BENCH_BROKER_PID" 2>/dev/null; then
			break
		fi
		sleep 0.01
	done
	bench_stop_broker
	if [ -n "${ended:-}" ]; then
		echo "start name=$name ms=$(( (ended - started) / 1000000 ))" >>"$out/scale.txt"
	else
		echo "start name=$name ms=failed" >>"$out/scale.txt"
	fi
}

measure_tick_and_start() {
	local dir=$out/scale

	bench_say "tick cost with $TICK_ROWS rows"
	"$BUILD/bench/tick_cost" --db "$dir/tick.db" --rows "$TICK_ROWS" --ticks "$TICK_CALLS" \
		>>"$out/scale.txt"

	bench_say "broker start times"
	bench_broker_dir "$dir/start-empty"
	bench_broker_dir "$dir/start-large"
	cp "$dir/tick.db" "$dir/start-large/ota.db"
	if [ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1; then
		chown mosquitto: "$dir/start-large/ota.db"
	fi
	time_start plain "$dir"
	time_start plugin-empty "$dir" "plugin $BUILD/mosquitto_ota.so" \
		"plugin_opt_db_path $dir/start-empty/ota.db"
	time_start plugin-rows-$TICK_ROWS "$dir" "plugin $BUILD/mosquitto_ota.so" \
		"plugin_opt_db_path $dir/start-large/ota.db"
}

measure_create_task() {
	local dir=$out/scale/create port rc=0

	if ! grep -q '"createTask"' "$ROOT"/plugin/control*.c; then
		echo "create_task devices=$TASK_DEVICES result=missing" >>"$out/scale.txt"
		return 0
	fi
	bench_say "createTask of $TASK_DEVICES devices"
	mkdir -p "$dir"
	bench_broker_dir "$dir/db"
	port=$(bench_free_port)
	bench_write_conf "$dir/mosquitto.conf" "$port" "plugin $BUILD/mosquitto_ota.so" \
		"plugin_opt_db_path $dir/db/ota.db" "plugin_opt_admin_users bench-admin"
	bench_start_broker "$dir/mosquitto.conf" "$dir/broker.log" "$port"
	"$BUILD/bench/create_task" -p "$port" -n "$TASK_DEVICES" --broker-pid "$BENCH_BROKER_PID" \
		>>"$out/scale.txt" 2>"$dir/create_task.log" || rc=$?
	bench_stop_broker
	if [ "$rc" -eq 1 ]; then
		echo "create_task devices=$TASK_DEVICES result=error error=\"no response\"" \
			>>"$out/scale.txt"
	fi
}

# Counts the broker's system calls per accepted reply at a paced 1,000
# replies/s: syscall_run NAME SOURCE [CONFIG LINE...]. strace slows the
# broker, so only the counts are used, not the times.
syscall_run() {
	local name=$1 source=$2
	local dir=$out/scale/syscalls port strace_pid
	shift 2

	mkdir -p "$dir"
	bench_broker_dir "$dir/db-$name"
	port=$(bench_free_port)
	bench_write_conf "$dir/$name.conf" "$port" "${@/DBDIR/$dir/db-$name}"
	bench_start_broker "$dir/$name.conf" "$dir/$name.log" "$port"
	strace -f -c -p "$BENCH_BROKER_PID" -o "$dir/$name.strace" 2>/dev/null &
	strace_pid=$!
	sleep 0.5
	timeout 60 "$BUILD/bench/loadgen" -p "$port" -n 100 --rates 1000 --seconds "$SYSCALL_S" \
		--warmup 0 --drain 5 --source "$source" --label "syscalls/$name" \
		>"$dir/$name.out" 2>"$dir/$name.err" || true
	kill -INT "$strace_pid" 2>/dev/null || true
	wait "$strace_pid" 2>/dev/null || true
	bench_stop_broker
}

measure_syscalls() {
	local plugin="plugin $BUILD/mosquitto_ota.so" db="plugin_opt_db_path DBDIR/ota.db"

	bench_say "system calls per reply under strace"
	syscall_run a reply
	syscall_run b-sync status "$plugin" "$db" "plugin_opt_durability sync"
	syscall_run b-sync-exclusive status "$plugin" "$db" "plugin_opt_durability sync" \
		"plugin_opt_locking exclusive"
	syscall_run b-batch status "$plugin" "$db" "plugin_opt_durability batch"
}

# Counts instructions per reply under callgrind: callgrind_run NAME DB OPTION...
callgrind_run() {
	local name=$1 db=$2
	local dir=$out/scale/callgrind
	shift 2

	mkdir -p "$dir"
	valgrind --tool=callgrind --toggle-collect=feed_replies \
		--callgrind-out-file="$dir/$name.out" \
		"$BUILD/bench/reply_cost" --db "$db" --devices "$CALLGRIND_DEVICES" "$@" \
		>"$dir/$name.txt" 2>"$dir/$name.log"
	callgrind_annotate --inclusive=yes "$dir/$name.out" >"$dir/$name.inclusive" 2>/dev/null
	callgrind_annotate "$dir/$name.out" >"$dir/$name.exclusive" 2>/dev/null
}

measure_instructions() {
	local dir=$out/scale/callgrind

	bench_say "instructions per reply under callgrind"
	mkdir -p "$dir"
	callgrind_run sync "$dir/sync.db" -o durability=sync
	callgrind_run batch "$dir/batch.db" -o durability=batch
	callgrind_run sync-exclusive "$dir/exclusive.db" -o durability=sync -o locking=exclusive
	cp "$out/scale/tick.db" "$dir/large.db"
	callgrind_run sync-rows-$TICK_ROWS "$dir/large.db" -o durability=sync
}

# ======================================================================
# Main
# ======================================================================

install_missing
build
mkdir -p "$out/scale"
: >"$out/steps.txt"
: >"$out/scale.txt"
record_machine
bench_say "results go to $out"

# Each pass runs every configuration once, so that a burst of load from
# other processes hits one pass of a configuration, not both.
for pass in $(seq 1 "$PASSES"); do
	for name in "${CONFIGS[@]}"; do
		run_config load "$name" "$pass" "$DEVICES" "$RATES"
	done
done
for name in "${FLEET_CONFIGS[@]}"; do
	run_config fleet "$name" 1 "$FLEET_DEVICES" "$FLEET_RATES"
done
measure_tick_and_start
measure_create_task
measure_instructions
measure_syscalls
# The copies of the large database are only needed while measuring.
rm -f "$out/scale/start-large/ota.db"* "$out/scale/callgrind/large.db"*
echo "load after	$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

python3 "$ROOT/bench/report.py" --results "$out" --doc "$doc" --chart "$chart" \
	--devices "$DEVICES" --fleet-devices "$FLEET_DEVICES" --window "$WINDOW" \
	--step-seconds "$STEP_S" --callgrind-devices "$CALLGRIND_DEVICES" \
	--tick-rows "$TICK_ROWS" --task-devices "$TASK_DEVICES"
bench_say "wrote $doc and $chart"
