#!/usr/bin/env bash
# What access costs a warm answer, counted rather than timed: the release
# server runs under callgrind (instructions, repeatable on a busy machine)
# with access off and then on (an access file of 1,000 tokens, the client
# sending one scoped to two assets); after warming, N requests on one
# keep-alive connection to each warm URL are counted, every thread of the
# server included. Prints instructions per request and the difference.
#
#   scripts/access-cost.sh          # N=2000
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
N=${N:-2000}
command -v callgrind_control >/dev/null || { echo "needs valgrind (callgrind_control)" >&2; exit 1; }

token=cost-test-token-0123456789abcdefghijklmno
{
  echo "name,token_sha256,scope"
  for i in $(seq 999); do printf 'reader-%d,%s,site-%d*\n' "$i" "$(printf 'other-%d' "$i" | sha256sum | cut -d' ' -f1)" "$i"; done
  printf 'load,%s,abc* heatpump-07\n' "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)"
} >"$work/access.csv"

# ask PATH HEADER TIMES: PATH asked TIMES on one keep-alive connection.
ask() {
  python3 - "$port" "$1" "$2" "$3" <<'PY'
import http.client, sys
port, path, header, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
headers = dict([header.split(": ", 1)]) if header else {}
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=600)
for _ in range(n):
    c.request("GET", path, headers=headers)
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
}

# count MODE PATH [HEADER]: instructions per request of PATH, N times.
count() {
  local mode=$1 path=$2 header=${3:-}
  local extra=()
  [ "$mode" = on ] && extra=(--access-file "$work/access.csv")
  RUST_LOG=warn valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$work/cg.$mode.%p" \
    "$bin" --bind "127.0.0.1:$port" --data-dir fixtures --intensity-url "" \
    --db "$(db "cost_$mode$RANDOM")" --watch off --backfill-days 0 "${extra[@]}" \
    2>"$work/server.$mode.log" &
  pid=$!
  for _ in $(seq 600); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
  ask "$path" "$header" 3
  callgrind_control -i on "$pid" >/dev/null 2>&1
  ask "$path" "$header" "$N"
  # The dump holds the N requests alone (counting began after warming).
  callgrind_control -d "$pid" >/dev/null 2>&1
  callgrind_control -i off "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  local total
  total=$(cat "$work"/cg."$mode".*.1 | awk '/^(summary|totals):/ {print $2; exit}')
  [ -n "${KEEP:-}" ] && cp "$work"/cg."$mode".*.1 "$KEEP/cg.$mode.$(basename "${path%%\?*}")"
  rm -f "$work"/cg."$mode".*
  echo $((total / N))
}

printf '%-8s %16s %16s %8s\n' url 'off instr/req' 'token instr/req' cost
for pair in "chart /footprint/abc123xyz/2019-11-25/14-20" "json /footprint/abc123xyz/2019-11-25/1-48?format=json" "fleet /fleet/2019-11-25?format=json"; do
  set -- $pair
  off=$(count off "$2")
  on=$(count on "$2" "Authorization: Bearer $token")
  printf '%-8s %16d %16d %7.1f%%\n' "$1" "$off" "$on" "$(echo "100 * ($on - $off) / $off" | bc -l)"
done
