#!/usr/bin/env bash
# Days stored as they arrive, with the release binary on a fresh database
# per round (intensity from the fallback files, no API):
#   1. the first /fleet/{date} of a 6,500-asset (~300 MB) day that was in
#      the directory at start, not read by the watcher (backfill off): the
#      request reads and stores every asset-day itself;
#   2. a warm request's latency (one asset-day's JSON, keep-alive, one
#      request at a time) before, and while the watcher reads a second
#      such day renamed into the directory: medians side by side;
#   3. the first /fleet/{date} of that second day, which arrived while the
#      server ran and was stored before anyone asked.
#
#   scripts/watch.sh            ROUNDS=5 scripts/watch.sh
#   ENGINE=postgres scripts/watch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=${ASSETS:-6500}
ROUNDS=${ROUNDS:-3}

source scripts/lib.sh
echo "engine: $ENGINE"
get() { curl -fsS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$1"; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

"$bin" fleet --out "$work/gen" --assets "$ASSETS" --days 2 --first 2019-11-01 >/dev/null
echo "day files: $(du -m "$work/gen/power_measurements_2019-11-01.csv" | cut -f1) MiB each, $ASSETS assets"

# Warm latency, one keep-alive request at a time: N requests before the
# second day arrives, then requests until the watcher has read it.
cat >"$work/warm.py" <<'EOF'
import http.client, os, statistics, sys, time
port, staged, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
url = "/footprint/site-011/2019-11-01/14-20?format=json"
conn = http.client.HTTPConnection("127.0.0.1", port)
def once():
    t = time.perf_counter()
    conn.request("GET", url)
    r = conn.getresponse(); r.read()
    assert r.status == 200, r.status
    return time.perf_counter() - t
def read_days():
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/metrics"); text = c.getresponse().read().decode()
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
               if l.startswith('watch_files_ingested_total{outcome="read"}'))
for _ in range(200): once()
before = [once() for _ in range(2000)]
os.rename(staged, target)
arrived = time.perf_counter()
during = []
while read_days() < 1:
    during += [once() for _ in range(50)]
    if time.perf_counter() - arrived > 120: sys.exit("the watcher did not read the day in 120 s")
print(f"{statistics.median(before) * 1000:.3f} {statistics.median(during) * 1000:.3f} "
      f"{len(during)} {time.perf_counter() - arrived:.2f}")
EOF

cold=(); arrived=(); before=(); during=(); ratio=()
for round in $(seq "$ROUNDS"); do
  data="$work/data_$round"
  mkdir -p "$data" "$work/staging"
  cp "$work/gen/"carbon_intensity_* "$work/gen/power_measurements_2019-11-01.csv" "$data/"
  cp "$work/gen/power_measurements_2019-11-02.csv" "$work/staging/"
  name="watch_$round"
  RUST_LOG=warn "$bin" --bind "127.0.0.1:$port" --data-dir "$data" --intensity-url "" \
    --db "$(db "$name")" --watch auto --backfill-days 0 2>/dev/null &
  pid=$!
  for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
  cold+=("$(get "/fleet/2019-11-01?format=json")")
  read -r b d n s < <(python3 "$work/warm.py" "$port" "$work/staging/power_measurements_2019-11-02.csv" \
    "$data/power_measurements_2019-11-02.csv")
  before+=("$b"); during+=("$d")
  ratio+=("$(awk -v b="$b" -v d="$d" 'BEGIN {printf "%.3f", d / b}')")
  echo "round $round: warm median ${b} ms before, ${d} ms during the background read (${n} requests over ${s} s)"
  arrived+=("$(get "/fleet/2019-11-02?format=json")")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  forget "$name"
  rm -rf "$data"
done
printf 'first /fleet of a day present at start, read by the request: %s s median of %s\n' \
  "$(printf '%s\n' "${cold[@]}" | median)" "$ROUNDS"
printf 'first /fleet of a day that arrived while serving (stored by the watcher): %s s median\n' \
  "$(printf '%s\n' "${arrived[@]}" | median)"
printf 'warm request median: %s ms before, %s ms during a background read (ratio %s, median of rounds)\n' \
  "$(printf '%s\n' "${before[@]}" | median)" "$(printf '%s\n' "${during[@]}" | median)" \
  "$(printf '%s\n' "${ratio[@]}" | median)"
