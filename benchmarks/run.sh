#!/usr/bin/env bash
# Engine benchmarks, each a ratio against a reference measured in the same run on this machine.
#
#   benchmarks/run.sh [SECONDS]     (default 10)
#
# 1. Server: nginx (1 worker, keep-alive, `return 202`) and the Sluice engine endpoint
#    (sluice-bench server: our HTTP server answering 202 to POST /<ns>/<broker>) driven by the
#    same wrk (-t1 -c32) posting a ~300-byte binary CloudEvent. Target: Sluice >= 0.8x nginx req/s,
#    p99 <= 2x nginx's.
# 2. Client: requests/s through the Sluice pooled client to nginx against wrk's rate on the same
#    nginx. Target: >= 0.5x.
# 3. Queue: the lock-free MPMCQueue against Mutex+Deque, 2 producers and 1 consumer.
# 4. Idle RSS of `sluice serve`. Target: < 10 MB.
#
# Servers run on CPU 0 and load generators on CPU 1 (taskset), so each side has one core.
# Needs: nginx, wrk (apt-get install -y nginx-light wrk), util-linux (taskset).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

NGINX_PORT=18101
ENGINE_PORT=18102
SERVE_PORT=18103
METRICS_PORT=18104

echo "== building (release)"
swift build -c release --product sluice >/dev/null
(cd benchmarks && swift build -c release >/dev/null)
BENCH=benchmarks/.build/release/sluice-bench

wait_for_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "port $1 did not open" >&2
    exit 1
}

cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path $WORK;
    proxy_temp_path $WORK;
    fastcgi_temp_path $WORK;
    uwsgi_temp_path $WORK;
    scgi_temp_path $WORK;
    server { listen 127.0.0.1:$NGINX_PORT; location / { return 202; } }
}
EOF
taskset -c 0 nginx -c "$WORK/nginx.conf" &
PIDS+=($!)
taskset -c 0 "$BENCH" server "$ENGINE_PORT" 1 >/dev/null &
PIDS+=($!)
wait_for_port "$NGINX_PORT"
wait_for_port "$ENGINE_PORT"

# Runs wrk pinned to CPU 1; prints "req/s p99_ms".
drive() {
    local out
    out=$(taskset -c 1 wrk -t1 -c32 -d"${SECONDS_PER_RUN}s" --latency -s benchmarks/post-event.lua "$1")
    echo "$out" >>"$WORK/wrk.log"
    local rps p99
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "$rps $(to_ms "$p99")"
}
to_ms() {
    case "$1" in
        *us) awk -v v="${1%us}" 'BEGIN {printf "%.3f", v / 1000}' ;;
        *ms) awk -v v="${1%ms}" 'BEGIN {printf "%.3f", v}' ;;
        *s) awk -v v="${1%s}" 'BEGIN {printf "%.3f", v * 1000}' ;;
        *) echo "$1" ;;
    esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "== 1. server: wrk -t1 -c32 -d${SECONDS_PER_RUN}s, POST ~300-byte CloudEvent"
# Warm both up briefly, then measure nginx, Sluice, nginx again and keep each side's best.
taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua "http://127.0.0.1:$NGINX_PORT/ns/default" >/dev/null
taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua "http://127.0.0.1:$ENGINE_PORT/ns/default" >/dev/null
read -r NGINX_RPS NGINX_P99 <<<"$(drive "http://127.0.0.1:$NGINX_PORT/ns/default")"
read -r ENGINE_RPS ENGINE_P99 <<<"$(drive "http://127.0.0.1:$ENGINE_PORT/ns/default")"
printf "nginx return 202      %10.0f req/s   p99 %7s ms\n" "$NGINX_RPS" "$NGINX_P99"
printf "sluice engine (1 loop) %9.0f req/s   p99 %7s ms\n" "$ENGINE_RPS" "$ENGINE_P99"
echo "ratio sluice/nginx: $(ratio "$ENGINE_RPS" "$NGINX_RPS")x req/s (target >= 0.8), p99 $(ratio "$ENGINE_P99" "$NGINX_P99")x (target <= 2)"

echo "== 2. client: requests/s to nginx, Sluice pooled client vs wrk (both 32 in flight, CPU 1)"
read -r WRK_RPS _ <<<"$(drive "http://127.0.0.1:$NGINX_PORT/ns/default")"
CLIENT_LINE=$(taskset -c 1 "$BENCH" client "http://127.0.0.1:$NGINX_PORT/ns/default" "$SECONDS_PER_RUN" 32)
CLIENT_RPS=$(echo "$CLIENT_LINE" | sed -E 's/.* ([0-9]+) req\/s.*/\1/')
printf "wrk -> nginx           %9.0f req/s\n" "$WRK_RPS"
echo "sluice client -> nginx $CLIENT_LINE"
echo "ratio client/wrk: $(ratio "$CLIENT_RPS" "$WRK_RPS")x (target >= 0.5)"

echo "== 3. queue: 2 producers, 1 consumer"
"$BENCH" queue 5000000

echo "== 4. idle RSS of sluice serve"
mkdir -p "$WORK/config"
cp config/*.yaml "$WORK/config/" 2>/dev/null || true
.build/release/sluice serve --config "$WORK/config" --storage memory --port "$SERVE_PORT" \
    --metrics-port "$METRICS_PORT" --data-dir "$WORK/data" 2>"$WORK/serve.log" &
SERVE_PID=$!
PIDS+=($SERVE_PID)
wait_for_port "$SERVE_PORT"
sleep 2
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$SERVE_PID/status)
echo "idle RSS: $((RSS_KB / 1024)).$(((RSS_KB % 1024) * 10 / 1024)) MB (${RSS_KB} kB; target < 10 MB)"
taskset -c 1 wrk -t1 -c32 -d3s "http://127.0.0.1:$SERVE_PORT/healthz" >/dev/null
sleep 1
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$SERVE_PID/status)
echo "RSS after 3 s of 32-connection load and 1 s idle: $((RSS_KB / 1024)).$(((RSS_KB % 1024) * 10 / 1024)) MB (${RSS_KB} kB)"
