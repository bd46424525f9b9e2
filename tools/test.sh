#!/usr/bin/env bash
# Runs the whole test suite from a fresh Debian 12 machine: installs the
# dependencies, builds with warnings as errors, runs the unit and
# end-to-end tests with ctest (the trace replay under valgrind among them),
# then the dashboard's browser test. After that it runs the unit and
# end-to-end tests again with AddressSanitizer and UndefinedBehaviorSanitizer
# (build-asan), and each fuzz target for a short time (build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

# Seconds each fuzz target runs; test/fuzz/run.sh takes longer runs.
fuzz_seconds=${OTA_CI_FUZZ_SECONDS:-15}

tools/deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTA_WERROR=ON
cmake --build build -j"$(nproc)"
(cd build && ctest --output-on-failure -j2)

# The dashboard's test drives headless Chromium against a broker with the
# plugin built above.
bash dashboard/test/run.sh

# The broker itself is not sanitized, so test/e2e/lib.sh preloads the ASan
# runtime into it. Tests that start a broker without lib.sh cannot do
# that, so only the unit and end-to-end tests run here.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTA_WERROR=ON -DOTA_SANITIZE=ON
cmake --build build-asan -j"$(nproc)"
(cd build-asan && ctest --output-on-failure -j2 -R '^(unit|e2e)_')

test/fuzz/run.sh "$fuzz_seconds"
