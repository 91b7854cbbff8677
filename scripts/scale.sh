#!/usr/bin/env bash
# Scale check: first-request latency for one asset-day, and the server's
# peak RSS, as the data dir grows from 1 asset x 1 day to 100 assets x 30
# days (one power file per day holding every asset).
#
# Each measurement starts a release server on an empty database and asks
# for one asset-day it has never seen (JSON, intensity from the fallback
# file); the median of ROUNDS such first requests is printed.
#
#   scripts/scale.sh            ROUNDS=9 scripts/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}

cargo build --release --quiet
bin=./target/release/carbon-footprint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

first_request() { # data-dir asset date [earlier-date] -> "seconds peak_kib"
  local db="$work/db-$RANDOM.sqlite3"
  RUST_LOG=warn "$bin" --bind "127.0.0.1:$port" --data-dir "$1" --intensity-url "" --db "$db" 2>/dev/null &
  local pid=$!
  for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
  # A dashboard that showed the day before: its last reading is stored.
  if [ -n "${4:-}" ]; then curl -fsS -o /dev/null "http://127.0.0.1:$port/footprint/$2/$4?format=json"; fi
  local t
  t=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/footprint/$2/$3?format=json")
  local peak
  peak=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$db" "$db-wal" "$db-shm"
  echo "$t $peak"
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

printf '%-7s %-5s %-10s %-9s %-15s %-22s %-12s\n' assets days rows/file file-MiB 'first-req p50' 'after prev day, p50' 'peak RSS MiB'
for shape in "1 1" "1 30" "10 30" "100 1" "100 30"; do
  set -- $shape
  dir="$work/fleet-$1x$2"
  "$bin" fleet --out "$dir" --assets "$1" --days "$2" --first 2019-11-01 >/dev/null
  rows=$(($(wc -l < "$dir/power_measurements_2019-11-01.csv") - 1))
  mib=$(du -m "$dir/power_measurements_2019-11-01.csv" | cut -f1)
  results=()
  after_previous=()
  for round in $(seq "$ROUNDS"); do
    asset=$(printf 'site-%03d' $(((round - 1) % $1)))
    day=$(printf '2019-11-%02d' $((1 + (round - 1) % $2)))
    results+=("$(first_request "$dir" "$asset" "$day")")
    if [ "$2" -gt 1 ]; then
      day=$(printf '2019-11-%02d' $((2 + (round - 1) % ($2 - 1))))
      before=$(printf '2019-11-%02d' $((1 + (round - 1) % ($2 - 1))))
      after_previous+=("$(first_request "$dir" "$asset" "$day" "$before")")
    fi
  done
  ms() { awk -v t="$1" 'BEGIN {printf "%.1f ms", t * 1000}'; }
  p50=$(printf '%s\n' "${results[@]}" | cut -d' ' -f1 | median)
  after="-"
  if [ ${#after_previous[@]} -gt 0 ]; then
    after=$(ms "$(printf '%s\n' "${after_previous[@]}" | cut -d' ' -f1 | median)")
  fi
  peak=$(printf '%s\n' "${results[@]}" "${after_previous[@]}" | cut -d' ' -f2 | sort -n | tail -1)
  printf '%-7s %-5s %-10s %-9s %-15s %-22s %-12s\n' "$1" "$2" "$rows" "$mib" "$(ms "$p50")" "$after" "$((peak / 1024))"
  rm -rf "$dir"
done
