#!/usr/bin/env bash
# The benchmarks (bench/README.md): the same loads against tlsgate and a private Postfix on
# loopback, in one run, both relaying to the same sink; prints one table with tlsgate/Postfix
# ratios, the crypto ceiling and the gateway's memory.
#   scripts/bench.sh [SCENARIO|all] [--quick]
# Scenarios: starttls-50 plain-50 handshake-50 single single-plain per-conn-10 size-100k
# tls12-rsa memory siem (crypto always runs). --quick: a few seconds per scenario.
# BENCH_BUILD_DIR=DIR builds and runs from DIR instead of build/; KEEP_BENCH_DIR=1 keeps the run's files.
# Installs Postfix (debconf preseeded "No configuration") when missing; without it (no network)
# the Postfix column says n/a. Everything runs in a temporary directory and is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. "$root/bench/lib.sh"

all_scenarios=(starttls-50 plain-50 handshake-50 single single-plain per-conn-10 size-100k tls12-rsa
               memory siem)
selected=()
quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    all) selected=("${all_scenarios[@]}") ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *)
      if [[ " ${all_scenarios[*]} " == *" $arg "* ]]; then selected+=("$arg")
      else echo "bench: unknown scenario $arg (known: ${all_scenarios[*]} all)" >&2; exit 64; fi ;;
  esac
