#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS
# (default 20): test/fuzz/run.sh [SECONDS]
#
# The build goes to build-fuzz (or $OTA_FUZZ_BUILD). Each target starts
# from its seed corpus in test/fuzz/TARGET and keeps what it learns in
# BUILD/corpus/TARGET, so later runs go on from there. The seeds in the
# repository never change. An input that crashes a target is saved as
# test/fuzz/crash-TARGET-*, and the script exits 1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-20}
build=${OTA_FUZZ_BUILD:-$root/build-fuzz}
targets=(reply control)

if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: test/fuzz/run.sh [SECONDS]  (seconds per target, default 20)" >&2
	exit 2
fi
command -v clang >/dev/null || { echo "clang not found (package clang)" >&2; exit 2; }

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DOTA_FUZZ=ON -DOTA_TESTS=OFF \
	-DOTA_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

failed=()
for target in "${targets[@]}"; do
	mkdir -p "$build/corpus/$target"
	echo "fuzz_$target: ${seconds}s"
	# Memory leaks in the broker-free core fail the run as crashes do.
	if ! "$build/test/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-dict="$root/test/fuzz/$target.dict" \
			-artifact_prefix="$root/test/fuzz/crash-$target-" \
			"$build/corpus/$target" "$root/test/fuzz/$target" 2>"$build/fuzz_$target.log"; then
		failed+=("$target")
		tail -n 60 "$build/fuzz_$target.log" >&2
	fi
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
		"$build/fuzz_$target.log" || true
done

if ((${#failed[@]} > 0)); then
	echo "FAILED: ${failed[*]}; inputs saved as test/fuzz/crash-*; logs in $build" >&2
	exit 1
fi
echo "all fuzz targets ran ${seconds}s without a finding"
