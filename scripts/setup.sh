#!/usr/bin/env bash
# Installs what tlsgate needs to build and test on Debian 12, and nothing that is already there.
# Idempotent and non-interactive: safe to run on every build, in CI and on a fresh machine.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config ccache
  # libraries tlsgate links
  libpoco-dev libssl-dev openssl libsnmp-dev librdkafka-dev
  # tests
  libgtest-dev libgmock-dev libclang-rt-14-dev clang python3 python3-cryptography swaks libnet-ssleay-perl
  # MIB check (mibs/): smilint, smidump; snmptranslate; NET-SNMP-MIB (libsnmp-base, with snmp).
  # The IETF base MIB modules come from npm's net-snmp, installed by the test itself.
  smitools snmp
  # SNMP integration test: a private snmpd (AgentX master) and snmptrapd.
  snmpd snmptrapd
  # SIEM export tests: a syslog receiver (with its OpenSSL TLS driver) and a Kafka client.
  rsyslog rsyslog-openssl kcat
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
