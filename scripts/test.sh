#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, builds tlsgate twice and runs
# the tests with ctest:
#   1. build/       RelWithDebInfo, warnings as errors: every test (unit, cli, integration)
#   2. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer: the unit tests
# Pass --quick to skip the sanitizer build while working.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

bash scripts/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

if [ "$quick" -eq 0 ]; then
  echo "== build (ASan + UBSan)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTLSGATE_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
fi

echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)

if [ "$quick" -eq 0 ]; then
  echo "== unit tests under ASan + UBSan"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure -j"$jobs" -L unit --timeout 600)
fi
