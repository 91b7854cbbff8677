#!/usr/bin/env bash
# How big a year of a fleet is in each engine. Generates ASSETS assets x
# DAYS days with `carbon-footprint fleet`, has the service read every day
# (GET /fleet/<date>) once on SQLite and once on a throwaway PostgreSQL
# (scripts/postgres.sh), measures the store (the SQLite file after a
# checkpoint; the PostgreSQL database after VACUUM), and scales the bytes per
# asset-day to 365 days of YEAR_ASSETS assets. Every asset-day is one row
# of the same shape (its record and 48 half-hours), so the size grows with
# asset-days; the figure is a linear extrapolation of what was measured,
# and says so.
#
#   scripts/year-size.sh
#   ASSETS=6500 DAYS=3 scripts/year-size.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ASSETS=${ASSETS:-6500}
DAYS=${DAYS:-2}
YEAR_ASSETS=${YEAR_ASSETS:-6500}

cargo build --release --quiet
bin=$(pwd)/target/release/carbon-footprint
work=$(mktemp -d)
chmod 755 "$work"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  scripts/postgres.sh stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

"$bin" fleet --out "$work/data" --assets "$ASSETS" --days "$DAYS" --first 2019-11-01 >/dev/null
echo "fleet: $ASSETS assets x $DAYS days ($(du -sh "$work/data" | cut -f1) of CSV)"

# Reads every day through one server on $1, then stops it.
read_days() {
  local port
  port=$(free_port)
  RUST_LOG=warn "$bin" --bind "127.0.0.1:$port" --data-dir "$work/data" --intensity-url "" \
    --db "$1" --request-timeout-ms 600000 2>"$work/server.log" &
  pid=$!
  for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  local start end
  start=$(date +%s.%N)
  for d in $(seq 1 "$DAYS"); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/fleet/2019-11-$(printf %02d "$d")?format=json"
  done
  end=$(date +%s.%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  python3 -c "print(f'  read and stored in {$end - $start:.1f} s')"
}

report() { # engine bytes
  python3 - "$1" "$2" "$ASSETS" "$DAYS" "$YEAR_ASSETS" <<'PY'
import sys
engine, size, assets, days, year_assets = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
per = size / (assets * days)
year = per * year_assets * 365
print(f"  {engine}: {size / 2**20:,.0f} MiB for {assets * days:,} asset-days = {per:,.0f} B per asset-day;"
      f" a year of {year_assets:,} assets: {year / 2**30:,.1f} GiB")
PY
}

echo "SQLite:"
read_days "$work/db.sqlite3"
python3 -c "import sqlite3; c = sqlite3.connect('$work/db.sqlite3'); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()"
report sqlite "$(stat -c %s "$work/db.sqlite3")"

echo "PostgreSQL:"
admin=$(scripts/postgres.sh start "$work/pg")
psql "$admin" -qc "CREATE DATABASE footprint"
db=${admin%/postgres}/footprint
read_days "$db"
empty=$(psql "$admin" -Atc "CREATE DATABASE empty_one" -c "SELECT pg_database_size('empty_one')" | tail -n 1)
psql "$db" -qc "VACUUM ANALYZE"
size=$(psql "$db" -Atc "SELECT pg_database_size(current_database())")
report postgres "$((size - empty))"
psql "$db" -Atc "SELECT '    ' || parent.relname || ': ' || pg_size_pretty(SUM(pg_total_relation_size(child.oid)))
  FROM pg_inherits JOIN pg_class parent ON parent.oid = inhparent JOIN pg_class child ON child.oid = inhrelid
  GROUP BY parent.relname ORDER BY SUM(pg_total_relation_size(child.oid)) DESC"
