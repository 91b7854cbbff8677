#!/usr/bin/env bash
# A month of a large fleet, stored: DAYS (30) days of ASSETS (6,500)
# generated with `carbon-footprint fleet` (about 300 MB of CSV a day, so
# about 9 GB in all; intensity from the fallback files), every day read and
# stored once through /fleet/<date>, then with the release binary:
#   1. /fleet?from&to over all the days, response cache cold (a restarted
#      server), median of ROUNDS;
#   2. one day's intensity replaced (its figures rewritten in the database
#      as a newer version, as when the API's figures replace a fallback
#      file's): /fleet/<date> on a restarted server, which rewrites the
#      stored results of every asset-day of the day, against the same
#      request with nothing replaced; median of ROUNDS each.
#
#   scripts/fleet-period.sh
#   ENGINE=postgres ASSETS=6500 DAYS=30 ROUNDS=3 scripts/fleet-period.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=${ASSETS:-6500}
DAYS=${DAYS:-30}
ROUNDS=${ROUNDS:-3}

source scripts/lib.sh
if [ "$ENGINE" = postgres ]; then
  db=$(db footprint)
  sql() { psql "$db" -qAtc "$1"; }
else
  db=$work/db.sqlite3
  sql() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()' "$db" "$1"; }
fi
start() {
  RUST_LOG=warn "$bin" --bind "127.0.0.1:$port" --data-dir "$work/data" --intensity-url "" \
    --db "$db" --request-timeout-ms 600000 2>>"$work/server.log" &
  pid=$!
  for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
get() { # path: seconds, failing on an error status
  curl -fsS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$1"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
day() { date -u -d "2019-11-01 + $1 days" +%F; }

"$bin" fleet --out "$work/data" --assets "$ASSETS" --days "$DAYS" --first 2019-11-01 >/dev/null
echo "engine: $ENGINE; fleet: $ASSETS assets x $DAYS days ($(du -sh "$work/data" | cut -f1) of CSV)"
first=$(day 0)
last=$(day $((DAYS - 1)))
start
started=$(date +%s.%N)
for d in $(seq 0 $((DAYS - 1))); do get "/fleet/$(day "$d")?format=json" >/dev/null; done
python3 -c "print(f'every day read and stored: {$(date +%s.%N) - $started:.1f} s')"
stop

period=()
for _ in $(seq "$ROUNDS"); do
  start
  period+=("$(get "/fleet?from=$first&to=$last&format=json")")
  stop
done
printf '/fleet?from=%s&to=%s, stored, response cache cold: %s s median of %s\n' \
  "$first" "$last" "$(printf '%s\n' "${period[@]}" | median)" "$ROUNDS"

same=(); replaced=()
for round in $(seq "$ROUNDS"); do
  start
  same+=("$(get "/fleet/$last?format=json")")
  stop
  # A newer version of the day's figures, as a fetch from the API gives.
  if [ "$ENGINE" = postgres ]; then
    sql "UPDATE intensity_days SET fetched_at = fetched_at + interval '$round minutes',
         actual = (SELECT array_agg(COALESCE(a, f) + 1 ORDER BY n)
                   FROM unnest(actual, forecast) WITH ORDINALITY AS h(a, f, n)),
         source = 'api' WHERE date = '$last'"
  else
    sql "UPDATE intensity_half_hours SET fetched_at = strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now', '+$round minutes'),
         actual = COALESCE(actual, forecast) + 1, source = 'api' WHERE date = '$last'"
  fi
  start
  replaced+=("$(get "/fleet/$last?format=json")")
  stop
done
printf '/fleet/%s on a restarted server, nothing replaced: %s s median\n' "$last" \
  "$(printf '%s\n' "${same[@]}" | median)"
printf '/fleet/%s on a restarted server, its intensity replaced (%s asset-days rewritten): %s s median\n' \
  "$last" "$ASSETS" "$(printf '%s\n' "${replaced[@]}" | median)"
