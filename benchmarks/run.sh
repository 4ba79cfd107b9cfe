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
# 5. Broker ingress (`sluice serve --storage memory`, one trigger) against nginx `return 202`,
#    same wrk; stored events only. The trigger's subscriber accepts connections and never
#    answers, so deliveries stay parked and the figure is the ingress alone. Target: >= 0.7x.
# 6. End to end: ingress -> one trigger -> nginx answering 200; events delivered per second
#    (target >= 40,000) against nginx proxy_pass to the same location; the backlog when the
#    load stops and how fast it drains.
# 7. Trigger matching: one event against 1,000 exact-type triggers (target < 2 us), and the
#    cost of one evaluation per filter dialect.
# 9. Durable ingress: `--storage disk` against `--storage memory`, same wrk, one trigger with
#    parked deliveries as in 5; events per fsync and fsyncs per second; then the time to
#    recover a data directory holding 1 million events. Target: disk >= 0.5x memory.
# 8. CESQL: one compiled `type = 'com.example.a' AND source LIKE '/orders/%'` evaluated
#    against an event, in ns and heap allocations (malloc-counter.c preloaded), and a
#    10-clause expression. Target: < 200 ns and 0 allocations.
#
# Servers run on CPU 0 and load generators on CPU 1 (taskset), so each side has one core.
# Needs: nginx, wrk (apt-get install -y nginx-light wrk), util-linux (taskset), gcc.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
source benchmarks/common.sh

NGINX_PORT=18101
ENGINE_PORT=18102
SERVE_PORT=18103
METRICS_PORT=18104
BROKER_PORT=18105
BROKER_METRICS_PORT=18106
BLACKHOLE_PORT=18107
PROXY_PORT=18108

echo "== building (release)"
swift build -c release --product sluice >/dev/null
(cd benchmarks && swift build -c release >/dev/null)
BENCH=benchmarks/.build/release/sluice-bench
gcc -O2 -shared -fPIC -o "$WORK/malloc-counter.so" benchmarks/malloc-counter.c -ldl


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
    upstream sink { server 127.0.0.1:$NGINX_PORT; keepalive 64; }
    server { listen 127.0.0.1:$NGINX_PORT; location / { return 202; } location /sink { return 200; } }
    server {
        listen 127.0.0.1:$PROXY_PORT;
        location / { proxy_pass http://sink/sink; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
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
sleep 3
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$SERVE_PID/status)
echo "idle RSS: $((RSS_KB / 1024)).$(((RSS_KB % 1024) * 10 / 1024)) MB (${RSS_KB} kB; target < 10 MB)"
taskset -c 1 wrk -t1 -c32 -d3s "http://127.0.0.1:$SERVE_PORT/healthz" >/dev/null
sleep 1
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$SERVE_PID/status)
echo "RSS after 3 s of 32-connection load and 1 s idle: $((RSS_KB / 1024)).$(((RSS_KB % 1024) * 10 / 1024)) MB (${RSS_KB} kB)"
kill "$SERVE_PID" 2>/dev/null || true

# Reads a counter or gauge (summed over its labels) from a metrics endpoint.
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v name="$2" 'index($0, name"{") == 1 {sum += $2} END {print sum + 0}'; }

# A trigger manifest for broker bench/default delivering to $1.
one_trigger() {
    cat <<EOF
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: bench}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: only, namespace: bench}
spec:
  broker: default
  subscriber: {uri: "$1"}
EOF
}

# Starts sluice on manifest file $1 with storage ${2:-memory} (disk keeps its log in $WORK/data).
start_broker() {
    .build/release/sluice serve --config "$1" --storage "${2:-memory}" --data-dir "$WORK/data" --host 127.0.0.1 --port "$BROKER_PORT" \
        --metrics-port "$BROKER_METRICS_PORT" --max-events-per-trigger 5000000 --max-broker-bytes 4000000000 \
        --max-disk-bytes 16000000000 2>"$1.log" &
    BROKER_PID=$!
    PIDS+=($BROKER_PID)
    wait_for_port "$BROKER_PORT"
}

echo "== 5. broker ingress (--storage memory, one trigger, deliveries parked) vs nginx return 202"
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $BLACKHOLE_PORT)); s.listen(4096); time.sleep(600)" &
PIDS+=($!)
one_trigger "http://127.0.0.1:$BLACKHOLE_PORT/" >"$WORK/ingress.yaml"
start_broker "$WORK/ingress.yaml"
taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua "http://127.0.0.1:$BROKER_PORT/bench/default" >/dev/null
read -r NGINX_RPS NGINX_P99 <<<"$(drive "http://127.0.0.1:$NGINX_PORT/bench/default")"
BEFORE=$(metric "$BROKER_METRICS_PORT" sluice_broker_events_accepted_total)
read -r BROKER_RPS BROKER_P99 <<<"$(drive "http://127.0.0.1:$BROKER_PORT/bench/default")"
AFTER=$(metric "$BROKER_METRICS_PORT" sluice_broker_events_accepted_total)
REFUSED=$(metric "$BROKER_METRICS_PORT" sluice_broker_events_rejected_total)
STORED_RPS=$(awk -v a="$AFTER" -v b="$BEFORE" -v t="$SECONDS_PER_RUN" 'BEGIN {printf "%.0f", (a - b) / t}')
printf "nginx return 202        %9.0f req/s   p99 %7s ms\n" "$NGINX_RPS" "$NGINX_P99"
printf "sluice broker ingress   %9.0f req/s   p99 %7s ms  (%s events stored per second)\n" "$BROKER_RPS" "$BROKER_P99" "$STORED_RPS"
echo "ratio broker/nginx: $(ratio "$STORED_RPS" "$NGINX_RPS")x stored events/s (target >= 0.7); $REFUSED refused"
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true

