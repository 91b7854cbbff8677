#!/usr/bin/env bash
# Two replicas behind nginx on one PostgreSQL, and one of them killed.
#
# Starts a throwaway PostgreSQL (scripts/postgres.sh), generates a fleet
# (ASSETS assets x DAYS days, one data directory both replicas read), starts
# two replicas on it and nginx in front (the configuration of
# docs/deploy.md), sends DURATION seconds of requests through nginx from
# CLIENTS threads (first requests for uncomputed asset-days, fleet days and
# repeats), kills one replica with SIGKILL halfway, and prints what it saw:
# answers by status, transport errors, latency, and the rows stored.
# Needs nginx (installed from Debian's packages if missing).
#
#   scripts/replicas.sh
#   ASSETS=2000 DAYS=14 DURATION=30 scripts/replicas.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ASSETS=${ASSETS:-500}
DAYS=${DAYS:-7}
DURATION=${DURATION:-20}
CLIENTS=${CLIENTS:-16}

if ! command -v nginx >/dev/null; then
  echo "installing nginx..." >&2
  apt-get install -y nginx-light >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y nginx-light >/dev/null; }
fi

cargo build --release --quiet
bin=./target/release/carbon-footprint
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  scripts/postgres.sh stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

admin=$(scripts/postgres.sh start "$work/pg")
psql "$admin" -qc "CREATE DATABASE footprint"
db=${admin%/postgres}/footprint
echo "PostgreSQL: $db"

"$bin" fleet --out "$work/data" --assets "$ASSETS" --days "$DAYS" --first 2019-11-01 >/dev/null
echo "fleet: $ASSETS assets x $DAYS days in $work/data"

ports=()
for name in a b; do
  port=$(free_port)
  RUST_LOG=warn "$bin" --bind "127.0.0.1:$port" --data-dir "$work/data" --intensity-url "" \
    --db "$db" --log-format json 2>"$work/$name.log" &
  pids+=($!)
  ports+=("$port")
done
for port in "${ports[@]}"; do
  for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
done

lb=$(free_port)
cat >"$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream footprint {
    server 127.0.0.1:${ports[0]} max_fails=1 fail_timeout=10s;
    server 127.0.0.1:${ports[1]} max_fails=1 fail_timeout=10s;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$lb;
    location / {
      proxy_pass http://footprint;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_connect_timeout 1s;
      proxy_read_timeout 60s;
      # A replica that dies mid-request: GETs are idempotent, so nginx
      # asks the other one.
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;
    }
  }
}
CONF
nginx -c "$work/nginx.conf"
echo "nginx on 127.0.0.1:$lb -> replicas on ${ports[*]}"

python3 - "$lb" "$ASSETS" "$DAYS" "$DURATION" "$CLIENTS" "${pids[0]}" "${ports[0]}" <<'PY'
import collections, json, os, random, signal, sys, threading, time, urllib.error, urllib.request
lb, assets, days, duration, clients, victim, victim_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
base = f"http://127.0.0.1:{lb}"
with urllib.request.urlopen(f"{base}/assets") as r:
    view = json.load(r)
ids = [a["asset"] for a in view["assets"]]
dates = [f"2019-11-{d:02d}" for d in range(1, days + 1)]
statuses, errors, latencies = collections.Counter(), collections.Counter(), []
lock = threading.Lock()
stop = time.monotonic() + duration
def one():
    pick = random.random()
    if pick < 0.1:
        path = f"/fleet/{random.choice(dates)}?format=json"
    else:
        path = f"/footprint/{random.choice(ids)}/{random.choice(dates)}/1-48?format=json"
    started = time.monotonic()
    try:
        with urllib.request.urlopen(base + path, timeout=60) as r:
            r.read(); status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception as e:
        with lock: errors[type(e).__name__] += 1
        return
    with lock:
        statuses[status] += 1; latencies.append(time.monotonic() - started)
def worker():
    while time.monotonic() < stop:
        one()
threads = [threading.Thread(target=worker) for _ in range(clients)]
for t in threads: t.start()
time.sleep(duration / 2)
with urllib.request.urlopen(f"http://127.0.0.1:{victim_port}/metrics") as r:
    counted = [l for l in r.read().decode().splitlines()
               if l.startswith(("asset_day_computations_total", "day_files_computed_total"))]
os.kill(victim, signal.SIGKILL)
print("the killed replica, just before: " + ", ".join(counted))
print(f"killed replica pid {victim} with SIGKILL at {duration / 2:.0f} s")
for t in threads: t.join()
latencies.sort()
q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")
print(f"answers: {sum(statuses.values())} " + " ".join(f"{k}:{v}" for k, v in sorted(statuses.items())))
print(f"transport errors: {sum(errors.values())} " + " ".join(f"{k}:{v}" for k, v in errors.items()))
print(f"latency ms: p50 {q(0.5):.1f}  p99 {q(0.99):.1f}  max {q(1.0):.1f}")
PY

echo "rows stored:"
psql "$db" -Atc "SELECT '  asset_days ' || COUNT(*) FROM asset_days" \
  -c "SELECT '  day_files ' || COUNT(*) FROM day_files" \
  -c "SELECT '  asset-days not whole (want 0) ' || COUNT(*) FROM asset_days a WHERE 48 <> (SELECT COUNT(*) FROM power_half_hours p WHERE p.asset_id = a.asset_id AND p.date = a.date)" \
  -c "SELECT '  days read whole with missing asset-days (want 0) ' || COUNT(*) FROM day_files f WHERE f.assets - (SELECT COUNT(*) FROM jsonb_object_keys(f.rejected)) <> (SELECT COUNT(*) FROM asset_days a WHERE a.date = f.date)"
echo "the surviving replica:"
curl -fsS "http://127.0.0.1:${ports[1]}/metrics" | grep -E '^(asset_day_computations_total|day_files_computed_total|power_file_reads_total|db_pool_waits_total|db_write_retries_total)' | sed 's/^/  /'
