#!/usr/bin/env bash
# Peak memory of a burst of large renders: 64 concurrent requests for
# 4000x4000-ish PNGs (each a different size, so none is served from the
# response cache), against the release binary with renders limited to
# MAX_RENDERS at once (default: the number of cores) and, for comparison,
# to 64 at once. Prints the wall time of the burst and the server's peak RSS.
#
#   scripts/render-memory.sh        MAX_RENDERS=2 scripts/render-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LIMITS=${MAX_RENDERS:-$(nproc)}
BURST=${BURST:-64}

cargo build --release --quiet
bin=$PWD/target/release/carbon-footprint
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

for limit in "$LIMITS" "$BURST"; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -f "$work"/db*
  "$bin" --data-dir fixtures --intensity-url "" --db "$work/db.sqlite3" \
    --bind "127.0.0.1:$port" --max-renders "$limit" --request-timeout-ms 120000 \
    2>"$work/log" &
  pid=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
  # Compute the day first: the burst measures rendering alone.
  curl -sf -o /dev/null "http://127.0.0.1:$port/footprint/abc123xyz/2019-11-25?format=json"
  start=$(date +%s.%N)
  curls=()
  for i in $(seq "$BURST"); do
    curl -s -o /dev/null -w '%{http_code}\n' \
      "http://127.0.0.1:$port/footprint/abc123xyz/2019-11-25?width=4000&height=$((4000 - i))" \
      > "$work/code.$i" &
    curls+=($!)
  done
  wait "${curls[@]}"
  end=$(date +%s.%N)
  peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  ok=$(cat "$work"/code.* | grep -c '^200$' || true)
  rm -f "$work"/code.*
  printf 'renders at once %-3s  %s/%s answered 200 in %.2f s  peak RSS %d MiB\n' \
    "$limit" "$ok" "$BURST" "$(echo "$end - $start" | bc)" "$((peak / 1024))"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