done
[ ${#selected[@]} -gt 0 ] || selected=("${all_scenarios[@]}")
duration=20
[ "$quick" -eq 1 ] && duration=4
idle_count=1000

# --- build ------------------------------------------------------------------------------------
# BENCH_BUILD_DIR picks another build directory (default build/).
build=${BENCH_BUILD_DIR:-build}
bash scripts/setup.sh >/dev/null
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if ! cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" \
       --target tlsgate tlsgate-loadgen tlsgate-hscost certmgr siem_driver kafka_mock >"${TMPDIR:-/tmp}/tlsgate-bench-build.log" 2>&1; then
  tail -30 "${TMPDIR:-/tmp}/tlsgate-bench-build.log" >&2
  echo "bench: the build failed" >&2
  exit 1
fi
loadgen=$(cd "$build" && pwd)/bench/tlsgate-loadgen
tlsgate=$(cd "$build" && pwd)/gateway/tlsgate
siem_driver=$(cd "$build" && pwd)/tests/siem_driver
kafka_mock=$(cd "$build" && pwd)/tests/kafka_mock
# Postfix is only needed by the load scenarios (not by memory and siem alone).
need_postfix=0
for name in "${selected[@]}"; do
  [[ "$name" == memory || "$name" == siem ]] || need_postfix=1
done

# --- Postfix ----------------------------------------------------------------------------------
have_postfix=0
install_postfix() {
  if command -v postfix >/dev/null && command -v smtp-sink >/dev/null; then return 0; fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "bench: installing postfix (for the side-by-side and smtp-sink)" >&2
  {
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections &&
    echo "postfix postfix/mailname string bench.example.test" | $sudo debconf-set-selections &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix
  } >"${TMPDIR:-/tmp}/tlsgate-bench-postfix-install.log" 2>&1
}
if [ "$need_postfix" -eq 0 ]; then :
elif install_postfix; then have_postfix=1; else
  echo "bench: postfix could not be installed; Postfix figures will be n/a" >&2
fi
if [ "$have_postfix" -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "bench: a private Postfix instance needs root; Postfix figures will be n/a" >&2
  have_postfix=0
fi

tmp=$(mktemp -d /tmp/tlsgate-bench.XXXXXX)
chmod 755 "$tmp"
GATEWAY_PID=""
SINK_PID=""
IDLE_PID=""
postfix_conf=""
SIEM_PIDS=()  # the siem scenario's receivers, Kafka mock, driver and gateways
KAFKA_FD=""
cleanup() {
  stop_pid "$IDLE_PID"
  local pid
  for pid in "${SIEM_PIDS[@]}"; do stop_pid "$pid"; done
  if [ -n "$KAFKA_FD" ]; then exec {KAFKA_FD}>&-; fi
  stop_pid "$GATEWAY_PID"
  if [ -n "$postfix_conf" ]; then postfix -c "$postfix_conf" stop >/dev/null 2>&1 || true; fi
  stop_pid "$SINK_PID"
  if [ "${KEEP_BENCH_DIR:-0}" = 1 ]; then echo "bench: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# A private Postfix: its own config and queue directories, loopback only, relaying everything to
# the sink without TLS; receiving TLS "may" with an ECDSA P-256 and an RSA 2048 certificate.
start_postfix() {
  local port=$1 sink_port=$2 p=$tmp/postfix
  mkdir -p "$p/conf" "$p/queue" "$p/data"
  chown postfix:postfix "$p/data"
  cp /etc/postfix/master.cf "$p/conf/master.cf"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=bench.example.test -keyout "$p/ec.key" -out "$p/ec.crt" >/dev/null 2>&1
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
    -subj /CN=bench.example.test -keyout "$p/rsa.key" -out "$p/rsa.crt" >/dev/null 2>&1
  cat "$p/ec.key" "$p/ec.crt" >"$p/ec.pem"
  cat "$p/rsa.key" "$p/rsa.crt" >"$p/rsa.pem"
  chmod 600 "$p"/*.key "$p"/*.pem
  cat >"$p/conf/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $p/queue
data_directory = $p/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$sink_port
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = no
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_tls_security_level = may
smtpd_tls_chain_files = $p/ec.pem, $p/rsa.pem
smtpd_tls_loglevel = 0
smtp_tls_security_level = none
maillog_file_prefixes = $p
maillog_file = $p/maillog
CONF
  # The SMTP listener on our port; nothing chrooted (the queue is not a chroot jail here).
  postconf -c "$p/conf" -M# smtp/inet
  postconf -c "$p/conf" -M "127.0.0.1:$port/inet=127.0.0.1:$port inet n - n - - smtpd"
  postconf -c "$p/conf" -F '*/*/chroot = n'
  postfix_conf=$p/conf
  if ! postfix -c "$p/conf" start >"$p/start.log" 2>&1; then
    cat "$p/start.log" >&2
    postfix_conf=""
    return 1
  fi
  local deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "bench: postfix did not listen on $port" >&2
  return 1
}

# --- processes --------------------------------------------------------------------------------
if [ "$have_postfix" -eq 1 ]; then
  start_smtp_sink "$tmp" "$("$loadgen" --free-port)"
else
  start_loadgen_sink "$loadgen" "$tmp"
fi
gw_port=$("$loadgen" --free-port)
write_gateway_config "$tmp/tlsgate.conf" "$tmp/gateway" "$gw_port" "$SINK_PORT"
start_gateway "$tlsgate" "$tmp/tlsgate.conf" "$tmp/gateway.log"
pf_port=""
if [ "$have_postfix" -eq 1 ]; then
  pf_port=$("$loadgen" --free-port)
  if ! start_postfix "$pf_port" "$SINK_PORT"; then
    echo "bench: the private Postfix did not start; Postfix figures will be n/a" >&2
    have_postfix=0
  fi
fi

# --- table ------------------------------------------------------------------------------------
rows=()
row() { rows+=("$(printf '%-13s %-22s %12s %12s %9s' "$@")"); }
ratio() {
  if [[ "$1" =~ ^[0-9.]+$ && "$2" =~ ^[0-9.]+$ ]] && awk "BEGIN{exit !($2 > 0)}"; then
    awk "BEGIN{printf \"%.2f\", $1 / $2}"
  else echo "n/a"; fi
}
declare -A fig
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# siem_thread_ticks PID: "FORMAT SENDERS KAFKA" CPU ticks of the gateway's SIEM threads (the
# formatter, the per-destination senders, librdkafka's own threads) since they started.
siem_thread_ticks() {
  cat /proc/"$1"/task/*/stat 2>/dev/null | awk '
    { t = $14 + $15 }
    $2 == "(siem-format)" { f += t; next }
    $2 ~ /^\(siem-/ && $2 != "(siem-watch)" { s += t; next }
    $2 ~ /^\(rdk:/ { k += t }
    END { printf "%d %d %d\n", f, s, k }'
}

# run_load NAME SIDE PORT ARGS...: one load, then waits until the sink has every accepted message.
run_load() {
  local name=$1 side=$2 port=$3
  shift 3
  local before out accepted arrived began
  before=$(sink_count)
  echo "bench: $name against $side: $*" >&2
  local cpu0=0 cpu1
  [ "$side" = tlsgate ] && cpu0=$(cpu_ticks "$GATEWAY_PID")
  out=$("$loadgen" --target "127.0.0.1:$port" "$@" 2>>"$tmp/loadgen.err") || true
  echo "bench:   $out" >&2
  if [ "$side" = tlsgate ]; then
    cpu1=$(cpu_ticks "$GATEWAY_PID")
    # The gateway's CPU (user+system) per message or handshake, and its cores busy on average.
    local units
    units=$(field messages "$out")
    [ "${units:-0}" -gt 0 ] || units=$(field handshakes "$out")
    if [ "${units:-0}" -gt 0 ]; then
      fig[$name.tlsgate.cpu_ms]=$(awk "BEGIN{printf \"%.2f\", ($cpu1 - $cpu0) * 1000 / $clk_tck / $units}")
      fig[$name.tlsgate.cores]=$(awk "BEGIN{printf \"%.2f\", ($cpu1 - $cpu0) / $clk_tck / $(field duration_s "$out")}")
    fi
  fi
  accepted=$(field messages "$out")
  began=$SECONDS
  arrived=$(( $(wait_sink_count $((before + ${accepted:-0})) 180) - before ))
  for k in messages errors msgs_per_s handshakes_per_s p50_ms p99_ms p999_ms; do
    fig[$name.$side.$k]=$(field "$k" "$out")
  done
  fig[$name.$side.arrived]=$arrived
  fig[$name.$side.drain_s]=$((SECONDS - began))
}

scenario_args() {
  local common=(--duration "$duration" --size 10240 --per-conn 1 --timeout 60)
  case "$1" in
    starttls-50) echo "${common[@]} --clients 50 --tls 1.3 --cert-type ecdsa" ;;
    plain-50) echo "${common[@]} --clients 50 --tls none" ;;
    handshake-50) echo "--duration $duration --timeout 60 --clients 50 --per-conn 0 --tls 1.3 --cert-type ecdsa" ;;
    single) echo "${common[@]} --clients 1 --tls 1.3 --cert-type ecdsa" ;;
    single-plain) echo "${common[@]} --clients 1 --tls none" ;;
    per-conn-10) echo "--duration $duration --size 10240 --timeout 60 --clients 50 --per-conn 10 --tls 1.3 --cert-type ecdsa" ;;
    size-100k) echo "--duration $duration --size 102400 --timeout 60 --clients 50 --per-conn 1 --tls 1.3 --cert-type ecdsa" ;;
    tls12-rsa) echo "${common[@]} --clients 50 --tls 1.2 --cert-type rsa" ;;
  esac
}

load_row() {
  local name=$1 k=$2 label=$3 g p
  g=${fig[$name.tlsgate.$k]:-n/a}
  p=${fig[$name.postfix.$k]:-n/a}
  row "$name" "$label" "$g" "$p" "$(ratio "$g" "$p")"
}

for name in "${selected[@]}"; do
  [[ "$name" == memory || "$name" == siem ]] && continue
  read -r -a args <<<"$(scenario_args "$name")"
  run_load "$name" tlsgate "$gw_port" "${args[@]}"
  if [ "$have_postfix" -eq 1 ]; then run_load "$name" postfix "$pf_port" "${args[@]}"; fi
  if [ "$name" = handshake-50 ]; then
    load_row "$name" handshakes_per_s "handshakes/s"
  else
    load_row "$name" msgs_per_s "messages/s"
    [[ "$name" == starttls-50 || "$name" == tls12-rsa ]] && load_row "$name" handshakes_per_s "handshakes/s"
  fi
  load_row "$name" p50_ms "latency p50 ms"
  load_row "$name" p99_ms "latency p99 ms"
  load_row "$name" p999_ms "latency p99.9 ms"
  load_row "$name" errors "errors"
  if [ "$name" = handshake-50 ]; then
    row "$name" "gateway CPU ms/hs" "${fig[$name.tlsgate.cpu_ms]:-n/a}" "" ""
  else
    row "$name" "gateway CPU ms/msg" "${fig[$name.tlsgate.cpu_ms]:-n/a}" "" ""
  fi
  row "$name" "gateway cores busy" "${fig[$name.tlsgate.cores]:-n/a}" "" ""
  if [ "$name" != handshake-50 ]; then
    row "$name" "accepted/arrived" \
      "${fig[$name.tlsgate.messages]:-n/a}/${fig[$name.tlsgate.arrived]:-n/a}" \
      "${fig[$name.postfix.messages]:-n/a}/${fig[$name.postfix.arrived]:-n/a}" ""
  fi
done

if [ "$need_postfix" -eq 1 ]; then  # some load ran on this gateway
  peak_kib=$(awk '/^VmHWM:/{print $2}' "/proc/$GATEWAY_PID/status")
  row "memory" "gateway peak RSS MiB" "$(awk "BEGIN{printf \"%.1f\", $peak_kib/1024}")" "n/a" ""
fi

# --- memory: idle sessions on a fresh gateway ----------------------------------------------------
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
# idle_rss_per_session TLS_ARGS...: a fresh gateway, $idle_count idle sessions; sets IDLE_KIB to
# the RSS growth per session (not in a subshell: it restarts the gateway, GATEWAY_PID changes).
idle_rss_per_session() {
  IDLE_KIB=n/a
  stop_pid "$GATEWAY_PID"
  start_gateway "$tlsgate" "$tmp/tlsgate.conf" "$tmp/gateway-idle.log"
  sleep 1
  local base after
  base=$(rss_kib "$GATEWAY_PID")
  rm -f "$tmp/idle.out"  # never read the previous run's line
  "$loadgen" --target "127.0.0.1:$gw_port" --idle "$idle_count" --timeout 60 "$@" \
    >"$tmp/idle.out" 2>>"$tmp/loadgen.err" &
  IDLE_PID=$!
  if ! wait_for_line "$tmp/idle.out" "^idle: open=" 120 || ! grep -q "errors=0" "$tmp/idle.out"; then
    cat "$tmp/idle.out" >&2
    stop_pid "$IDLE_PID"; IDLE_PID=""
    return
  fi
  sleep 1
  after=$(rss_kib "$GATEWAY_PID")
  echo "bench:   $(cat "$tmp/idle.out"): gateway RSS $base -> $after KiB" >&2
  stop_pid "$IDLE_PID"; IDLE_PID=""
  IDLE_KIB=$(awk "BEGIN{printf \"%.1f\", ($after - $base) / $idle_count}")
}
if [[ " ${selected[*]} " == *" memory "* ]]; then
  echo "bench: memory: $idle_count idle plaintext sessions, then $idle_count idle TLS sessions" >&2
  idle_rss_per_session --tls none
  idle_plain=$IDLE_KIB
  idle_rss_per_session --tls 1.3 --cert-type ecdsa
  idle_tls=$IDLE_KIB
  row "memory" "KiB/idle connection" "$idle_plain" "n/a" ""
  row "memory" "KiB/idle TLS session" "$idle_tls" "n/a" ""
  fig[idle_tls]=$idle_tls
fi

# --- siem: events/s per destination, and starttls-50 with SIEM export off and on ----------------
# (1) siem_driver (the exporter alone) pushes siem_events synthetic events (sessions of 4 events)
#     to one destination at a time; events/s = events / (first publish -> the last one sent).
# receivers_cpu_ticks: CPU ticks of the siem scenario's receivers and Kafka mock (SIEM_PIDS but the
# two gateways; the drivers have exited and count 0).
receivers_cpu_ticks() {
  local pid total=0
  for pid in "${SIEM_PIDS[@]}"; do
    [ "$pid" = "$gw_on" ] || [ "$pid" = "$gw_off" ] || total=$((total + $(cpu_ticks "$pid" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
# (2) Two fresh gateways, one without [siem], one with every destination at once; the starttls-50
#     load alternates between them (off, on, off, on...): messages/s and gateway CPU per message.
siem_driver_run() {  # NAME SPEC: sets DRV_RATE, DRV_SENT, DRV_DROPPED, DRV_ERRORS
  local name=$1 spec=$2 d=$tmp/siem/driver-$1 w r line t0 t1 stats=""
  DRV_RATE=n/a DRV_SENT=n/a DRV_DROPPED=n/a DRV_ERRORS=n/a
  mkdir -p "$d"
  mkfifo "$d/in" "$d/out"
  "$siem_driver" --stop-ms 10000 --dest "$spec" <"$d/in" >"$d/out" 2>"$d/err" &
  local pid=$!
  SIEM_PIDS+=("$pid")
  exec {w}>"$d/in" {r}<"$d/out"
  if read -r -t 30 line <&"$r" && [ "$line" = ready ]; then
    t0=$(date +%s%N)
    echo "sessions $((siem_events / 4)) bench-$name" >&"$w"
    read -r -t 300 line <&"$r" || line=""
    echo "wait-sent $siem_events 300" >&"$w"
    read -r -t 310 line <&"$r" || line=""
    t1=$(date +%s%N)
    [ "$line" = ok ] || echo "bench:   siem $name: not every event sent within 300 s" >&2
    echo stats >&"$w"
    while read -r -t 30 line <&"$r" && [ "$line" != . ]; do stats+=$line; done
    DRV_SENT=$(sed -n 's/.*"sent":\([0-9]*\).*/\1/p' <<<"$stats")
    DRV_DROPPED=$(sed -n 's/.*"dropped":\([0-9]*\).*/\1/p' <<<"$stats")
    DRV_ERRORS=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$stats")
    DRV_RATE=$(awk "BEGIN{printf \"%.0f\", ${DRV_SENT:-0} * 1e9 / ($t1 - $t0)}")
    echo "bench:   siem $name: $stats in $(( (t1 - t0) / 1000000 )) ms" >&2
    echo quit >&"$w"
    while read -r -t 30 line <&"$r" && [ "$line" != . ]; do :; done
  else
    echo "bench:   siem_driver did not start: $(cat "$d/err")" >&2
  fi
  exec {w}>&- {r}<&-
  stop_pid "$pid"
}

file_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# siem_settle COUNT_COMMAND...: waits (up to 60 s) until the count stops growing for 2 s.
siem_settle() {
  local last=-1 n stable=0 deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    n=$("$@")
    if [ "$n" = "$last" ]; then stable=$((stable + 1)); [ "$stable" -ge 4 ] && break
    else stable=0; last=$n; fi
    sleep 0.5
  done
}

if [[ " ${selected[*]} " == *" siem "* ]]; then
  siem_events=200000
  siem_rounds=3
  [ "$quick" -eq 1 ] && siem_events=40000 && siem_rounds=2
  s=$tmp/siem
  mkdir -p "$s"
  echo "bench: siem: receivers $(command -v rsyslogd >/dev/null && echo rsyslog || echo python), Kafka mock" >&2
  make_siem_pki "$s/pki"
  declare -A recv_dir recv_port
  for mode in tcp udp tls; do
    recv_dir[$mode]=$s/recv-$mode
    start_syslog_receiver "${recv_dir[$mode]}" "$mode" "$s/pki"
    SIEM_PIDS+=("$RECEIVER_PID")
    recv_port[$mode]=$RECEIVER_PORT
  done
  start_kafka_mock "$kafka_mock" "$s/kafka" bench-driver bench-gateway
  SIEM_PIDS+=("$KAFKA_PID")

  # (1) events/s per destination type. queue_capacity holds every event: the figure is the
  # sender's rate, not the bus shedding a burst.
  q=queue_capacity=$((siem_events + 1000))
  declare -A spec
  spec[file]="file:type=file,format=ecs,path=$s/driver-events.json,rotate_size=4G,buffer_dir=$s/buf-file,$q"
  spec[syslog-tcp]="tcp:type=syslog-tcp,format=cef,host=127.0.0.1,port=${recv_port[tcp]},buffer_dir=$s/buf-tcp,$q"
  spec[syslog-udp]="udp:type=syslog-udp,format=leef,host=127.0.0.1,port=${recv_port[udp]},buffer_dir=$s/buf-udp,$q"
  spec[syslog-tls]="tls:type=syslog-tls,format=ecs,host=127.0.0.1,server_name=localhost,port=${recv_port[tls]},ca_file=$s/pki/ca.pem,buffer_dir=$s/buf-tls,$q"
  spec[kafka]="kafka:type=kafka,format=ecs,brokers=$KAFKA_BOOTSTRAP,topic=bench-driver,buffer_dir=$s/buf-kafka,$q"
  declare -A fmt=([file]=ecs [syslog-tcp]=cef [syslog-udp]=leef [syslog-tls]=ecs [kafka]=ecs)
  for dest in file syslog-tcp syslog-udp syslog-tls kafka; do
    echo "bench: siem: $siem_events events to $dest (${fmt[$dest]})" >&2
    case "$dest" in
      file) count_cmd=(file_lines "$s/driver-events.json") ;;
      kafka) count_cmd=(kafka_count "$KAFKA_BOOTSTRAP" bench-driver) ;;
      *) count_cmd=(receiver_count "${recv_dir[${dest#syslog-}]}") ;;
    esac
    before=0
    [ "$dest" = file ] || before=$("${count_cmd[@]}")
    siem_driver_run "${dest#syslog-}" "${spec[$dest]}"
    siem_settle "${count_cmd[@]}"
    arrived=$("${count_cmd[@]}")
    [[ "$arrived" =~ ^[0-9]+$ ]] && arrived=$((arrived - before))
    row "siem" "$dest ${fmt[$dest]} ev/s" "$DRV_RATE" "" ""
    row "siem" "  sent/arrived" "$DRV_SENT/$arrived" "" ""
    [ "${DRV_DROPPED:-0}" = 0 ] && [ "${DRV_ERRORS:-0}" = 0 ] ||
      row "siem" "  dropped/errors" "$DRV_DROPPED/$DRV_ERRORS" "" ""
  done

  # (2) starttls-50 against a gateway without SIEM export and one with all five destinations.
  stop_pid "$GATEWAY_PID"  # the load scenarios' gateway: not needed any more
  GATEWAY_PID=""
  off_port=$("$loadgen" --free-port)
  write_gateway_config "$s/off.conf" "$s/gw-off" "$off_port" "$SINK_PORT"
  start_gateway "$tlsgate" "$s/off.conf" "$s/gw-off.log"
  gw_off=$GATEWAY_PID
  SIEM_PIDS+=("$gw_off")
  on_port=$("$loadgen" --free-port)
  write_gateway_config "$s/on.conf" "$s/gw-on" "$on_port" "$SINK_PORT"
  cat >>"$s/on.conf" <<CONF

[siem]
destinations = file, tcp, udp, tls, kafka

[siem.file]
type = file
format = ecs
path = $s/gateway-events.json
rotate_size = 4G

[siem.tcp]
type = syslog-tcp
format = cef
host = 127.0.0.1
port = ${recv_port[tcp]}

[siem.udp]
type = syslog-udp
format = leef
host = 127.0.0.1
port = ${recv_port[udp]}

[siem.tls]
type = syslog-tls
format = ecs
host = 127.0.0.1
server_name = localhost
port = ${recv_port[tls]}
ca_file = $s/pki/ca.pem

[siem.kafka]
type = kafka
format = ecs
brokers = $KAFKA_BOOTSTRAP
topic = bench-gateway
CONF
  GATEWAY_PID=""
  start_gateway "$tlsgate" "$s/on.conf" "$s/gw-on.log"
  gw_on=$GATEWAY_PID
  SIEM_PIDS+=("$gw_on")
  GATEWAY_PID=""
  declare -A recv_before
  # Counted from here: the "on" gateway's start published certificate events already.
  for mode in tcp udp tls; do recv_before[$mode]=$(receiver_count "${recv_dir[$mode]}"); done
  siem_settle file_lines "$s/gateway-events.json"
  recv_before[file]=$(file_lines "$s/gateway-events.json")
  recv_before[kafka]=$(kafka_count "$KAFKA_BOOTSTRAP" bench-gateway)
  read -r -a args <<<"$(scenario_args starttls-50)"
  read -r siem_f0 siem_s0 siem_k0 <<<"$(siem_thread_ticks "$gw_on")"
  recv_cpu0=$(receivers_cpu_ticks)
  for round in $(seq "$siem_rounds"); do
    GATEWAY_PID=$gw_off
    run_load "siem-off-$round" tlsgate "$off_port" "${args[@]}"
    GATEWAY_PID=$gw_on
    run_load "siem-on-$round" tlsgate "$on_port" "${args[@]}"
    GATEWAY_PID=""
  done
  # Totals over the rounds: messages / load seconds, CPU ms / messages.
  for side in off on; do
    m=0 d=0 c=0 e=0 a=0
    for round in $(seq "$siem_rounds"); do
      k=siem-$side-$round.tlsgate
      m=$((m + ${fig[$k.messages]:-0}))
      a=$((a + ${fig[$k.arrived]:-0}))
      e=$((e + ${fig[$k.errors]:-0}))
      d=$(awk "BEGIN{print $d + ${fig[$k.messages]:-0} / (${fig[$k.msgs_per_s]:-0} + 1e-9)}")
      c=$(awk "BEGIN{print $c + ${fig[$k.cpu_ms]:-0} * ${fig[$k.messages]:-0}}")
      echo "bench:   siem $side round $round: ${fig[$k.msgs_per_s]:-n/a} msgs/s, ${fig[$k.cpu_ms]:-n/a} CPU ms/msg" >&2
    done
    fig[siem.$side.msgs_per_s]=$(awk "BEGIN{printf \"%.1f\", $m / ($d + 1e-9)}")
    fig[siem.$side.cpu_ms]=$(awk "BEGIN{printf \"%.2f\", $c / ($m + 1e-9)}")
    fig[siem.$side.messages]=$m
    fig[siem.$side.arrived]=$a
    fig[siem.$side.errors]=$e
  done
  fig[siem.ratio]=$(ratio "${fig[siem.on.msgs_per_s]}" "${fig[siem.off.msgs_per_s]}")
  fig[siem.cpu_ratio]=$(ratio "${fig[siem.on.cpu_ms]}" "${fig[siem.off.cpu_ms]}")
  fig[siem.errors]=$((${fig[siem.off.errors]} + ${fig[siem.on.errors]}))
  row "siem" "starttls-50 msgs/s off" "${fig[siem.off.msgs_per_s]}" "" ""
  row "siem" "starttls-50 msgs/s on" "${fig[siem.on.msgs_per_s]}" "" "${fig[siem.ratio]}"
  row "siem" "CPU ms/msg off" "${fig[siem.off.cpu_ms]}" "" ""
  row "siem" "CPU ms/msg on" "${fig[siem.on.cpu_ms]}" "" "${fig[siem.cpu_ratio]}"
  # Where the "on" gateway's extra CPU went, and what the receivers (on the same two cores) used.
  read -r siem_f1 siem_s1 siem_k1 <<<"$(siem_thread_ticks "$gw_on")"
  recv_cpu1=$(receivers_cpu_ticks)
  per_msg() { awk "BEGIN{printf \"%.3f\", $1 * 1000 / $clk_tck / (${fig[siem.on.messages]} + 1e-9)}"; }
  echo "bench:   siem gateway threads (CPU ticks since start): $(cat /proc/"$gw_on"/task/*/stat 2>/dev/null |
    awk '$2 ~ /^\((siem|rdk)/ {t[$2] += $14 + $15} END {for (n in t) printf "%s=%d ", n, t[n]}')" >&2
  row "siem" "CPU ms/msg: formatter" "$(per_msg $((siem_f1 - siem_f0)))" "" ""
  row "siem" "CPU ms/msg: senders" "$(per_msg $((siem_s1 - siem_s0)))" "" ""
  row "siem" "CPU ms/msg: librdkafka" "$(per_msg $((siem_k1 - siem_k0)))" "" ""
  row "siem" "receivers CPU ms/msg" "$(per_msg $((recv_cpu1 - recv_cpu0)))" "" ""
  row "siem" "errors off/on" "${fig[siem.off.errors]}/${fig[siem.on.errors]}" "" ""
  row "siem" "accepted/arrived off" "${fig[siem.off.messages]}/${fig[siem.off.arrived]}" "" ""
  row "siem" "accepted/arrived on" "${fig[siem.on.messages]}/${fig[siem.on.arrived]}" "" ""
  # What the gateway's exporter delivered during the "on" loads, per destination.
  siem_settle file_lines "$s/gateway-events.json"
  events_file=$(( $(file_lines "$s/gateway-events.json") - ${recv_before[file]} ))
  row "siem" "gw events: file" "$events_file" "" ""
  for mode in tcp udp tls; do
    row "siem" "gw events: syslog-$mode" "$(( $(receiver_count "${recv_dir[$mode]}") - ${recv_before[$mode]} ))" "" ""
  done
  events_kafka=$(kafka_count "$KAFKA_BOOTSTRAP" bench-gateway)
  [[ "$events_kafka" =~ ^[0-9]+$ ]] && events_kafka=$((events_kafka - ${recv_before[kafka]}))
  row "siem" "gw events: kafka" "$events_kafka" "" ""
  row "siem" "gw events/message" "$(ratio "$events_file" "${fig[siem.on.messages]}")" "" ""
  if grep -q "siem destination=.* down" "$s/gw-on.log"; then
    row "siem" "destination down" "$(grep -c "siem destination=.* down" "$s/gw-on.log") times" "" ""
  fi
