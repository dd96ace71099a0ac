#!/usr/bin/env bash
# bench.smoke (ctest, label "bench"): a few seconds of the harness end to end. The loadgen's sink,
# a gateway relaying to it, a plaintext and a STARTTLS run of a few messages, then the sink must
# have received every accepted message. Checks that figures are printed with zero errors; never
# asserts a figure. Usage: smoke.sh LOADGEN TLSGATE HSCOST
set -euo pipefail
loadgen=$1
tlsgate=$2
hscost=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

tmp=$(mktemp -d /tmp/tlsgate-bench-smoke.XXXXXX)
GATEWAY_PID=""
SINK_PID=""
cleanup() {
  stop_pid "$GATEWAY_PID"
  stop_pid "$SINK_PID"
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "bench.smoke: FAIL: $*" >&2
  [ -f "$tmp/gateway.log" ] && tail -20 "$tmp/gateway.log" >&2
  exit 1
}

start_loadgen_sink "$loadgen" "$tmp" || fail "sink did not start"
port=$("$loadgen" --free-port)
write_gateway_config "$tmp/tlsgate.conf" "$tmp/state" "$port" "$SINK_PORT"
start_gateway "$tlsgate" "$tmp/tlsgate.conf" "$tmp/gateway.log" || fail "gateway did not start"

total=0
for tls in none 1.3 1.2; do
  out=$("$loadgen" --target "127.0.0.1:$port" --clients 3 --messages 9 --per-conn 2 \
        --size 4096 --tls "$tls" --timeout 20) || fail "loadgen --tls $tls: exit $?: $out"
  echo "tls=$tls $out"
  for name in messages errors msgs_per_s handshakes_per_s p50_ms p99_ms p999_ms duration_s; do
    [ -n "$(field "$name" "$out")" ] || fail "no $name in: $out"
  done
  [ "$(field errors "$out")" = 0 ] || fail "errors with --tls $tls: $out"
  [ "$(field messages "$out")" = 9 ] || fail "expected 9 messages with --tls $tls: $out"
  total=$((total + 9))
done

# Idle sessions: a handful held for a moment.
out=$("$loadgen" --target "127.0.0.1:$port" --idle 5 --tls 1.3 --hold 0.5) || fail "idle: $out"
echo "$out"
[ "$(field open "$out")" = 5 ] || fail "idle sessions: $out"

# The OpenSSL-alone handshake probe: a few handshakes, every figure printed.
out=$("$hscost" 20 1) || fail "tlsgate-hscost: exit $?: $out"
echo "$out"
for name in server_us client_us sign_us x25519_pair_us server_hs_per_core_s crypto_share; do
  [[ "$(field "$name" "$out")" =~ ^[0-9.]+$ ]] || fail "no $name in: $out"
done

arrived=$(wait_sink_count "$total" 60)
echo "accepted=$total arrived=$arrived"
[ "$arrived" -eq "$total" ] || fail "the sink received $arrived of $total messages"
echo "bench.smoke: OK"
