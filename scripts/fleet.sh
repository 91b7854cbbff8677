#!/usr/bin/env bash
# Fleet and period figures with the release binary, each on a fresh
# database (intensity from the fallback files, no API):
#   1. a 6,500-asset (~300 MB) day file: /fleet/{date} cold (every
#      asset-day read and stored) with the server's peak RSS, then warm;
#      then, after a restart (response cache cold), the fleet again and
#      single asset-day answers;
#   2. one asset's first request on that uningested file;
#   3. one asset over 365 days (365 small files), cold, then again on a
#      restarted server (stored, response cache cold).
#
# ENGINE=postgres runs the same on a throwaway PostgreSQL
# (scripts/postgres.sh), a fresh database where SQLite has a fresh file.
#
#   scripts/fleet.sh            ASSETS=10000 ROUNDS=9 scripts/fleet.sh
#   ENGINE=postgres ROUNDS=3 scripts/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=${ASSETS:-6500}
ROUNDS=${ROUNDS:-5}

source scripts/lib.sh
echo "engine: $ENGINE"

start() { # data-dir db
  RUST_LOG=warn "$bin" --bind "127.0.0.1:$port" --data-dir "$1" --intensity-url "" --db "$2" 2>/dev/null &
  pid=$!
  for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
get() { curl -fsS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$1"; }
median() { sort -n | awk '{a[NR] = $1} END {printf "%.2f ms", a[int((NR + 1) / 2)] * 1000}'; }
peak() { awk '/^VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$pid/status"; }

"$bin" fleet --out "$work/big" --assets "$ASSETS" --days 1 --first 2019-11-01 >/dev/null
file="$work/big/power_measurements_2019-11-01.csv"
echo "day file: $(du -m "$file" | cut -f1) MiB, $(($(wc -l < "$file") - 1)) rows, $ASSETS assets"

cold=(); warm=(); stored=(); one=(); rss=()
for round in $(seq "$ROUNDS"); do
  big_db=$(db "big_$round")
  start "$work/big" "$big_db"
  cold+=("$(get "/fleet/2019-11-01?format=json")")
  rss+=("$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")")
  for _ in 1 2 3; do warm+=("$(get "/fleet/2019-11-01?format=json")"); done
  stop
  # A restart empties the response cache; the store keeps the day.
  start "$work/big" "$big_db"
  stored+=("$(get "/fleet/2019-11-01?format=json")")
  for a in 011 222 3333 4444 5555; do one+=("$(get "/footprint/site-$a/2019-11-01?format=json")"); done
  stop
  forget "big_$round"
done
printf 'fleet day cold (read and store every asset-day): %s s median of %s\n' \
  "$(printf '%s\n' "${cold[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')" "$ROUNDS"
printf 'peak RSS during it: %s MiB (largest of %s)\n' "$(printf '%s\n' "${rss[@]}" | sort -n | tail -1 | awk '{printf "%.0f", $1 / 1024}')" "$ROUNDS"
printf 'fleet day warm: %s median\n' "$(printf '%s\n' "${warm[@]}" | median)"
printf 'fleet day after a restart (stored, response cache cold): %s median\n' "$(printf '%s\n' "${stored[@]}" | median)"
printf 'one asset-day, stored, response cache cold: %s median\n' "$(printf '%s\n' "${one[@]}" | median)"

first=()
for round in $(seq "$ROUNDS"); do
  start "$work/big" "$(db "first_$round")"
  first+=("$(get "/footprint/$(printf "site-%03d" $((round * 97)))/2019-11-01?format=json")")
  stop
  forget "first_$round"
done
printf 'one asset first request on the uningested day: %s median\n' "$(printf '%s\n' "${first[@]}" | median)"
rm -rf "$work/big"

"$bin" fleet --out "$work/year" --assets 1 --days 365 --first 2019-01-01 >/dev/null
year_cold=(); year_stored=()
for round in $(seq "$ROUNDS"); do
  year_db=$(db "year_$round")
  start "$work/year" "$year_db"
  year_cold+=("$(get "/footprint/site-000?from=2019-01-01&to=2019-12-31&format=json")")
  stop
  start "$work/year" "$year_db"
  year_stored+=("$(get "/footprint/site-000?from=2019-01-01&to=2019-12-31&format=json")")
  stop
  forget "year_$round"
done
printf 'one asset over 365 days, nothing stored: %s median\n' "$(printf '%s\n' "${year_cold[@]}" | median)"
printf 'one asset over 365 days, stored, response cache cold: %s median\n' "$(printf '%s\n' "${year_stored[@]}" | median)"
