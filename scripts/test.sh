#!/usr/bin/env bash
# Runs Periscope's test suite on a fresh machine: installs what the tests talk to, then tests.
#
# The command monitor's tests run the real Monitoring Plugins (check_load, check_disk,
# check_procs, check_tcp...), so the Debian packages are installed when missing. The broker
# tests talk to the real RabbitMQ, NATS (JetStream) and Mosquitto servers on loopback, and the
# state database tests to the real PostgreSQL; scripts/services.sh starts them when they are down.
set -euo pipefail
cd "$(dirname "$0")/.."

# Time-zone tests read the system's tz database.
plugins=/usr/lib/nagios/plugins
need=()
[ -x "$plugins/check_load" ] && [ -x "$plugins/check_tcp" ] || need+=(monitoring-plugins-basic monitoring-plugins-standard)
[ -d /usr/share/zoneinfo/Europe ] || need+=(tzdata)
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "==> services (PostgreSQL 5432, RabbitMQ 5672, NATS 4222, Mosquitto 1883)"
bash scripts/services.sh

echo "==> cargo test --workspace"
cargo test --workspace --locked "$@"
