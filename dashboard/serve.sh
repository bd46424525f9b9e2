#!/usr/bin/env bash
# Serves the dashboard on 127.0.0.1 and prints its URL. Installs the npm
# dependencies first (npm ci) when the mqtt browser bundle is missing.
#
#   dashboard/serve.sh [--port N]    (default 8080, or $PORT; 0 picks a free port)
#
# The page then connects to ws://127.0.0.1:9001 unless given ?url=.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ! -f node_modules/mqtt/dist/mqtt.min.js ]]; then
	echo "Installing the dashboard's npm dependencies (npm ci)..." >&2
	npm ci --no-audit --no-fund >&2
fi

exec node serve.mjs "$@"
