#!/usr/bin/env bash
# `make demo`'s last step: serve, and once the port answers print the banner (URLs, logins).
# The server warms up (model, index) before it binds, so "ready" means fast first requests.
# Usage: scripts/demo-serve.sh PYTHON HOST PORT
set -u
PYTHON=$1 HOST=$2 PORT=$3
"$PYTHON" manage.py runserver --noreload "$HOST:$PORT" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server"; exit 0' INT TERM
until (: >"/dev/tcp/$HOST/$PORT") 2>/dev/null; do
  kill -0 "$server" 2>/dev/null || { wait "$server"; exit $?; }
  sleep 0.2
done
"$PYTHON" manage.py demo_banner --url "http://$HOST:$PORT"
wait "$server"
