#!/usr/bin/env bash
# One asset of 5,000,000 rows (about 220 MB) whose last line is cut before
# its value, as a crash mid-write leaves a file: 10 kW from 00:00 to 06:00,
# then nothing. Computes the day with the release binary, checks that the
# cut row makes the rest of the day unknown (60 kWh at coverage 0.25, not
# 240 kWh at 1.0) and prints the time taken and the peak RSS.
#
#   scripts/one-asset.sh            ROWS=10000000 scripts/one-asset.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-5000000}

cargo build --release --quiet
bin=$PWD/target/release/carbon-footprint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/data"

python3 - "$work/data" "$ROWS" <<'PY'
import datetime, json, sys
out, rows = sys.argv[1], int(sys.argv[2])
day = datetime.datetime(2019, 11, 1)
with open(f"{out}/power_measurements_2019-11-01.csv", "w") as f:
    f.write("Time,Variable,AssetId,Value\n")
    step_ns = 6 * 3600 * 10**9 // rows
    chunk = []
    for i in range(rows):
        ns = i * step_ns
        s, frac = divmod(ns, 10**9)
        chunk.append(f"2019-11-01 {s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}.{frac // 100:07d},power,site-042,10\n")
        if len(chunk) == 100_000:
            f.writelines(chunk)
            chunk = []
    f.writelines(chunk)
    f.write("2019-11-01 06:00:00.0000000,power,site-042")  # cut mid-line
data = []
for i in range(48):
    a = day + datetime.timedelta(minutes=30 * i)
    b = a + datetime.timedelta(minutes=30)
    data.append({"from": a.strftime("%Y-%m-%dT%H:%MZ"), "to": b.strftime("%Y-%m-%dT%H:%MZ"),
                 "intensity": {"forecast": 200, "actual": 200, "index": "moderate"}})
json.dump({"data": data}, open(f"{out}/carbon_intensity_2019-11-01.json", "w"))
PY
file="$work/data/power_measurements_2019-11-01.csv"
echo "file: $(du -m "$file" | cut -f1) MiB, $ROWS rows of one asset, the last cut mid-line"

python3 - "$bin" "$work" <<'PY'
import json, resource, subprocess, sys, time
bin, work = sys.argv[1], sys.argv[2]
started = time.monotonic()
subprocess.run(
    [bin, "report", "site-042", "2019-11-01", "--format", "json", "--output", f"{work}/out.json",
     "--data-dir", f"{work}/data", "--intensity-url", "", "--db", f"{work}/db.sqlite3"],
    check=True,
)
elapsed = time.monotonic() - started
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
answer = json.load(open(f"{work}/out.json"))
energy = answer["totals"]["energy_kwh"]
coverage = answer["totals"]["coverage"]
print(f"energy {energy:.6f} kWh, coverage {coverage:.4f}, skipped rows {answer['skipped_rows']['count']}")
print(f"one asset-day computed in {elapsed:.2f} s, peak RSS {peak_kib / 1024:.1f} MiB")
assert abs(energy - 60.0) < 1e-6 and abs(coverage - 0.25) < 1e-9, "the cut row did not make the rest unknown"
PY
