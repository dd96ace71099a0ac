#!/usr/bin/env bash
# The one run command (README): installs what is missing, builds tlsgate and runs the daemon in
# the foreground with its embedded defaults (or with the configuration file given as $1).
# With the defaults it listens on 0.0.0.0:25 and keeps its state (certificate store, spool) in
# /var/lib/tlsgate, so it needs root; give a file to change either. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target tlsgate certmgr

args=()
if [ $# -gt 0 ]; then
  args+=(--config "$1")
fi
exec build/gateway/tlsgate "${args[@]}" run
