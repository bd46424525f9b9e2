#!/usr/bin/env bash
# Runs the whole test suite from a fresh Debian 12 machine: installs the
# dependencies, builds with warnings as errors, and runs the unit and
# end-to-end tests with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTA_WERROR=ON
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j2
