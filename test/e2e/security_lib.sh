# Helpers for the security tests (test/e2e/security_*.sh) and for
# example_config.sh. Source this file after lib.sh and call e2e_init first.
#
# sec_start_example runs mosquitto.conf.example itself: a copy in which only
# the ports and the file paths are replaced, with a password file, the ACL
# of mosquitto.acl.example and a throw-away certificate authority made for
# the test. Both listeners bind to 127.0.0.1.

# shellcheck disable=SC2034

SEC_EXAMPLE="$E2E_ROOT/mosquitto.conf.example"
SEC_ACL_EXAMPLE="$E2E_ROOT/mosquitto.acl.example"
# Accounts of the example's ACL, and two devices.
SEC_ADMIN=ota-admin
SEC_BACKEND=fastbee-backend
SEC_DASHBOARD=dashboard
SEC_DEVICE=D1832O34Z5M1
SEC_OTHER_DEVICE=D0000000002
SEC_USERS=("$SEC_ADMIN" "$SEC_BACKEND" "$SEC_DASHBOARD" "$SEC_DEVICE" "$SEC_OTHER_DEVICE")

SEC_CONF=
SEC_TLS_PORT=
SEC_CAFILE=

# Exits with the skip code when TOOL is missing: sec_require TOOL PACKAGE
sec_require() {
	if ! command -v "$1" >/dev/null; then
		e2e_say "missing tool: $1 (package $2)"
		exit "$E2E_SKIP"
	fi
}

# Prints the test password of USER.
sec_password() {
	printf 'e2e-secret-%s\n' "$1"
}

# Prints the mosquitto client options that log in as USER.
sec_login() {
	printf '%s\n' -u "$1" -P "$(sec_password "$1")"
}

# Replaces the whole line that matches PATTERN with REPLACEMENT and checks
# that exactly one line matched, so a changed example fails loudly:
# sec_substitute_line FILE PATTERN REPLACEMENT
sec_substitute_line() {
	local file=$1 pattern=$2 replacement=$3 count

	count=$(grep -c -E -- "$pattern" "$file" || true)
	e2e_assert_eq "lines in the example matching /$pattern/" 1 "$count"
	PATTERN=$pattern REPLACEMENT=$replacement awk \
		'$0 ~ ENVIRON["PATTERN"] { print ENVIRON["REPLACEMENT"]; next } { print }' \
		"$file" >"$file.new"
	mv "$file.new" "$file"
}