fi

# --- crypto ceiling -------------------------------------------------------------------------------
speed=$(openssl speed -seconds 1 ecdsap256 ecdhx25519 rsa2048 2>/dev/null)
ecdsa_sign=$(awk '/ecdsa \(nistp256\)/{print $(NF-1)}' <<<"$speed")
ecdsa_verify=$(awk '/ecdsa \(nistp256\)/{print $NF}' <<<"$speed")
x25519=$(awk '/ecdh \(X25519\)/{print $NF}' <<<"$speed")
rsa_sign=$(awk '/^rsa 2048 bits/{print $(NF-1)}' <<<"$speed")
cores=$(nproc 2>/dev/null || echo 1)
# A full TLS 1.3 handshake with ECDSA: the server signs once and does two X25519 operations
# (key generation and derivation); the client verifies once and does two as well.
server_core=$(awk "BEGIN{printf \"%.0f\", 1 / (1/$ecdsa_sign + 2/$x25519)}")
server_rsa_core=$(awk "BEGIN{printf \"%.0f\", 1 / (1/$rsa_sign + 2/$x25519)}")
colocated=$(awk "BEGIN{printf \"%.0f\", $cores / (1/$ecdsa_sign + 1/$ecdsa_verify + 4/$x25519)}")
row "crypto" "ECDSA P-256 sign/s" "$ecdsa_sign" "" ""
row "crypto" "X25519 op/s" "$x25519" "" ""
row "crypto" "RSA-2048 sign/s" "$rsa_sign" "" ""
row "crypto" "ECDSA hs/s ceiling/core" "$server_core" "" ""
row "crypto" "RSA hs/s ceiling/core" "$server_rsa_core" "" ""
row "crypto" "hs/s ceiling, $cores cores" "$((server_core * cores))" "" ""
row "crypto" "ceiling w/ client, $cores c" "$colocated" "" ""
# OpenSSL alone (tlsgate-hscost): a server handshake with no socket, thread or SMTP around it.
hscost=$("$(dirname "$loadgen")/tlsgate-hscost" 3000 1 2>/dev/null || true)
hs_alone_us=$(sed -n 's/.*server_us=\([0-9.]*\).*/\1/p' <<<"$hscost")
hs_alone_rate=$(sed -n 's/.*server_hs_per_core_s=\([0-9]*\).*/\1/p' <<<"$hscost")
if [ -n "$hs_alone_rate" ]; then
  row "crypto" "OpenSSL alone us/hs" "$hs_alone_us" "" ""
  row "crypto" "OpenSSL alone hs/core-s" "$hs_alone_rate" "" ""
  row "crypto" "  / ceiling per core" "$(ratio "$hs_alone_rate" "$server_core")" "" ""
