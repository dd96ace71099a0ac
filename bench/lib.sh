# Shell helpers shared by bench/smoke.sh and scripts/bench.sh (sourced, not run): the gateway
# and the sinks as child processes in a temporary directory, bounded waits, figure parsing.
# Every helper that waits gives up after a deadline and says why on stderr.

# field NAME TEXT: the value of NAME=... in a "result:"/"idle:" line.
field() {
  sed -n "s/.*[[:space:]:]$1=\([^[:space:]]*\).*/\1/p" <<<"$2" | tail -1
}

# wait_for_line FILE REGEX SECONDS: polls FILE until a line matches (exit 1 on timeout).
wait_for_line() {
  local file=$1 regex=$2 deadline=$((SECONDS + $3))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if grep -Eq "$regex" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "bench: no line /$regex/ in $file within $3 s" >&2
  return 1
}

# write_gateway_config FILE STATE_DIR PORT SINK_PORT: a benchmark configuration (loopback,
# trusted 127.0.0.0/8, everything relayed to the sink in plaintext, limits above the loads).
write_gateway_config() {
  cat >"$1" <<CONF
[gateway]
hostname = bench.example.test
state_directory = $2

[receive]
listen = 127.0.0.1:$3
tls_level = attempt
trusted_networks = 127.0.0.0/8
max_connections = 1200
max_connections_per_client = 1200

[send]
tls_level = none
default_route = [127.0.0.1]:$4
workers = 16
max_per_destination = 16
retry_min = 1
retry_max = 2
CONF
}

# start_gateway TLSGATE CONFIG LOG: starts it in the background (GATEWAY_PID) and waits until it
# listens (its first start makes an RSA key: up to 60 s).
start_gateway() {
  "$1" --config "$2" run </dev/null >/dev/null 2>"$3" &
  GATEWAY_PID=$!
  if ! wait_for_line "$3" "tlsgate started " 60; then
    tail -20 "$3" >&2
    return 1
  fi
}

# stop_pid PID: SIGTERM, a bounded wait, then SIGKILL.
stop_pid() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  return 0
}

# start_loadgen_sink LOADGEN DIR: the loadgen's counting sink (SINK_PID, SINK_PORT); arrivals
# are read with sink_count.
start_loadgen_sink() {
  "$1" --sink 0 --count-file "$2/sink.count" >"$2/sink.out" 2>&1 &
  SINK_PID=$!
  wait_for_line "$2/sink.out" "listening on" 10 || return 1
  SINK_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$2/sink.out")
  SINK_KIND=loadgen
  SINK_DIR=$2
}

# start_smtp_sink DIR PORT: Postfix's smtp-sink (SINK_PID); it prints "mesg=N" counters.
start_smtp_sink() {
  SINK_PORT=$2
  SINK_KIND=smtp-sink
  SINK_DIR=$1
  # -c counters, -u its user when run as root, backlog 1024. Its own session: on SIGTERM
  # smtp-sink signals its whole process group, which must not be ours.
  setsid stdbuf -o0 smtp-sink -c -u postfix "127.0.0.1:$SINK_PORT" 1024 >"$1/sink.out" 2>&1 &
  SINK_PID=$!
  local deadline=$((SECONDS + 10))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "bench: smtp-sink did not listen on $SINK_PORT" >&2
  return 1
}

# sink_count: messages that have arrived at the sink so far.
sink_count() {
  if [ "$SINK_KIND" = loadgen ]; then
    cat "$SINK_DIR/sink.count" 2>/dev/null || echo 0
  else
    local n
    n=$(tr '\r' '\n' <"$SINK_DIR/sink.out" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1)
    echo "${n:-0}"
  fi
}

# wait_sink_count TARGET SECONDS: waits until at least TARGET messages have arrived; prints the
# count reached.
wait_sink_count() {
  local target=$1 deadline=$((SECONDS + $2)) n
  while :; do
    n=$(sink_count)
    if [ "$n" -ge "$target" ] || [ "$SECONDS" -ge "$deadline" ]; then break; fi
    sleep 0.2
  done
  echo "$n"
}
