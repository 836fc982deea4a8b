# Shared by bench/run and bench/peers/run: ports, loads and ratios.

# wrk, from Debian's packages, installed when missing and this is root on Debian.
need_wrk() {
  command -v wrk >/dev/null && return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "==> installing wrk"
    apt-get install -y -q wrk >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
  fi
  command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# fresh_database URL: drops and creates the PostgreSQL database URL names, for one run.
fresh_database() {
  python3 - "$1" <<'PY'
import subprocess, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
db = u.path.lstrip("/")
subprocess.run(["psql", "-h", u.hostname, "-p", str(u.port or 5432), "-U", u.username or "postgres", "-d", "postgres",
                "-qc", f'drop database if exists "{db}"', "-c", f'create database "{db}"'], check=True)
PY
}

# wait_up URL: waits up to 30 s for URL to answer at all.
wait_up() {
  for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "nothing answers at $1" >&2
  return 1
}

# load NAME CONNECTIONS SCRIPT URL: runs wrk for BENCH_SECONDS, prints one result line and keeps
# the numbers in $rate, $p99 and $statuses ("200=123 503=4").
load() {
  local name=$1 conns=$2 script=$3 url=$4 text
  text=$(wrk -t2 -c"$conns" -d"${BENCH_SECONDS:-10}s" --latency -s "$BENCH_WRK/$script" "$url" 2>&1)
  rate=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$text")
  p99=$(awk '/^LATENCY/ {sub("p99=", "", $3); print $3}' <<<"$text")
  statuses=$(awk '/^STATUS/ {$1=""; print}' <<<"$text")
  printf '%-34s %5s conns %9s req/s  p99 %10s  statuses:%s\n' "$name" "$conns" "$rate" "$p99" "$statuses"
}

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

# signup EMAIL / signin EMAIL FIELD: an account with BENCH_PASSWORD at $base, and one field
# (access_token, refresh_token) of a sign-in's answer.
signup() {
  curl -sf -X POST "$base/signup" -H 'content-type: application/json' \
    -d "{\"firstname\":\"Bench\",\"lastname\":\"User\",\"email\":\"$1\",\"password\":\"$BENCH_PASSWORD\"}" >/dev/null
}
signin() {
  curl -sf -X POST "$base/signin" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$BENCH_PASSWORD\"}" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}