fi
hs=${fig[handshake-50.tlsgate.handshakes_per_s]:-}
if [ -n "$hs" ]; then
  row "crypto" "handshake-50 / ${cores}-core" "$(ratio "$hs" "$((server_core * cores))")" \
      "$(ratio "${fig[handshake-50.postfix.handshakes_per_s]:-}" "$((server_core * cores))")" ""
  row "crypto" "handshake-50 / w-client" "$(ratio "$hs" "$colocated")" \
      "$(ratio "${fig[handshake-50.postfix.handshakes_per_s]:-}" "$colocated")" ""
  # Per CPU the gateway actually used: handshakes per gateway core-second against one core's ceiling.
  cpu_ms=${fig[handshake-50.tlsgate.cpu_ms]:-}
  if [ -n "$cpu_ms" ]; then
    per_core=$(awk "BEGIN{printf \"%.0f\", 1000 / $cpu_ms}")
    row "crypto" "gateway hs/core-second" "$per_core" "" ""
    row "crypto" "  / ceiling per core" "$(ratio "$per_core" "$server_core")" "" ""
    [ -n "$hs_alone_rate" ] &&
      row "crypto" "  / OpenSSL alone" "$(ratio "$per_core" "$hs_alone_rate")" "" ""
  fi
fi

# --- print ------------------------------------------------------------------------------------------
echo
echo "tlsgate benchmark $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r), ${duration} s per load$([ "$quick" -eq 1 ] && echo ' (--quick)')"
echo "Postfix: $([ "$have_postfix" -eq 1 ] && postconf -d -h mail_version || echo 'n/a'); sink: $SINK_KIND; ratios are tlsgate/Postfix (for latency lower is better)"
printf '%-13s %-22s %12s %12s %9s\n' scenario figure tlsgate postfix ratio
printf '%s\n' "${rows[@]}"

