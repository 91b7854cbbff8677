#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a free loopback port, for tests and
# scripts: `scripts/postgres.sh start DIR` creates and starts it and prints
# its URL; `scripts/postgres.sh stop DIR` stops it and removes DIR.
# initdb and pg_ctl refuse to run as root, so they run as `postgres`.
set -euo pipefail

bin_dir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$found" ]; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1 ||
      { $sudo apt-get update >/dev/null && $sudo apt-get install -y --no-install-recommends postgresql >/dev/null; }
    found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$found"
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd=${1:?usage: postgres.sh start|stop DIR}
dir=${2:?usage: postgres.sh start|stop DIR}
bin=$(bin_dir)
case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
    port=$(free_port)
    # Durability is not wanted of a throwaway cluster; speed is.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
      "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: postgres.sh start|stop DIR" >&2; exit 2 ;;
esac
