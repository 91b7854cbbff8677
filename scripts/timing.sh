#!/usr/bin/env bash
# The timing of a large fleet on one stored day, with the release binary:
# ASSETS (6,500) assets in one day file of hourly readings, a third of them
# batteries (charging at night, exporting in the evening: the linear
# program), a third heat pumps and a third solar sites (one direction: the
# cheapest half-hours first), intensity varying through the day; the day
# stored with `carbon-footprint ingest`, then on a server started afresh for
# each round (response cache cold): /fleet/{date}/timing, and one
# battery's /footprint/{asset}/{date}/timing. Medians of ROUNDS.
#
#   scripts/timing.sh            ENGINE=postgres scripts/timing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=${ASSETS:-6500}
ROUNDS=${ROUNDS:-3}
DAY=2019-03-04

source scripts/lib.sh
echo "engine: $ENGINE; $ASSETS assets on $DAY"
mkdir -p "$work/data"
python3 - "$work/data" "$ASSETS" "$DAY" <<'PY'
import datetime as dt, json, sys
out, assets, day = sys.argv[1], int(sys.argv[2]), dt.date.fromisoformat(sys.argv[3])
start = dt.datetime.combine(day, dt.time())
lines = ["Time,Variable,AssetId,Value"]
for h in range(25):
    stamp = (start + dt.timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S")
    for a in range(assets):
        size = 2 + a % 9
        if h == 24:
            kw = 0
        elif a % 3 == 0:   # battery: in from 01:00 to 04:00, out from 17:00 to 20:00
            kw = size if 1 <= h < 4 else (-size if 17 <= h < 20 else 0)
        elif a % 3 == 1:   # heat pump: morning and evening
            kw = size if h in (6, 7, 8, 18, 19, 20, 21) else 0.3
        else:              # solar: around noon
            kw = -max(0, size * (1 - abs(h - 12.5) / 5))
        lines.append(f"{stamp},power,site-{a:04},{kw}")
with open(f"{out}/power_measurements_{day}.csv", "w") as f:
    f.write("\n".join(lines) + "\n")
data = [{"from": (start + dt.timedelta(minutes=30 * i)).strftime("%Y-%m-%dT%H:%MZ"),
         "to": (start + dt.timedelta(minutes=30 * i + 30)).strftime("%Y-%m-%dT%H:%MZ"),
         "intensity": {"forecast": None, "actual": 120 + (i * 37) % 160}} for i in range(48)]
with open(f"{out}/carbon_intensity_{day}.json", "w") as f:
    json.dump({"data": data}, f)
PY
database=$(db timing)
"$bin" --data-dir "$work/data" --intensity-url "" --db "$database" ingest --from "$DAY" --to "$DAY" >/dev/null

start() {
  RUST_LOG=warn "$bin" --bind "127.0.0.1:$port" --data-dir "$work/data" --intensity-url "" \
    --db "$database" --watch off --backfill-days 0 --request-timeout-ms 600000 2>>"$work/server.log" &
  pid=$!
  for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
}

fleet=() one=() warm=()
for _ in $(seq "$ROUNDS"); do
  start
  fleet+=("$(get "/fleet/$DAY/timing")")
  warm+=("$(get "/fleet/$DAY/timing")")
  stop
  start
  one+=("$(get "/footprint/site-0003/$DAY/timing")")
  stop
done
start
curl -fsS "http://127.0.0.1:$port/fleet/$DAY/timing?format=csv" >"$work/ranking.csv"
stop
printf 'fleet timing, %s assets, stored, response cache cold: %s s median of %s\n' "$ASSETS" "$(printf '%s\n' "${fleet[@]}" | median)" "$ROUNDS"
printf 'fleet timing, warm: %s s median of %s\n' "$(printf '%s\n' "${warm[@]}" | median)" "$ROUNDS"
printf 'one battery, stored, response cache cold: %s s median of %s\n' "$(printf '%s\n' "${one[@]}" | median)" "$ROUNDS"
echo "ranked: $(($(wc -l <"$work/ranking.csv") - 1)) assets; the first three:"
sed -n 2,4p "$work/ranking.csv"