# Goals of the benchmark issue (measured, never asserted).
echo
goal() { printf '%-62s %s\n' "$1" "$2"; }
verdict() {
  if [[ "$1" == *n/a* ]]; then echo "not measured"
  elif awk "BEGIN{exit !($1)}" 2>/dev/null; then echo met; else echo missed; fi
}
if [ -n "${fig[starttls-50.tlsgate.msgs_per_s]:-}" ] && [ "$have_postfix" -eq 1 ]; then
  r=$(ratio "${fig[starttls-50.tlsgate.msgs_per_s]}" "${fig[starttls-50.postfix.msgs_per_s]}")
  p=$(ratio "${fig[starttls-50.tlsgate.p99_ms]}" "${fig[starttls-50.postfix.p99_ms]}")
  e=${fig[starttls-50.tlsgate.errors]:-1}
  goal "STARTTLS-50 >= 1.5x Postfix msgs/s, no failures ($r x, $e errors)" \
       "$(verdict "$r >= 1.5 && $e == 0")"
  goal "STARTTLS-50 p99 no worse than Postfix (ratio $p)" "$(verdict "$p <= 1.0")"
fi
if [ -n "${fig[plain-50.tlsgate.msgs_per_s]:-}" ] && [ "$have_postfix" -eq 1 ]; then
  r=$(ratio "${fig[plain-50.tlsgate.msgs_per_s]}" "${fig[plain-50.postfix.msgs_per_s]}")
  goal "plain-50 >= 1.5x Postfix msgs/s ($r x)" "$(verdict "$r >= 1.5")"
