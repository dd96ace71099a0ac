#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, builds tlsgate and runs the
# tests with ctest:
#   1. build/       RelWithDebInfo, warnings as errors: every test (unit, cli, integration, mib,
#                   bench smoke)
#   2. build-fuzz/  each libFuzzer target for a bounded time (scripts/fuzz.sh, 15 s each, with a
#                   fixed seed so that a run reproduces)
#   3. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer: every test but the benchmark
#                   smoke test (scripts/asan.sh); the run ends with its ctest summary line
# Pass --quick to skip 2 and 3 while working.
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
  FUZZ_SEED=1 bash scripts/fuzz.sh 15
fi

echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)

if [ "$quick" -eq 0 ]; then
  bash scripts/asan.sh
fi
