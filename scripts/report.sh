#!/usr/bin/env bash
# Reports over a stored year of a large fleet, with the release binary:
# DAYS (365) days of ASSETS (6,500) assets written as light day files
# (READINGS, 6, readings an asset-day: the size of what is stored does not
# depend on them) with each day's national intensity, every day stored with
# `carbon-footprint ingest --all`, then on a server started afresh for each
# round (response cache cold):
#   1. /report?from&to by month for the whole fleet, cold, then warm;
#   2. one asset's year, cold.
# Medians of ROUNDS.
#
#   scripts/report.sh            ENGINE=postgres scripts/report.sh
#   ASSETS=500 DAYS=60 ROUNDS=3 scripts/report.sh      # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=${ASSETS:-6500}
DAYS=${DAYS:-365}
READINGS=${READINGS:-6}
ROUNDS=${ROUNDS:-3}

source scripts/lib.sh
echo "engine: $ENGINE; $ASSETS assets x $DAYS days from 2019-01-01"
mkdir -p "$work/data"
python3 - "$work/data" "$ASSETS" "$DAYS" "$READINGS" <<'EOF'
import datetime as dt, json, sys
out, assets, days, readings = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
first = dt.date(2019, 1, 1)
names = [f"site-{a:04}" for a in range(assets)]
for d in range(days):
    day = first + dt.timedelta(days=d)
    lines = ["Time,Variable,AssetId,Value"]
    for r in range(readings):
        at = dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=24 * r / readings)
        stamp = at.strftime("%Y-%m-%d %H:%M:%S")
        for a, name in enumerate(names):
            # Batteries (every third asset) export in the evening.
            kw = ((a * 7 + r * 5 + d) % 23) - (12 if a % 3 == 0 and r >= readings - 2 else 0)
            lines.append(f"{stamp},power,{name},{kw}")
    with open(f"{out}/power_measurements_{day}.csv", "w") as f:
        f.write("\n".join(lines) + "\n")
    start = dt.datetime.combine(day, dt.time())
    data = [{"from": (start + dt.timedelta(minutes=30 * h)).strftime("%Y-%m-%dT%H:%MZ"),
             "to": (start + dt.timedelta(minutes=30 * h + 30)).strftime("%Y-%m-%dT%H:%MZ"),
             "intensity": {"forecast": None, "actual": 150 + (h * 7 + d) % 120}} for h in range(48)]
    with open(f"{out}/carbon_intensity_{day}.json", "w") as f:
        json.dump({"data": data}, f)
EOF
echo "day files: $(du -sh "$work/data" | cut -f1)"
database=$(db report)
started=$(date +%s.%N)
"$bin" --data-dir "$work/data" --intensity-url "" --db "$database" ingest --all >/dev/null
echo "ingest --all: $(echo "$(date +%s.%N) - $started" | bc) s"

last=$(python3 -c "import datetime as dt; print((dt.date(2019, 1, 1) + dt.timedelta(days=$DAYS - 1)).strftime('%Y-%m'))")
start() {
  RUST_LOG=warn "$bin" --bind "127.0.0.1:$port" --data-dir "$work/data" --intensity-url "" \
    --db "$database" --watch off --backfill-days 0 --request-timeout-ms 600000 2>>"$work/server.log" &
  pid=$!
  for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
}

fleet="/report?from=2019-01&to=$last&by=month"
one="/report?from=2019-01&to=$last&by=month&asset=site-0042"
first_byte() { curl -fsS -o /dev/null -w '%{time_starttransfer}\n' "http://127.0.0.1:$port$1"; }
cold=(); warm=(); warm_first=(); single=()
for _ in $(seq "$ROUNDS"); do
  start
  cold+=("$(get "$fleet")")
  for _ in 1 2 3 4 5; do warm+=("$(get "$fleet")"); warm_first+=("$(first_byte "$fleet")"); done
  size=$(curl -fsS -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port$fleet")
  stop
  start
  single+=("$(get "$one")")
  stop
done
printf 'fleet by month, stored, response cache cold: %s s median of %s\n' "$(printf '%s\n' "${cold[@]}" | median)" "$ROUNDS"
printf 'fleet by month, warm: %s s median of %s (the body is %s bytes)\n' "$(printf '%s\n' "${warm[@]}" | median)" "${#warm[@]}" \
  "$size"
printf 'fleet by month, warm, to the first byte: %s s median of %s\n' "$(printf '%s\n' "${warm_first[@]}" | median)" "${#warm_first[@]}"
printf 'one asset by month, stored, response cache cold: %s s median of %s\n' "$(printf '%s\n' "${single[@]}" | median)" "$ROUNDS"
