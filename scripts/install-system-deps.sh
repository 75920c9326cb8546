#!/usr/bin/env bash
# Debian packages the test suite needs: PostgreSQL, Redis and Chromium (for browser tests);
# with --bench also wrk, the load generator of `make bench`.
# Installs only what is missing, so a prepared machine spends no time here.
set -euo pipefail
need=()
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
getent passwd postgres >/dev/null || need+=(postgresql)
if [ "${1:-}" = "--bench" ]; then
  command -v wrk >/dev/null || need+=(wrk)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  echo "installing system packages: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Debian package starts a cluster and a redis service of its own; the tests use their own.
