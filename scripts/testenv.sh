#!/usr/bin/env bash
# Start or stop the throwaway services the test suite runs against: a PostgreSQL 15 cluster
# and a Redis server, both on loopback, with their data under $KB_TESTENV_DIR.
# Usage: scripts/testenv.sh start|stop|env
set -euo pipefail

DIR=${KB_TESTENV_DIR:-/tmp/kb-testenv}
PG_PORT=${KB_TEST_PG_PORT:-54329}
REDIS_PORT=${KB_TEST_REDIS_PORT:-63799}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

# postgres refuses to run as root: run its commands as the 'postgres' system user then.
as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

print_env() {
  echo "export DATABASE_URL=postgres://kb@127.0.0.1:${PG_PORT}/kb"
  echo "export TEST_REDIS_URL=redis://127.0.0.1:${REDIS_PORT}/0"
}

stop() {
  if [ -n "${PG_BIN}" ] && [ -f "$DIR/pg/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -f "$DIR/redis.pid" ]; then
    kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
    rm -f "$DIR/redis.pid"
  fi
}

start() {
  if [ -z "${PG_BIN}" ] || ! command -v redis-server >/dev/null; then
    echo "PostgreSQL or Redis missing: run 'make test-deps' (apt-get install postgresql redis-server)" >&2
    exit 1
  fi
  stop
  rm -rf "$DIR"
  mkdir -p "$DIR"
  chmod 777 "$DIR"
  as_pg "$PG_BIN/initdb" -D "$DIR/pg" -U kb --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; exit 1; }
  # Durability is pointless for a throwaway test cluster: turn it off for speed.
  as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg.log" -w -t 60 \
    -o "-p ${PG_PORT} -k ${DIR} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$DIR/pg.log" >&2; exit 1; }
  as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U kb kb
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --dir "$DIR"
  for _ in $(seq 1 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$REDIS_PORT" ping >/dev/null
  echo "test services up: PostgreSQL on 127.0.0.1:${PG_PORT}, Redis on 127.0.0.1:${REDIS_PORT}" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
