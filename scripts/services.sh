#!/usr/bin/env bash
# Make PostgreSQL, Redis and RabbitMQ reachable on 127.0.0.1 for `just dev` and `just test`.
# With a Docker engine (and NEXGATE_SERVICES != local) the compose stack provides them;
# otherwise the locally installed services are started if they are down (needs root).
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # name port seconds
  local deadline=$((SECONDS + $3))
  until port_open "$2"; do
    if ((SECONDS > deadline)); then echo "services: $1 did not come up on port $2" >&2; exit 1; fi
    sleep 0.25
  done
}

if [[ "${NEXGATE_SERVICES:-auto}" != local ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker compose up -d --wait postgres redis rabbitmq minio
  exit 0
fi

if ! port_open 5432; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
fi
if ! port_open 6379; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! port_open 5672; then
  echo "services: starting RabbitMQ (about 5 s)"
  rabbitmq-server -detached
  for _ in $(seq 1 240); do rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1 && break; sleep 0.25; done
fi
wait_port PostgreSQL 5432 60
wait_port Redis 6379 30
wait_port RabbitMQ 5672 90
echo "services: PostgreSQL, Redis and RabbitMQ are up"
