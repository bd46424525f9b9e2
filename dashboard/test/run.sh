#!/usr/bin/env bash
# Installs what the dashboard test needs, then runs it: Debian's mosquitto,
# mosquitto-clients, chromium and a Chinese font (for readable screenshots)
# when missing, and the npm packages (npm ci) when node_modules is missing
# or older than package-lock.json. apt-get needs root.
#
# The plugin scenario runs only when build/mosquitto_ota.so exists (or
# OTA_PLUGIN names the plugin), so build the plugin first to include it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
if ! command -v mosquitto >/dev/null && [[ ! -x /usr/sbin/mosquitto ]]; then
	missing+=(mosquitto)
fi
if ! command -v mosquitto_pub >/dev/null; then
	missing+=(mosquitto-clients)
fi
if [[ ! -x /usr/bin/chromium ]]; then
	missing+=(chromium)
fi
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
	missing+=(fonts-wqy-microhei)
fi

if ((${#missing[@]} > 0)); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "missing Debian packages: ${missing[*]}. Install them with apt-get as root, then run this again." >&2
		exit 1
	fi
	echo "Installing ${missing[*]} with apt-get..." >&2
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
	echo "Installing the dashboard's npm packages (npm ci)..." >&2
	npm ci --no-audit --no-fund
fi

exec node test/dashboard_test.mjs
