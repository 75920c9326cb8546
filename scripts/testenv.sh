#!/usr/bin/env bash
# Start or stop the throwaway services the test suite runs against: a PostgreSQL 15 cluster
# and a Redis server, both on loopback, with their data under $KB_TESTENV_DIR.
# Usage:
#   scripts/testenv.sh run -- CMD...   start the services in a fresh directory (mktemp, unless
#                                      KB_TESTENV_DIR is set), run CMD with DATABASE_URL and
#                                      TEST_REDIS_URL exported, then stop them and remove the
#                                      directory on any exit: CMD's failure, Ctrl-C, a failed start
#   scripts/testenv.sh start|stop|env  the same steps by hand (KB_TESTENV_DIR, default
#                                      /tmp/kb-testenv); a failed start stops what it started
set -euo pipefail

DIR=${KB_TESTENV_DIR:-}
PG_PORT=${KB_TEST_PG_PORT:-54329}
REDIS_PORT=${KB_TEST_REDIS_PORT:-63799}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

# postgres refuses to run as root: run its commands as the 'postgres' system user then.
as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

print_env() {
  # The ports start() ended up on (it moves off a port something else holds).
  # shellcheck disable=SC1091
  [ -f "$DIR/ports" ] && . "$DIR/ports"
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
  # Whatever fails below (initdb, a port, Redis), stop what was already started.
  trap 'stop' EXIT
  as_pg "$PG_BIN/initdb" -D "$DIR/pg" -U kb --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; exit 1; }
  # A fixed port can be taken, e.g. as the local end of some client's connection (these ports
  # lie in Linux's ephemeral range): on "address already in use", move up and try again.
  local attempt
  for attempt in 1 2 3 4 5 6; do
    # Durability is pointless for a throwaway test cluster: turn it off for speed.
    if as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg.log" -w -t 60 \
      -o "-p ${PG_PORT} -k ${DIR} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null; then
      break
    fi
    if [ "$attempt" = 6 ] || ! grep -q "already in use" "$DIR/pg.log"; then
      cat "$DIR/pg.log" >&2
      exit 1
    fi
    echo "port ${PG_PORT} is taken: trying $((PG_PORT + 1)) for PostgreSQL" >&2
    PG_PORT=$((PG_PORT + 1))
  done
  as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U kb kb
  for attempt in 1 2 3 4 5 6; do
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --dir "$DIR"
    for _ in $(seq 1 50); do
      redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break 2
      grep -q "already in use" "$DIR/redis.log" 2>/dev/null && break
      sleep 0.1
    done
    if [ "$attempt" = 6 ] || ! grep -q "already in use" "$DIR/redis.log" 2>/dev/null; then
      cat "$DIR/redis.log" >&2
      exit 1
    fi
    echo "port ${REDIS_PORT} is taken: trying $((REDIS_PORT + 1)) for Redis" >&2
    : >"$DIR/redis.log"
    REDIS_PORT=$((REDIS_PORT + 1))
  done
  redis-cli -p "$REDIS_PORT" ping >/dev/null
  printf 'PG_PORT=%s\nREDIS_PORT=%s\n' "$PG_PORT" "$REDIS_PORT" >"$DIR/ports"
  trap - EXIT
  echo "test services up: PostgreSQL on 127.0.0.1:${PG_PORT}, Redis on 127.0.0.1:${REDIS_PORT}" >&2
}

run() {
  [ "${1:-}" = "--" ] && shift
  [ $# -gt 0 ] || { echo "usage: $0 run -- CMD..." >&2; exit 2; }
  local own_dir=""
  if [ -z "$DIR" ]; then
    # A directory per run: concurrent runs (two checkouts, two CI jobs) never share one.
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/kb-testenv.XXXXXX")
    own_dir=1
  fi
  # Registered before anything starts: the services go away on every way out of this script.
  # shellcheck disable=SC2064
  trap "stop; [ -n '$own_dir' ] && rm -rf '$DIR'; true" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  ( start )  # its own EXIT trap stops a half-started set; ours covers the rest
  eval "$(print_env)"
  export KB_TESTENV_DIR="$DIR"
  local rc=0
  "$@" || rc=$?
  exit "$rc"
}

case "${1:-}" in
  start) DIR=${DIR:-/tmp/kb-testenv}; start ;;
  stop) DIR=${DIR:-/tmp/kb-testenv}; stop ;;
  env) DIR=${DIR:-/tmp/kb-testenv}; print_env ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 run -- CMD... | start | stop | env" >&2; exit 2 ;;
esac