# Makes a certificate authority and a server certificate for 127.0.0.1 in
# $E2E_DIR/certs, once per script. Sets SEC_CAFILE.
sec_make_certificates() {
	local dir="$E2E_DIR/certs"

	SEC_CAFILE="$dir/ca.crt"
	[[ ! -f "$dir/server.crt" ]] || return 0
	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/ca.key" -out "$dir/ca.crt" -days 2 -subj "/CN=mosquitto-ota e2e CA" \
		2>/dev/null || e2e_die "openssl could not create the test CA"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=127.0.0.1" \
		2>/dev/null || e2e_die "openssl could not create the server key"
	printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/san.ext"
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-CAcreateserial -out "$dir/server.crt" -days 2 -extfile "$dir/san.ext" \
		2>/dev/null || e2e_die "openssl could not sign the server certificate"
	# Test keys only: the broker's user must read them after it drops root.
	chmod 0644 "$dir"/*
}

# Writes the password file FILE with an account for every user of
# SEC_USERS: sec_make_password_file FILE
sec_make_password_file() {
	local file=$1 user create=(-c)

	for user in "${SEC_USERS[@]}"; do
		mosquitto_passwd "${create[@]}" -b "$file" "$user" "$(sec_password "$user")" \
			|| e2e_die "mosquitto_passwd could not add $user to $file"
		create=()
	done
	chmod 0644 "$file"
}

# Writes a copy of mosquitto.conf.example for run NAME in $E2E_DIR/NAME,
# with only the listeners' ports, the file paths, the plugin and the
# database replaced, and with the files it names: sec_example_config NAME
# PORT TLS_PORT. The TLS listener, which the example opens on every
# address, binds to 127.0.0.1 here. Sets SEC_CONF; the database is
# $E2E_DIR/NAME/db/ota.db.
sec_example_config() {
	local name=$1 port=$2 tls_port=$3 dir="$E2E_DIR/$1" db_dir

	mkdir -p "$dir"
	db_dir=$(e2e_make_db_dir "$name/db")
	sec_make_certificates
	sec_make_password_file "$dir/passwd"
	cp "$SEC_ACL_EXAMPLE" "$dir/mosquitto.acl"
	chmod 0644 "$dir/mosquitto.acl"

	SEC_CONF="$dir/mosquitto.conf"
	cp "$SEC_EXAMPLE" "$SEC_CONF"
	sec_substitute_line "$SEC_CONF" '^listener 1883 127\.0\.0\.1$' "listener $port 127.0.0.1"
	sec_substitute_line "$SEC_CONF" '^listener 8883$' "listener $tls_port 127.0.0.1"
	sec_substitute_line "$SEC_CONF" '^certfile ' "certfile $E2E_DIR/certs/server.crt"
	sec_substitute_line "$SEC_CONF" '^keyfile ' "keyfile $E2E_DIR/certs/server.key"
	sec_substitute_line "$SEC_CONF" '^password_file ' "password_file $dir/passwd"
	sec_substitute_line "$SEC_CONF" '^acl_file ' "acl_file $dir/mosquitto.acl"
	sec_substitute_line "$SEC_CONF" '^plugin ' "plugin $OTA_PLUGIN"
	sec_substitute_line "$SEC_CONF" '^plugin_opt_db_path ' "plugin_opt_db_path $db_dir/ota.db"
}

# Starts the broker on the example configuration of run NAME, made by
# sec_example_config, and waits until the dashboard account can log in.
# EDIT, when given, is a command run on the configuration file before the
# start. Retries with other ports when another process takes one first.
# Sets E2E_PORT, SEC_TLS_PORT, SEC_CONF and E2E_LOG:
# sec_start_example NAME [EDIT]
sec_start_example() {
	local name=$1 edit=${2:-} attempt rc login=()

	mapfile -t login < <(sec_login "$SEC_DASHBOARD")
	for attempt in 1 2 3 4 5; do
		E2E_PORT=$(e2e_pick_port)
		SEC_TLS_PORT=$(e2e_pick_port)
		[[ "$SEC_TLS_PORT" != "$E2E_PORT" ]] || continue
		rm -rf "${E2E_DIR:?}/$name"
		sec_example_config "$name" "$E2E_PORT" "$SEC_TLS_PORT"
		[[ -z "$edit" ]] || "$edit" "$SEC_CONF"
		e2e_launch_broker "$SEC_CONF" "$E2E_DIR/broker-$name.log"
		rc=0
		e2e_wait_ready "$E2E_PORT" "${login[@]}" || rc=$?
		if ((rc == 0)); then
			return 0
		fi
		if ((rc == 2)); then
			e2e_die "broker on port $E2E_PORT not ready after ${E2E_TIMEOUT}s"
		fi
		e2e_reap "$E2E_BROKER_PID" || true
		if e2e_log_since_launch | grep -a -q "Address already in use"; then
			e2e_say "port $E2E_PORT or $SEC_TLS_PORT taken meanwhile, retrying (attempt $attempt)"
			continue
		fi
		e2e_die "broker exited at start; see $E2E_LOG"
	done
	e2e_die "broker could not bind free ports after 5 attempts"
}

# Sends PAYLOAD to $CONTROL/ota/v1 with mosquitto_rr and prints the
# response payload. Options after PAYLOAD go to mosquitto_rr, such as
# -i CLIENT_ID and a login: sec_request PAYLOAD [mosquitto_rr option...]
# NOTE: the payload travels as a command-line argument, so it must stay
# below 128 KiB. mosquitto_rr 2.0.11 sends an empty payload with -f or -s,
# and larger requests go through the mosquitto_ota tool ($OTA_CLI).
sec_request() {
	local payload=$1

	shift
	timeout $((E2E_TIMEOUT + 5)) mosquitto_rr -h 127.0.0.1 -p "$E2E_PORT" \
		-t '$CONTROL/ota/v1' -e '$CONTROL/ota/v1/response' -m "$payload" \
		-W "$E2E_TIMEOUT" "$@"
}
