#!/usr/bin/env bash
# HTTP throughput and tail latency with a real load generator: wrk drives
# examples/http_bench.rs (release build), the same trivial handler four ways
# in one run — plain, #[monitored], MonitorLayer, and tower's
# LoadShed+ConcurrencyLimit+Timeout — and prints each one's requests per
# second and p99 against the plain handler's.
#
# Run: bash bench/http.sh [seconds per route, default 10] [rounds, default 3]
# Needs wrk (apt-get install -y wrk). Rounds alternate the routes, and the
# best round of each route is kept, so that a noisy moment on a shared
# machine hurts every route alike.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
rounds=${2:-3}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install -y wrk" >&2; exit 1; }

cargo build --release --quiet --example http_bench
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/examples/http_bench "127.0.0.1:$port" > /dev/null &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/plain" > /dev/null && break
    sleep 0.1
done

routes=(plain monitored layer tower)
declare -A rps p99
for round in $(seq "$rounds"); do
    for route in "${routes[@]}"; do
        out=$(wrk -t1 -c32 -d"${seconds}s" --latency "http://127.0.0.1:$port/$route")
        r=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        # "     99%    1.23ms": in microseconds.
        l=$(awk '$1 == "99%" {v=$2; u=v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
                 if (u == "us") print v; else if (u == "ms") print v*1000; else print v*1000000}' <<<"$out")
        echo "round $round  /$route  $r req/s  p99 ${l}us" >&2
        if [[ -z "${rps[$route]:-}" ]] || awk "BEGIN {exit !($r > ${rps[$route]})}"; then
            rps[$route]=$r
            p99[$route]=$l
        fi
    done
done

printf '%-10s %12s %8s %10s %8s\n' route "req/s" "x plain" "p99 (us)" "x plain"
for route in "${routes[@]}"; do
    awk -v n="$route" -v r="${rps[$route]}" -v pr="${rps[plain]}" -v l="${p99[$route]}" -v pl="${p99[plain]}" \
        'BEGIN {printf "%-10s %12.0f %8.3f %10.0f %8.3f\n", n, r, r/pr, l, l/pl}'
done
