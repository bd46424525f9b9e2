#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing mosquitto-ota
# need, skipping the update and install when all are present. Run as root
# or through sudo.
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	mosquitto mosquitto-dev libmosquitto-dev mosquitto-clients
	libcjson-dev libsqlite3-dev libcmocka-dev
	sqlite3 jq valgrind openssl
	clang libclang-rt-14-dev
)

missing=()
for package in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$package")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
echo "Installing: ${missing[*]}"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
