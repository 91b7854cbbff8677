#!/usr/bin/env bash
# Bounded memory on a big file: generates a ~300 MB power file holding
# ASSETS assets for one day, then computes one asset's day with the release
# binary and prints the time taken and the process's peak RSS.
#
#   scripts/big-file.sh            ASSETS=10000 scripts/big-file.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=${ASSETS:-6500}

cargo build --release --quiet
bin=$PWD/target/release/carbon-footprint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" fleet --out "$work/data" --assets "$ASSETS" --days 1 --first 2019-11-01 >/dev/null
file="$work/data/power_measurements_2019-11-01.csv"
echo "file: $(du -m "$file" | cut -f1) MiB, $(($(wc -l < "$file") - 1)) rows, $ASSETS assets"

python3 - "$bin" "$work" <<'PY'
import resource, subprocess, sys, time
bin, work = sys.argv[1], sys.argv[2]
started = time.monotonic()
subprocess.run(
    [bin, "report", "site-042", "2019-11-01", "--format", "json", "--output", f"{work}/out.json",
     "--data-dir", f"{work}/data", "--intensity-url", "", "--db", f"{work}/db.sqlite3"],
    check=True,
)
elapsed = time.monotonic() - started
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"one asset-day computed in {elapsed:.2f} s, peak RSS {peak_kib / 1024:.1f} MiB")
PY