fi
if [ -n "$hs" ]; then
  f=$(ratio "$hs" "$((server_core * cores))")
  goal "handshakes/s >= 50% of the ECDSA ceiling, $cores cores ($f)" "$(verdict "$f >= 0.5")"
  f=$(ratio "$hs" "$colocated")
  goal "  same, ceiling shared with the client's crypto ($f)" "$(verdict "$f >= 0.5")"
  if [ -n "${per_core:-}" ]; then
    f=$(ratio "$per_core" "$server_core")
    goal "  same, per core the gateway used ($f)" "$(verdict "$f >= 0.5")"
  fi
fi
if [ -n "${fig[idle_tls]:-}" ]; then
  goal "<= 64 KiB RSS per idle TLS session (${fig[idle_tls]} KiB)" \
       "$(verdict "${fig[idle_tls]} <= 64")"
fi
if [ -n "${fig[siem.ratio]:-}" ]; then
  goal "SIEM export to all destinations costs < 5% of throughput (on/off ${fig[siem.ratio]})" \
       "$(verdict "${fig[siem.ratio]} >= 0.95 && ${fig[siem.errors]:-1} == 0")"
  goal "  same, gateway CPU per message (on/off ${fig[siem.cpu_ratio]})" \
       "$(verdict "${fig[siem.cpu_ratio]} <= 1.05")"
else
  goal "SIEM export costs < 5% of throughput" "not measured (scenario siem)"
fi
