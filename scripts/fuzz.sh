#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) in build-fuzz/ with clang, ASan, UBSan and coverage
# instrumentation on every library, replays fuzz/regressions/, then runs each target for N seconds
# (default 20; `scripts/fuzz.sh 600` for a long run) on a work copy of its seed corpus.
# Prints one line per target, "fuzz <name>: runs=..., crashes=...", and exits non-zero when any
# target crashed (crash inputs are saved under build-fuzz/crashes/<name>/).
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 60 smtp_session
# FUZZ_SEED=N fixes libFuzzer's seed: the same build and corpus then explore the same inputs in
# the same order, so a CI run repeats what a local run of at least as long already tried.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
shift || true
all_targets=(smtp_command smtp_session data_reader config cert_import siem_format)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

max_len() {
  case "$1" in
    cert_import) echo 8192 ;;
    data_reader | smtp_session) echo 8192 ;;
    siem_format) echo 2048 ;;
    *) echo 4096 ;;
  esac
}

build=build-fuzz
jobs=$(nproc 2>/dev/null || echo 2)
flags="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

echo "== build ($build, clang, $flags)"
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DTLSGATE_FUZZ=ON -DTLSGATE_SANITIZE=OFF -DBUILD_TESTING=OFF >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$jobs" --target fuzz_targets

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The targets' scratch directories (spool, certificate store, files): a crash skips their cleanup.
scratch_base=/dev/shm
[ -d "$scratch_base" ] && [ -w "$scratch_base" ] || scratch_base=${TMPDIR:-/tmp}
TLSGATE_FUZZ_SCRATCH=$(mktemp -d "$scratch_base/tlsgate-fuzz.XXXXXX")
export TLSGATE_FUZZ_SCRATCH
trap 'rm -rf "$TLSGATE_FUZZ_SCRATCH"' EXIT

failed=0
summary=()
for name in "${targets[@]}"; do
  binary="$build/fuzz/${name}_fuzzer"
  corpus="$build/corpus/$name"
  crashes="$build/crashes/$name"
  logs="$build/logs"
  mkdir -p "$corpus" "$crashes" "$logs"
  # Work copy: libFuzzer adds what it finds here, never to the checked-in seeds.
  if [ -d "fuzz/corpus/$name" ]; then
    cp -n fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
  fi

  # Every crash found once stays a regression input: replay them first.
  regressions=0
  if [ -d "fuzz/regressions/$name" ] && [ -n "$(ls -A "fuzz/regressions/$name")" ]; then
    for input in fuzz/regressions/"$name"/*; do
      if ! TLSGATE_FUZZ_ALL_DELIMITERS=1 "$binary" -runs=1 -artifact_prefix="$build/regression-" "$input" >"$logs/$name.regression.log" 2>&1; then
        regressions=$((regressions + 1))
        echo "regression $name: $input still crashes (see $logs/$name.regression.log)"
      fi
    done
  fi

  before=$(find "$crashes" -type f | wc -l)
  status=0
  "$binary" -max_total_time="$seconds" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
    -max_len="$(max_len "$name")" -timeout=10 \
    -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$crashes/" \
    "$corpus" >"$logs/$name.log" 2>&1 || status=$?
  after=$(find "$crashes" -type f | wc -l)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$name.log" | tail -1)
  if [ -z "$runs" ]; then
    runs=$(grep -oE '^#[0-9]+' "$logs/$name.log" | tail -1 | tr -d '#')
  fi
  found=$((after - before))
  if [ "$status" -ne 0 ] && [ "$found" -eq 0 ]; then
    found=1  # died without an artifact (e.g. in initialisation): still a failure
  fi
  line="fuzz $name: runs=${runs:-0}, crashes=$found, corpus=$(find "$corpus" -type f | wc -l)"
  [ "$regressions" -gt 0 ] && line="$line, failing-regressions=$regressions"
  summary+=("$line")
  echo "$line"
  if [ "$found" -gt 0 ] || [ "$regressions" -gt 0 ]; then
    failed=1
    grep -m3 -E 'ERROR: |fuzz invariant broken|runtime error|deadly signal' "$logs/$name.log" |
      sed 's/^/    /' || true
    echo "    log: $logs/$name.log; inputs: $crashes/"
  fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
