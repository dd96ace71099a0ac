#!/usr/bin/env bash
# Runs every hardening check of issue 9 and prints their summary lines together at the end:
#   - TLS as scanners see it   scripts/tls_scan.sh (testssl.sh + sslscan)
#   - fuzzing                  scripts/fuzz.sh (20 s per target; 5 s with --quick)
#   - sanitizers               scripts/asan.sh (ASan + UBSan) and scripts/tsan.sh (TSan): the
#                              whole test suite
#   - faults                   tests/faults/*.py (kill -9 under load, disk full, next hop
#                              refusing/flapping/tarpit/closing mid-DATA, slow and idle clients
#                              with oversize input, snmpd/SIEM receivers restarted)
# Each check prints its own lines as it runs; at the end, "== summary" repeats one line per check
# with its figures. Exits non-zero when any check fails.
#   scripts/hardening.sh [--quick]
# Works from a clean checkout: builds build/ (tlsgate, certmgr, the SIEM test tools) when missing.
# The fault scripts need root for the disk-full check (a tmpfs mount); without it that check
# prints a SKIP line.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1
fuzz_seconds=20
[ "$quick" -eq 1 ] && fuzz_seconds=5

began=$(date +%s)
work=$(mktemp -d /tmp/tlsgate-hardening.XXXXXX)
trap 'rm -rf "$work"' EXIT
summary=()
failed=0

if [ ! -x build/gateway/tlsgate ] || [ ! -x build/certmgr/certmgr ]; then
  echo "== build (build/ is missing its binaries)"
  bash scripts/setup.sh >/dev/null
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc 2>/dev/null || echo 2)" || { echo "build failed"; exit 1; }
fi
# The fault scripts run copies of the binaries: a rebuild of build/ while they run (a daemon is
# restarted many times) must not pull the file away under them.
mkdir -p "$work/bin"
cp "${TLSGATE:-build/gateway/tlsgate}" "$work/bin/tlsgate"
cp "${CERTMGR:-build/certmgr/certmgr}" "$work/bin/certmgr"
export TLSGATE=$work/bin/tlsgate CERTMGR=$work/bin/certmgr

# run NAME TIMEOUT PATTERN COMMAND...: runs COMMAND (bounded), shows its output, keeps the lines
# matching PATTERN for the summary; a non-zero exit (or no summary line) is a failure.
run() {
  local name=$1 limit=$2 pattern=$3
  shift 3
  echo "== $name: $*"
  local out="$work/$name.out" status=0
  timeout --kill-after=30 "$limit" "$@" >"$out" 2>"$work/$name.err" || status=$?
  cat "$out"
  [ "$name" = tls_scan ] && grep -E '^(note|FINDING)' "$work/$name.err"
  local lines
  lines=$(grep -E "$pattern" "$out" | awk '!seen[$0]++' || true)
  if [ -z "$lines" ]; then
    lines="$name: no summary line (exit status $status)"
    [ "$status" -eq 0 ] && status=1
  fi
  if [ "$status" -ne 0 ]; then
    failed=1
    [ "$status" -eq 124 ] && lines="$lines"$'\n'"$name: TIMEOUT after $limit s"
    echo "--- $name: exit status $status; last lines of its stderr (gateway log lines left out):"
    grep -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ' "$work/$name.err" | tail -n 40
  fi
  while IFS= read -r line; do summary+=("$line"); done <<<"$lines"
}

# TLS scanners: their lines are "<check>   <figure>"; prefix them so they read alone.
run tls_scan 900 '.' bash scripts/tls_scan.sh
scan_lines=()
for line in "${summary[@]}"; do scan_lines+=("tls_scan ${line}"); done
summary=("${scan_lines[@]}")

# Fuzzing: the summary lines are "fuzz <target>: runs=..., crashes=...".
run fuzz 1800 '^fuzz [a-z_]+: ' bash scripts/fuzz.sh "$fuzz_seconds"

# Sanitizers: the whole suite under ASan + UBSan (its ctest summary line, prefixed) and under
# TSan ("tsan: N tests passed, no report -> PASS").
run asan 3600 'tests passed, [0-9]+ tests failed out of' bash scripts/asan.sh
summary[${#summary[@]}-1]="asan: ${summary[${#summary[@]}-1]}"
run tsan 3600 '^tsan: ' bash scripts/tsan.sh

# Faults: one line each, "fault <name>: <figures> -> PASS|FAIL|SKIP".
for scenario in kill9 disk_full next_hop slow_clients receivers; do
  run "$scenario" 600 '^fault ' python3 "tests/faults/$scenario.py"
done

elapsed=$(( $(date +%s) - began ))
echo
echo "== summary ($([ "$quick" -eq 1 ] && echo quick || echo full), ${elapsed} s)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "hardening: FAIL"
else
  echo "hardening: PASS"
fi
exit "$failed"
