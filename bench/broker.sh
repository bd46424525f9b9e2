# Helpers shared by bench/run.sh and bench/smoke.sh: a free loopback port,
# a broker configuration, and a broker started and stopped by its process
# id. Source this file from bash. Nothing here connects anywhere but
# 127.0.0.1, and every wait is bounded.

BENCH_BROKER_PID=

bench_say() {
	printf '%s\n' "$*" >&2
}

# Prints a port on 127.0.0.1 that nothing listens on, below Linux's default
# range of ephemeral ports so that no outgoing connection takes it.
bench_free_port() {
	local port

	for _ in $(seq 1 200); do
		port=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# Creates a folder the broker may write to. Mosquitto started as root drops
# to the user mosquitto before it loads plugins, so that user must own it.
bench_broker_dir() {
	mkdir -p "$1"
	chmod 755 "$(dirname "$1")"
	if [ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1; then
		chown mosquitto: "$1"
	fi
}

# Writes a broker configuration: bench_write_conf FILE PORT [LINE...], where
# each extra argument is one more line (plugin, plugin_opt_...).
# set_tcp_nodelay and a large max_queued_messages keep TCP timers and the
# default limit of 1,000 queued messages out of the figures.
bench_write_conf() {
	local file=$1 port=$2

	shift 2
	{
		echo "listener $port 127.0.0.1"
		echo "allow_anonymous true"
		echo "persistence false"
		echo "set_tcp_nodelay true"
		echo "max_queued_messages 100000"
		echo "connection_messages false"
		echo "log_dest stderr"
		echo "log_type error"
		echo "log_type warning"
		echo "log_type notice"
		echo "log_type information"
		printf '%s\n' "$@"
	} >"$file"
}

# Returns 0 once something accepts connections on the port, 1 when the
# process `pid` exits first or after 200 attempts 50 ms apart.
bench_wait_port() {
	local port=$1 pid=$2

	for _ in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.05
	done
	return 1
}

# Starts mosquitto with as many open files as the hard limit allows, so
# that 10,000 connections fit. Sets BENCH_BROKER_PID.
bench_start_broker() {
	local conf=$1 log=$2 port=$3

	(ulimit -n "$(ulimit -Hn)" && exec mosquitto -c "$conf") >"$log" 2>&1 &
	BENCH_BROKER_PID=$!
	if ! bench_wait_port "$port" "$BENCH_BROKER_PID"; then
		bench_say "broker did not start on port $port; its log $log ends with:"
		tail -n 5 "$log" >&2
		bench_stop_broker
		return 1
	fi
}

# Stops the broker this script started: SIGTERM, then SIGKILL after 15 s.
bench_stop_broker() {
	local pid=$BENCH_BROKER_PID

	BENCH_BROKER_PID=
	if [ -z "$pid" ]; then
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			return 0
		fi
		sleep 0.1
	done
	bench_say "broker $pid did not stop in 15 s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
