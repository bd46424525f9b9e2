#!/usr/bin/env bash
# Runs the whole test suite from a fresh Debian 12 machine: installs the
# dependencies, builds with warnings as errors, runs the unit and
# end-to-end tests with ctest, then the dashboard's browser test.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTA_WERROR=ON
cmake --build build -j"$(nproc)"
(cd build && ctest --output-on-failure -j2)

# The dashboard's test drives headless Chromium against a broker with the
# plugin built above.
bash dashboard/test/run.sh
