#!/usr/bin/env bash
# Best windows from stored forecasts, with the release binary: a mock of
# the API's fw48h (national and the 17 regions, 96 half-hours each), a
# fleet of ASSETS (6,500) assets spread over the regions and the nation in
# the asset register; forecasts fetched once, then
#   /windows for one area, warm (the same URL again),
#   /windows for one area, response cache cold (another length each time),
#     and again a second apart (the forecast read from the database too),
#   /windows?fleet=true, each asset's best window, cold and warm.
# Medians of ROUNDS requests each (curl's time_total, loopback).
#
#   scripts/windows.sh            ENGINE=postgres scripts/windows.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=${ASSETS:-6500}
ROUNDS=${ROUNDS:-101}

source scripts/lib.sh
echo "engine: $ENGINE; $ASSETS assets"
mkdir -p "$work/data"
python3 - "$work/data" "$ASSETS" <<'PY'
import sys
out, assets = sys.argv[1], int(sys.argv[2])
with open(f"{out}/assets.csv", "w") as f:
    f.write("AssetId,RegionId\n")
    for a in range(assets):
        f.write(f"site-{a:04},{a % 18 or ''}\n")
with open(f"{out}/power_measurements_2019-11-25.csv", "w") as f:
    f.write("Time,Variable,AssetId,Value\n")
    for a in range(assets):
        f.write(f"2019-11-25 00:00:00,power,site-{a:04},1\n")
PY
upstream=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$upstream" <<'PY' &
import datetime as dt, http.server, json, re, sys
class Fw48h(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        m = re.search(r"/(\d{4}-\d\d-\d\dT\d\d:\d\dZ)/fw48h(?:/regionid/(\d+))?$", self.path)
        if not m:
            self.send_response(404); self.end_headers(); return
        start = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%MZ")
        region = int(m.group(2) or 0)
        data = []
        for i in range(-1, 96):
            at = start + dt.timedelta(minutes=30 * i)
            n = int(at.timestamp()) // 1800
            entry = {"from": at.strftime("%Y-%m-%dT%H:%MZ"),
                     "to": (at + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ"),
                     "intensity": {"forecast": 80 + (n * 37 + region * 11) % 200, "actual": None, "index": "moderate"}}
            if region:
                entry["generationmix"] = [{"fuel": "gas", "perc": 30}, {"fuel": "wind", "perc": 70}]
            data.append(entry)
        body = {"data": data} if not region else {"data": {"regionid": region, "shortname": f"Region {region}", "data": data}}
        raw = json.dumps(body).encode()
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw))); self.end_headers(); self.wfile.write(raw)
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Fw48h).serve_forever()
PY
mock=$!
trap 'kill $mock 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; [ "$ENGINE" = postgres ] && scripts/postgres.sh stop "$work/pg"; rm -rf "$work"' EXIT
database=$(db windows)
RUST_LOG=warn "$bin" --bind "127.0.0.1:$port" --data-dir "$work/data" --intensity-url "http://127.0.0.1:$upstream" \
  --db "$database" --watch off --backfill-days 0 2>>"$work/server.log" &
pid=$!
for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done

first=$(get "/windows?fleet=true&minutes=60")
echo "first fleet answer, fetching 18 forecasts: $first s"
warm=() cold=() fleet_cold=() fleet_warm=()
for i in $(seq "$ROUNDS"); do
  warm+=("$(get "/windows?area=13&minutes=90")")
  # Another length each time: a response-cache miss on stored forecasts.
  cold+=("$(get "/windows?area=13&minutes=$((30 + i * 15 % 2850))&results=$((1 + i % 48))")")
done
# A second apart: the forecast read from the database each time as well.
read_cold=()
for i in $(seq 11); do
  sleep 1.1
  read_cold+=("$(get "/windows?area=13&minutes=$((45 + i * 15))")")
done
for i in $(seq 21); do
  fleet_cold+=("$(get "/windows?fleet=true&minutes=$((60 + i * 15))")")
  fleet_warm+=("$(get "/windows?fleet=true&minutes=60")")
done
curl -fsS "http://127.0.0.1:$port/windows?fleet=true&minutes=90" >"$work/fleet.json"
python3 - "$work/fleet.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
print(f"fleet answer: {len(f['assets'])} assets in {len(f['areas'])} areas, {len(f['left_out'])} left out")
PY
printf 'one area, warm: %s s median of %s\n' "$(printf '%s\n' "${warm[@]}" | median)" "$ROUNDS"
printf 'one area, response cache cold, forecast stored: %s s median of %s\n' "$(printf '%s\n' "${cold[@]}" | median)" "$ROUNDS"
printf 'one area, response cache cold, forecast read from the database: %s s median of 11\n' "$(printf '%s\n' "${read_cold[@]}" | median)"
printf 'fleet of %s assets, response cache cold, forecasts stored: %s s median of 21\n' "$ASSETS" "$(printf '%s\n' "${fleet_cold[@]}" | median)"
printf 'fleet of %s assets, warm: %s s median of 21\n' "$ASSETS" "$(printf '%s\n' "${fleet_warm[@]}" | median)"
