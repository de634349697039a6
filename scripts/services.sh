#!/usr/bin/env bash
# Makes sure the servers the tests talk to are running: PostgreSQL (127.0.0.1:5432, the shared
# alert state database), and the message brokers of the receiver tests: RabbitMQ
# (127.0.0.1:5672), NATS with JetStream (127.0.0.1:4222) and Mosquitto (127.0.0.1:1883).
#
# Starts whichever is not accepting connections and waits (at most 60 s in all) until it does.
# Idempotent and quiet when everything is up; exits non-zero naming what did not come up.
set -euo pipefail

deadline=$((SECONDS + 60))

# True when something accepts TCP connections on 127.0.0.1:$1.
listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_postgres() {
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
}

start_rabbitmq() {
  rabbitmq-server -detached >/dev/null 2>&1
}

start_nats() {
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
}

start_mosquitto() {
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
}

started=()
for service in "postgres 5432" "rabbitmq 5672" "nats 4222" "mosquitto 1883"; do
  set -- $service
  name=$1 port=$2
  if ! listening "$port"; then
    echo "==> starting $name (nothing on 127.0.0.1:$port)"
    "start_$name" || echo "==> starting $name failed; waiting in case it is coming up anyway" >&2
    started+=("$name $port")
  fi
done

failed=0
for service in "${started[@]}"; do
  set -- $service
  name=$1 port=$2
  until listening "$port"; do
    if ((SECONDS >= deadline)); then
      echo "error: $name is not accepting connections on 127.0.0.1:$port after 60 s" >&2
      failed=1
      break
    fi
    sleep 0.5
  done
  if listening "$port"; then
    echo "==> $name is up on 127.0.0.1:$port"
  fi
done
exit "$failed"
