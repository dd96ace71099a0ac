#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of the whole test suite (unit, cli,
# integration, mib; not the benchmark smoke test, whose figures mean nothing under ASan):
# builds build-asan/ (Debug, -DTLSGATE_SANITIZE=ON) and runs ctest with leak detection, every
# sanitizer error fatal. The daemons the integration tests start are the instrumented ones.
# Ends with ctest's summary line; exits non-zero on any failure.
# Called by scripts/test.sh (so by CI) and by scripts/hardening.sh. Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTLSGATE_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"

echo "== unit, cli, integration and mib tests under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan &&
  exec ctest --output-on-failure -j"$jobs" -L 'unit|cli|integration|mib' --timeout 600 "$@")
