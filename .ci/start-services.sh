#!/usr/bin/env bash
# Starts what the store specs need, on loopback only, and waits until each answers:
#   - Redis on 127.0.0.1:6379 (and ::1)
#   - PostgreSQL on 127.0.0.1:5432, with a database "test" (POSTGRES_DB to change it)
#   - a Redis Cluster of 3 masters, only when REDIS_CLUSTER_PORTS is set (e.g. "7101,7102,7103"):
#     without it the test run starts a cluster of its own on free ports chosen at run time and stops
#     it at the end (spec/support/redisCluster.ts), so concurrent runs never share or stop each
#     other's cluster. A cluster started here is never stopped by a test run.
# Idempotent: a service that already answers is left alone. Exits non-zero, saying which service
# and why, when one cannot be reached. Debian packages: redis-server, postgresql.
set -euo pipefail

CLUSTER_PORTS="${REDIS_CLUSTER_PORTS:-}"
CLUSTER_DIR="${REDIS_CLUSTER_DIR:-/tmp/ccp-redis-cluster-${CLUSTER_PORTS//,/-}}"
POSTGRES_DB="${POSTGRES_DB:-test}"

say() { echo "start-services: $*"; }
fail() { echo "start-services: ERROR: $*" >&2; exit 1; }

# wait_for <seconds> <description> <command...>: retries the command every 0.2 s.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local tries=$((seconds * 5))
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  fail "$what did not answer within ${seconds}s"
}

# --- Redis ------------------------------------------------------------------------------------
command -v redis-server >/dev/null 2>&1 || fail "redis-server is not installed (apt-get install redis-server)"
command -v redis-cli >/dev/null 2>&1 || fail "redis-cli is not installed (apt-get install redis-tools)"
if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  say "Redis already answers on 127.0.0.1:6379"
else
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log \
    || fail "redis-server did not start (see /var/log/redis/ci.log)"
  wait_for 10 "Redis on 127.0.0.1:6379 (log: /var/log/redis/ci.log)" sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG'
  say "Redis started on 127.0.0.1:6379"
fi

# --- PostgreSQL -------------------------------------------------------------------------------
command -v pg_isready >/dev/null 2>&1 || fail "PostgreSQL client tools are not installed (apt-get install postgresql)"
if pg_isready -q -h 127.0.0.1 -p 5432; then
  say "PostgreSQL already answers on 127.0.0.1:5432"
else
  [ -d /etc/postgresql ] || fail "no PostgreSQL cluster in /etc/postgresql (apt-get install postgresql)"
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start \
    || fail "pg_ctlcluster $version main start failed (see /var/log/postgresql/postgresql-$version-main.log)"
  wait_for 30 "PostgreSQL on 127.0.0.1:5432" pg_isready -q -h 127.0.0.1 -p 5432
  say "PostgreSQL $version started on 127.0.0.1:5432"
fi
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1" >/dev/null 2>&1 \
  || fail "PostgreSQL answers but user postgres cannot log in from 127.0.0.1 (allow it in pg_hba.conf)"
if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$POSTGRES_DB'")" != "1" ]; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE \"$POSTGRES_DB\"" || fail "could not create database $POSTGRES_DB"
  say "created database $POSTGRES_DB"
fi

# --- Redis Cluster ----------------------------------------------------------------------------
if [ -z "$CLUSTER_PORTS" ]; then
  redis-server --version 2>/dev/null | grep -q "v=[6-9]" || fail "redis-server 6 or later is needed for the Redis Cluster tests"
  say "Redis Cluster: REDIS_CLUSTER_PORTS is not set; the test run starts one of its own on free ports"
  say "all services answer"
  exit 0
fi
IFS=, read -r -a ports <<<"$CLUSTER_PORTS"
cluster_ok() {
  for port in "${ports[@]}"; do
    redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q "cluster_state:ok" || return 1
  done
}
answering=0
for port in "${ports[@]}"; do
  if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then answering=$((answering + 1)); fi
done
if [ "$answering" -eq "${#ports[@]}" ] && cluster_ok; then
  say "Redis Cluster already answers on ports $CLUSTER_PORTS"
else
  [ "$answering" -eq 0 ] || fail "some of ports $CLUSTER_PORTS answer but do not form a healthy cluster; stop them or set REDIS_CLUSTER_PORTS"
  mkdir -p "$CLUSTER_DIR"
  for port in "${ports[@]}"; do
    rm -f "$CLUSTER_DIR/nodes-$port.conf"
    redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "$CLUSTER_DIR/nodes-$port.conf" --save "" --appendonly no \
      --daemonize yes --dir "$CLUSTER_DIR" --logfile "$CLUSTER_DIR/redis-$port.log" \
      || fail "redis-server did not start on port $port (see $CLUSTER_DIR/redis-$port.log)"
  done
  for port in "${ports[@]}"; do
    wait_for 10 "Redis Cluster node 127.0.0.1:$port" sh -c "redis-cli -h 127.0.0.1 -p $port ping | grep -q PONG"
  done
  nodes=()
  for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 \
    || fail "redis-cli --cluster create failed (see $CLUSTER_DIR/create.log)"
  wait_for 20 "Redis Cluster (cluster_state:ok) on ports $CLUSTER_PORTS" cluster_ok
  say "Redis Cluster started on ports $CLUSTER_PORTS (files in $CLUSTER_DIR)"
fi

say "all services answer"