echo "== 6. end to end: wrk -> sluice -> one trigger -> nginx 200, against wrk -> nginx proxy_pass -> nginx 200"
one_trigger "http://127.0.0.1:$NGINX_PORT/sink" >"$WORK/e2e.yaml"
start_broker "$WORK/e2e.yaml"
wait_for_port "$PROXY_PORT"
read -r PROXY_RPS _ <<<"$(drive "http://127.0.0.1:$PROXY_PORT/")"
START=$(date +%s.%N)
read -r E2E_RPS _ <<<"$(drive "http://127.0.0.1:$BROKER_PORT/bench/default")"
STOP=$(date +%s.%N)
DELIVERED=$(metric "$BROKER_METRICS_PORT" sluice_trigger_events_delivered_total)
BACKLOG=$(metric "$BROKER_METRICS_PORT" sluice_trigger_queue_depth)
DRAIN_START=$(date +%s.%N)
for _ in $(seq 1 1200); do
    [ "$(metric "$BROKER_METRICS_PORT" sluice_trigger_queue_depth)" = "0" ] && break
    sleep 0.05
done
DRAIN_STOP=$(date +%s.%N)
TOTAL=$(metric "$BROKER_METRICS_PORT" sluice_trigger_events_delivered_total)
DELIVERED_RPS=$(awk -v d="$DELIVERED" -v a="$START" -v b="$STOP" 'BEGIN {printf "%.0f", d / (b - a)}')
DRAIN_TIME=$(awk -v a="$DRAIN_START" -v b="$DRAIN_STOP" 'BEGIN {printf "%.2f", b - a}')
DRAIN_RATE=$(awk -v n="$BACKLOG" -v t="$DRAIN_TIME" 'BEGIN {printf "%.0f", (t > 0 ? n / t : 0)}')
printf "nginx proxy_pass        %9.0f req/s delivered to the nginx location\n" "$PROXY_RPS"
printf "sluice end to end       %9.0f events/s delivered during the run (ingress answered %.0f req/s)\n" "$DELIVERED_RPS" "$E2E_RPS"
echo "backlog when the load stopped: $BACKLOG events, drained in $DRAIN_TIME s (about $DRAIN_RATE events/s); $TOTAL delivered in all"
echo "ratio sluice/proxy_pass: $(ratio "$DELIVERED_RPS" "$PROXY_RPS")x (target: >= 40,000 events/s delivered)"
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true

echo "== 7. trigger matching"
"$BENCH" match 1000

echo "== 8. CESQL evaluation"
LD_PRELOAD="$WORK/malloc-counter.so" "$BENCH" cesql

echo "== 9. durable ingress: --storage disk vs --storage memory (one trigger, deliveries parked)"
# Stored events per second of a broker on $1 with storage $2, after a short warm-up.
stored_rate() {
    start_broker "$1" "$2"
    taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua "http://127.0.0.1:$BROKER_PORT/bench/default" >/dev/null
    local before syncs_before after syncs_after
    before=$(metric "$BROKER_METRICS_PORT" sluice_broker_events_accepted_total)
    syncs_before=$(metric "$BROKER_METRICS_PORT" sluice_storage_syncs_total)
    drive "http://127.0.0.1:$BROKER_PORT/bench/default" >/dev/null
    after=$(metric "$BROKER_METRICS_PORT" sluice_broker_events_accepted_total)
    syncs_after=$(metric "$BROKER_METRICS_PORT" sluice_storage_syncs_total)
    kill "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    echo "$(( (after - before) / SECONDS_PER_RUN )) $(( syncs_after - syncs_before ))"
}
rm -rf "$WORK/data"
read -r MEMORY_RPS _ <<<"$(stored_rate "$WORK/ingress.yaml" memory)"
read -r DISK_RPS DISK_SYNCS <<<"$(stored_rate "$WORK/ingress.yaml" disk)"
printf "sluice --storage memory %9.0f events stored/s\n" "$MEMORY_RPS"
printf "sluice --storage disk   %9.0f events stored/s, %.0f fsyncs/s, %.1f events per fsync\n" "$DISK_RPS" \
    "$(awk -v s="$DISK_SYNCS" -v t="$SECONDS_PER_RUN" 'BEGIN {print s / t}')" \
    "$(awk -v e="$DISK_RPS" -v s="$DISK_SYNCS" -v t="$SECONDS_PER_RUN" 'BEGIN {print (s > 0 ? e * t / s : 0)}')"
echo "ratio disk/memory: $(ratio "$DISK_RPS" "$MEMORY_RPS")x (target >= 0.5)"
rm -rf "$WORK/data" "$WORK/recovery"
"$BENCH" recovery "$WORK/recovery" 1000000 2>/dev/null
rm -rf "$WORK/recovery"
