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

# --- SIEM receivers (the siem scenario of scripts/bench.sh) -------------------------------------

# free_udp_port: a UDP port free on 127.0.0.1 now.
free_udp_port() {
  python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# make_siem_pki DIR: a test CA (DIR/ca.pem) and a receiver certificate for localhost and
# 127.0.0.1 signed by it (DIR/server.pem, DIR/server-key.pem), P-256, valid 2 days.
make_siem_pki() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=Bench SIEM CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign -keyout "$d/ca-key.pem" -out "$d/ca.pem" >/dev/null 2>&1 &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$d/server-key.pem" -out "$d/server.csr" >/dev/null 2>&1 &&
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/server.ext" &&
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
    -out "$d/server.pem" -days 2 -extfile "$d/server.ext" >/dev/null 2>&1
}

# The fallback receiver without rsyslog: counts RFC 6587 octet-counted frames (tcp, tls) or
# datagrams (udp) into DIR/count (rewritten every 0.1 s and at SIGTERM); DIR/port says its port.
write_count_receiver() {
  cat >"$1" <<'PY'
import os, signal, socket, ssl, sys, threading, time
mode, directory = sys.argv[1], sys.argv[2]
count = 0
def dump():
    with open(os.path.join(directory, "count.tmp"), "w") as f:
        f.write("%d\n" % count)
    os.replace(os.path.join(directory, "count.tmp"), os.path.join(directory, "count"))
def stop(*_):
    dump()
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
def dumper():
    while True:
        time.sleep(0.1)
        dump()
threading.Thread(target=dumper, daemon=True).start()
if mode == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", int(sys.argv[3])))
    open(os.path.join(directory, "port"), "w").write("%d\n" % s.getsockname()[1])
    while True:
        s.recv(65536)
        count += 1
context = None
if mode == "tls":
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[4], sys.argv[5])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
open(os.path.join(directory, "port"), "w").write("%d\n" % listener.getsockname()[1])
def serve(conn):
    global count
    if context is not None:
        try:
            conn = context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            return
    data, pos = b"", 0
    while True:
        try:
            chunk = conn.recv(1 << 20)
        except (OSError, ssl.SSLError):
            return
        if not chunk:
            return
        data = data[pos:] + chunk
        pos = 0
        while True:
            space = data.find(b" ", pos, pos + 12)
            if space < 0:
                break
            end = space + 1 + int(data[pos:space])
            if end > len(data):
                break
            count += 1
            pos = end
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
}

# start_syslog_receiver DIR MODE [PKI_DIR]: a syslog receiver on loopback, MODE udp, tcp or tls
# (TLS with PKI_DIR's server certificate). rsyslogd when installed (unprivileged options, its own
# work directory, each record's raw bytes as one line of DIR/out), else the Python counter above.
# Sets RECEIVER_PID, RECEIVER_PORT and RECEIVER_KIND (rsyslog|python); count with receiver_count.
start_syslog_receiver() {
  local d=$1 mode=$2 pki=${3:-} port=0
  mkdir -p "$d"
  rm -f "$d/port"
  [ "$mode" = udp ] && port=$(free_udp_port)
  if command -v rsyslogd >/dev/null; then
    RECEIVER_KIND=rsyslog
    {
      printf 'global(workDirectory="%s" parser.escapeControlCharactersOnReceive="off" maxMessageSize="64k"' "$d"
      [ "$mode" = tls ] && printf ' DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="%s" DefaultNetstreamDriverCertFile="%s" DefaultNetstreamDriverKeyFile="%s"' \
        "$pki/ca.pem" "$pki/server.pem" "$pki/server-key.pem"
      printf ')\n'
      printf 'template(name="raw" type="string" string="%%rawmsg%%\\n")\n'
      printf 'ruleset(name="out") { action(type="omfile" file="%s/out" template="raw") }\n' "$d"
      case "$mode" in
        udp) printf 'module(load="imudp")\ninput(type="imudp" address="127.0.0.1" port="%s" ruleset="out")\n' "$port" ;;
        tls) printf 'module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")\n' ;;
        tcp) printf 'module(load="imtcp")\n' ;;
      esac
      [ "$mode" = udp ] ||
        printf 'input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="%s/port" ruleset="out")\n' "$d"
    } >"$d/rsyslog.conf"
    rsyslogd -n -f "$d/rsyslog.conf" -i "$d/rsyslog.pid" >"$d/rsyslog.log" 2>&1 &
  else
    RECEIVER_KIND=python
    write_count_receiver "$d/receiver.py"
    python3 "$d/receiver.py" "$mode" "$d" "$port" "$pki/server.pem" "$pki/server-key.pem" \
      >"$d/receiver.log" 2>&1 &
  fi
  RECEIVER_PID=$!
  if [ "$mode" = udp ]; then
    # imudp writes no port file: wait until the port is taken.
    local deadline=$((SECONDS + 10))
    until ! python3 -c 'import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then echo "bench: no $RECEIVER_KIND on udp $port" >&2; return 1; fi
      sleep 0.1
    done
    RECEIVER_PORT=$port
  else
    wait_for_line "$d/port" '^[1-9][0-9]*$' 10 || { cat "$d"/*.log >&2; return 1; }
    RECEIVER_PORT=$(head -1 "$d/port")
  fi
}

# receiver_count DIR: records a receiver started by start_syslog_receiver has written so far.
receiver_count() {
  if [ -f "$1/receiver.py" ]; then cat "$1/count" 2>/dev/null || echo 0
  elif [ -f "$1/out" ]; then wc -l <"$1/out"
  else echo 0; fi
}

# start_kafka_mock KAFKA_MOCK DIR TOPIC...: librdkafka's mock cluster (tests/support/kafka_mock),
# its stdin a FIFO held open by KAFKA_FD (it exits when stdin closes). Sets KAFKA_PID and
# KAFKA_BOOTSTRAP.
start_kafka_mock() {
  local bin=$1 d=$2 t args=()
  shift 2
  for t in "$@"; do args+=(--topic "$t"); done
  mkdir -p "$d"
  rm -f "$d/kafka.in"
  mkfifo "$d/kafka.in"
  "$bin" "${args[@]}" <"$d/kafka.in" >"$d/kafka.out" 2>"$d/kafka.err" &
  KAFKA_PID=$!
  exec {KAFKA_FD}>"$d/kafka.in"
  wait_for_line "$d/kafka.out" ':[0-9]+' 10 || { cat "$d/kafka.err" >&2; return 1; }
  KAFKA_BOOTSTRAP=$(head -1 "$d/kafka.out")
}

# kafka_count BOOTSTRAP TOPIC: records the broker appended to TOPIC's partition 0, its end offset
# as kcat queries it (n/a without kcat). Not a read-back: the mock broker keeps only the newest
# few MB of a partition, older records are gone from it.
kafka_count() {
  command -v kcat >/dev/null || { echo n/a; return; }
  local n
  n=$(timeout 30 kcat -Q -b "$1" -t "$2:0:-1" 2>/dev/null | sed -n 's/.* offset \([0-9]*\).*/\1/p' | head -1) || true
  echo "${n:-0}"
}
