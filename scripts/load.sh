#!/usr/bin/env bash
# Load test of a release build on loopback: 10 s with 8 connections on a warm
# chart URL and on a JSON URL, printing requests/s, p50/p99 latency and the
# server's peak RSS; then, side by side, nginx (2 workers) serving the very
# same bytes as static files, and the service's share of nginx's rate: the
# warm path's distance from the physical limit of this machine; then the
# same URLs on a second server with access on (an access file of 1,000
# tokens, wrk sending one scoped to two assets), alternating with the first
# ROUNDS times, and what access costs the warm path (medians). Needs wrk
# and nginx (installed from Debian's packages if missing).
#
#   scripts/load.sh                 # defaults
#   DURATION=30s CONNECTIONS=16 scripts/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-2}

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  echo "installing wrk and nginx..." >&2
  apt-get install -y wrk nginx-light >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y wrk nginx-light >/dev/null; }
fi

cargo build --release --quiet
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
RUST_LOG=warn ./target/release/carbon-footprint \
  --bind "127.0.0.1:$port" --data-dir fixtures --intensity-url "" --db "$work/load.sqlite3" \
  2>"$work/server.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT

base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

chart="$base/footprint/abc123xyz/2019-11-25/14-20"
json="$base/footprint/abc123xyz/2019-11-25/1-48?format=json"
# Warm both: the first answer computes the day, the second fills the cache.
for url in "$chart" "$json"; do curl -fsS -o /dev/null "$url"; curl -fsS -o /dev/null "$url"; done

# nginx serves the bytes the service returned, as static files.
mkdir -p "$work/www"
curl -fsS -o "$work/www/chart.png" "$chart"
curl -fsS -o "$work/www/day.json" "$json"
chmod -R a+rX "$work"   # nginx's workers run as an unprivileged user
nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { image/png png; application/json json; }
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; nginx -c "$work/nginx.conf" -p "$work" -s stop 2>/dev/null; rm -rf "$work"' EXIT

measure() { # name url -> prints a row, sets $rps
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$2")
  if grep -q 'Non-2xx' <<<"$out"; then echo "$out" >&2; echo "error: non-2xx answers" >&2; exit 1; fi
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  printf '%-14s %12s %10s %10s\n' "$1" "$rps" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")"
}

printf '%-14s %12s %10s %10s\n' what 'requests/s' p50 p99
for pair in "chart $chart chart.png" "json $json day.json"; do
  set -- $pair
  measure "$1" "$2"; ours=$rps
  measure "$1 (nginx)" "http://127.0.0.1:$nginx_port/$3"; theirs=$rps
  printf '%-14s %11.0f%%\n' "$1 share" "$(echo "100 * $ours / $theirs" | bc -l)"
done

peak_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
echo "server peak RSS: $((peak_kib / 1024)) MiB ($peak_kib KiB, VmHWM)"

# Access on: the same URLs with a bearer token, against the server above.
token=load-test-token-0123456789abcdefghijklmn
{
  echo "name,token_sha256,scope"
  for i in $(seq 999); do printf 'reader-%d,%s,site-%d*\n' "$i" "$(printf 'other-%d' "$i" | sha256sum | cut -d' ' -f1)" "$i"; done
  # A scope of some assets, the reader a household or a dashboard is.
  printf 'load,%s,abc* heatpump-07\n' "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)"
} >"$work/access.csv"
secured_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUST_LOG=warn ./target/release/carbon-footprint \
  --bind "127.0.0.1:$secured_port" --data-dir fixtures --intensity-url "" --db "$work/secured.sqlite3" \
  --access-file "$work/access.csv" 2>"$work/secured.log" &
secured=$!
trap 'kill "$pid" "$secured" 2>/dev/null; wait "$pid" "$secured" 2>/dev/null; nginx -c "$work/nginx.conf" -p "$work" -s stop 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$secured_port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
auth="Authorization: Bearer $token"
for path in "${chart#"$base"}" "${json#"$base"}"; do
  curl -fsS -o /dev/null -H "$auth" "http://127.0.0.1:$secured_port$path"
  curl -fsS -o /dev/null -H "$auth" "http://127.0.0.1:$secured_port$path"
done
measure_with() { # url -> sets $rps (with the token)
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "$auth" "$1")
  if grep -q 'Non-2xx' <<<"$out"; then echo "$out" >&2; echo "error: non-2xx answers" >&2; exit 1; fi
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
}
measure_quietly() { # url -> sets $rps
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$1")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
}
median() { tr ' ' '\n' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# Off and on alternate, ROUNDS times each, so that drift on a shared
# machine falls on both alike; medians.
ROUNDS=${ROUNDS:-3}
echo
printf '%-14s %14s %14s %8s\n' 'access' 'off req/s' 'token req/s' cost
for pair in "chart $chart" "json $json"; do
  set -- $pair
  offs=() ons=()
  for _ in $(seq "$ROUNDS"); do
    measure_quietly "$2"; offs+=("$rps")
    measure_with "http://127.0.0.1:$secured_port${2#"$base"}"; ons+=("$rps")
  done
  off=$(echo "${offs[*]}" | median); on=$(echo "${ons[*]}" | median)
  printf '%-14s %14.0f %14.0f %7.1f%%\n' "$1" "$off" "$on" "$(echo "100 * ($off - $on) / $off" | bc -l)"
done
