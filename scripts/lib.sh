# Shared by the measuring scripts (sourced, after `cd` to the repository):
# a release build in $bin, a work directory $work removed on exit with the
# server in $pid and, under ENGINE=postgres, a throwaway cluster whose
# admin URL is $admin; db NAME makes a fresh database (a file for SQLite),
# forget NAME drops it; $port is a free loopback port; stop ends the server
# in $pid, get PATH prints the seconds it took, median the middle of the
# numbers on stdin.
ENGINE=${ENGINE:-sqlite}
cargo build --release --quiet
bin=$PWD/target/release/carbon-footprint
work=$(mktemp -d)
chmod 755 "$work"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ "$ENGINE" = postgres ] && scripts/postgres.sh stop "$work/pg"; rm -rf "$work"' EXIT
admin=""
[ "$ENGINE" = postgres ] && admin=$(scripts/postgres.sh start "$work/pg")
db() { # name: a fresh database of that name
  if [ "$ENGINE" = postgres ]; then
    psql "$admin" -qc "CREATE DATABASE $1"
    echo "${admin%/postgres}/$1"
  else
    echo "$work/$1.sqlite3"
  fi
}
forget() { # name
  if [ "$ENGINE" = postgres ]; then psql "$admin" -qc "DROP DATABASE $1"; else rm -f "$work/$1.sqlite3"*; fi
}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
get() { curl -fsS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$1"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
