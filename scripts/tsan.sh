#!/usr/bin/env bash
# Runs the unit, CLI and integration tests (Kafka ones included) under ThreadSanitizer:
# build-tsan/ (RelWithDebInfo, TLSGATE_TSAN=ON), tests/tsan.supp for third-party false positives.
# Exits non-zero when a test fails or any process wrote a TSan report (reports also go to files,
# so one from a child whose exit status a test ignores still counts). Idempotent.
#   scripts/tsan.sh [ctest arguments, e.g. -R siem]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (ThreadSanitizer) in build-tsan/"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTLSGATE_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs"

# World-writable: integration.privileges runs the daemon as another user, which writes here too.
reports=$(mktemp -d /tmp/tlsgate-tsan.XXXXXX)
trap 'rm -rf "$reports"' EXIT
chmod 1777 "$reports"
TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1"
export TSAN_OPTIONS="$TSAN_OPTIONS log_path=$reports/tsan"

echo "== unit, cli and integration tests under ThreadSanitizer"
status=0
ctest_log=$(mktemp /tmp/tlsgate-tsan-ctest.XXXXXX)
(cd build-tsan &&
  ctest --output-on-failure -j"$jobs" -L 'unit|cli|integration' --timeout 600 "$@") 2>&1 |
  tee "$ctest_log" || status=$?
tests=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$ctest_log" | tail -1)
rm -f "$ctest_log"

found=$(find "$reports" -type f -size +0 | sort)
if [ -n "$found" ]; then
  echo "== ThreadSanitizer reports"
  for f in $found; do
    echo "--- $f"
    cat "$f"
  done
  echo "tsan: $(grep -c '^WARNING: ThreadSanitizer' $found | awk -F: '{n += $NF} END {print n}')" \
    "report(s) in $(echo "$found" | wc -l) process(es) -> FAIL"
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "tsan: tests failed (ctest exit status $status), no TSan report -> FAIL"
  exit "$status"
fi
echo "tsan: ${tests:-?} tests passed, no report -> PASS"
