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
# 5. Broker ingress (`sluice serve --storage memory`, one trigger that matches nothing) against
#    nginx `return 202`, same wrk: events parsed, matched and answered 202. Targets: >= 0.9x,
#    p99 <= 2x nginx's.
# 6. End to end, memory and disk: ingress -> one trigger -> a subscriber nginx (its own process,
#    answering 200); events delivered per second against an nginx proxy_pass (its own process,
#    upstream keep-alive) to the same subscriber. Targets: memory >= 1.5x, disk >= 1.0x.
# 7. Trigger matching: one event against 1,000 exact-type triggers (target < 2 us), and the
#    cost of one evaluation per filter dialect.
# 9. Durable ingress: `--storage disk` against `--storage memory`, same wrk, one trigger with
#    parked deliveries as in 5; events per fsync and fsyncs per second; the resident memory of
#    the disk broker holding that backlog (target < 64 MB); then a store with 1 million events
#    owed: reopening, reading them back, and a checkpointed restart. Target: disk >= 0.9x memory.
# 10. Latency at a steady 2,000 events/s (sluice-bench latency, its own subscriber): sluice
#    memory and disk end to end against nginx proxy_pass, and the disk's own floor: one append
#    and fdatasync at the same rate (sluice-bench syncfloor). Target: disk p99 < 1 ms, max < 10 ms.
# 11. A stalled trigger (its subscriber never answers) beside a fast one on a disk broker: the
#    producer's and the fast trigger's rates against a run without it. Target: both >= 0.9x.
# 8. CESQL: one compiled `type = 'com.example.a' AND source LIKE '/orders/%'` evaluated
#    against an event, in ns and heap allocations (malloc-counter.c preloaded), and a
#    10-clause expression. Target: < 200 ns and 0 allocations.
#
# Servers (nginx with one worker, Sluice with one loop, the subscriber nginx of the end-to-end
# runs) run on CPU 0 and load generators on CPU 1 (taskset), so each side has one core.
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
SINK_PORT=18109
LATENCY_SINK_PORT=18110
LATENCY_PROXY_PORT=18111

echo "== building (release)"
swift build -c release --product sluice >/dev/null
(cd benchmarks && swift build -c release >/dev/null)
BENCH=benchmarks/.build/release/sluice-bench
gcc -O2 -shared -fPIC -o "$WORK/malloc-counter.so" benchmarks/malloc-counter.c -ldl


nginx_process nginx "    server { listen 127.0.0.1:$NGINX_PORT; location / { return 202; } }" 0
KEEP_UPSTREAM='proxy_http_version 1.1; proxy_set_header Connection "";'
nginx_process sink "    server { listen 127.0.0.1:$SINK_PORT; location / { return 200; } }" 0
nginx_process proxy "    upstream sink { server 127.0.0.1:$SINK_PORT; keepalive 64; }
    server { listen 127.0.0.1:$PROXY_PORT; location / { proxy_pass http://sink/sink; $KEEP_UPSTREAM } }" 0
nginx_process latency-proxy "    upstream latency { server 127.0.0.1:$LATENCY_SINK_PORT; keepalive 64; }
    server { listen 127.0.0.1:$LATENCY_PROXY_PORT; location / { proxy_pass http://latency/sink; $KEEP_UPSTREAM } }" 0
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
# The file-backed part is the binary's and libraries' pages, shared with the page cache; how
# many are mapped varies with what the cache holds (fault-around), the anonymous part does not.
ANON_KB=$(awk '/RssAnon/ {print $2}' /proc/$SERVE_PID/status)
echo "idle RSS: $((RSS_KB / 1024)).$(((RSS_KB % 1024) * 10 / 1024)) MB (${RSS_KB} kB; target < 10 MB): ${ANON_KB} kB anonymous, $((RSS_KB - ANON_KB)) kB file-backed"
taskset -c 1 wrk -t1 -c32 -d3s "http://127.0.0.1:$SERVE_PORT/healthz" >/dev/null
sleep 1
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$SERVE_PID/status)
echo "RSS after 3 s of 32-connection load and 1 s idle: $((RSS_KB / 1024)).$(((RSS_KB % 1024) * 10 / 1024)) MB (${RSS_KB} kB)"
kill "$SERVE_PID" 2>/dev/null || true

# Reads a counter or gauge from a metrics endpoint, summed over its labels (over the lines
# containing $3, when given).
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v name="$2" -v only="${3:-}" 'index($0, name"{") == 1 && index($0, only) {sum += $2} END {print sum + 0}'; }

# Starts sluice on manifest file $1 with storage ${2:-memory} (disk keeps its log in $WORK/data),
# one loop on CPU 0 as nginx's one worker. Memory storage gets room for the whole run; disk
# storage keeps its default window per trigger (the rest waits in the log).
start_broker() {
    local bounds=()
    if [ "${2:-memory}" = memory ]; then bounds=(--max-events-per-trigger 5000000 --max-broker-bytes 4000000000); fi
    taskset -c 0 .build/release/sluice serve --config "$1" --storage "${2:-memory}" --data-dir "$WORK/data" --host 127.0.0.1 \
        --port "$BROKER_PORT" --loops 1 --metrics-port "$BROKER_METRICS_PORT" --max-disk-bytes 16000000000 "${bounds[@]}" 2>"$1.log" &
    BROKER_PID=$!
    PIDS+=($BROKER_PID)
    wait_for_port "$BROKER_PORT"
}

echo "== 5. broker ingress (--storage memory, one trigger that matches nothing) vs nginx return 202"
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $BLACKHOLE_PORT)); s.listen(4096); time.sleep(1800)" &
PIDS+=($!)
one_trigger "http://127.0.0.1:$BLACKHOLE_PORT/" >"$WORK/ingress.yaml"
# The ingress alone: events are parsed, matched and answered, and nothing piles up in memory
# (with parked deliveries the queue's growth, page faults included, would be measured too).
sed 's|^  broker: default|  broker: default\n  filter: {attributes: {type: com.example.nothing}}|' "$WORK/ingress.yaml" >"$WORK/unmatched.yaml"
start_broker "$WORK/unmatched.yaml"
taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua "http://127.0.0.1:$BROKER_PORT/bench/default" >/dev/null
read -r NGINX_RPS NGINX_P99 <<<"$(drive "http://127.0.0.1:$NGINX_PORT/bench/default")"
BEFORE=$(metric "$BROKER_METRICS_PORT" sluice_broker_events_accepted_total)
read -r BROKER_RPS BROKER_P99 <<<"$(drive "http://127.0.0.1:$BROKER_PORT/bench/default")"
AFTER=$(metric "$BROKER_METRICS_PORT" sluice_broker_events_accepted_total)
REFUSED=$(metric "$BROKER_METRICS_PORT" sluice_broker_events_rejected_total)
STORED_RPS=$(awk -v a="$AFTER" -v b="$BEFORE" -v t="$SECONDS_PER_RUN" 'BEGIN {printf "%.0f", (a - b) / t}')
printf "nginx return 202        %9.0f req/s   p99 %7s ms\n" "$NGINX_RPS" "$NGINX_P99"
printf "sluice broker ingress   %9.0f req/s   p99 %7s ms  (%s events accepted per second)\n" "$BROKER_RPS" "$BROKER_P99" "$STORED_RPS"
echo "ratio broker/nginx: $(ratio "$STORED_RPS" "$NGINX_RPS")x accepted events/s (target >= 0.9), p99 $(ratio "$BROKER_P99" "$NGINX_P99")x (target <= 2); $REFUSED refused"
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true

echo "== 6. end to end: wrk -> sluice -> one trigger -> subscriber nginx, against wrk -> nginx proxy_pass -> subscriber nginx"
wait_for_port "$PROXY_PORT"
wait_for_port "$SINK_PORT"
one_trigger "http://127.0.0.1:$SINK_PORT/sink" >"$WORK/e2e.yaml"
read -r PROXY_RPS _ <<<"$(drive "http://127.0.0.1:$PROXY_PORT/")"
printf "nginx proxy_pass          %9.0f req/s delivered to the subscriber\n" "$PROXY_RPS"
# Events per second a broker on storage $1 delivered during one wrk run; then the backlog left
# when the load stopped and how long it took to drain. Sets E2E_DELIVERED.
end_to_end() {
    rm -rf "$WORK/data"
    start_broker "$WORK/e2e.yaml" "$1"
    taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua "http://127.0.0.1:$BROKER_PORT/bench/default" >/dev/null
    sleep 1
    local before start stop delivered backlog drain_start drain_stop rps
    before=$(metric "$BROKER_METRICS_PORT" sluice_trigger_events_delivered_total)
    start=$(date +%s.%N)
    read -r rps _ <<<"$(drive "http://127.0.0.1:$BROKER_PORT/bench/default")"
    stop=$(date +%s.%N)
    delivered=$(( $(metric "$BROKER_METRICS_PORT" sluice_trigger_events_delivered_total) - before ))
    backlog=$(( $(metric "$BROKER_METRICS_PORT" sluice_broker_events_accepted_total) - $(metric "$BROKER_METRICS_PORT" sluice_trigger_events_delivered_total) ))
    drain_start=$(date +%s.%N)
    for _ in $(seq 1 1200); do
        [ "$(metric "$BROKER_METRICS_PORT" sluice_broker_events_accepted_total)" = "$(metric "$BROKER_METRICS_PORT" sluice_trigger_events_delivered_total)" ] && break
        sleep 0.05
    done
    drain_stop=$(date +%s.%N)
    kill "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    E2E_DELIVERED=$(awk -v d="$delivered" -v a="$start" -v b="$stop" 'BEGIN {printf "%.0f", d / (b - a)}')
    printf "sluice end to end, %-6s %9.0f events/s delivered during the run (ingress answered %.0f req/s); backlog %s, drained in %.2f s\n" \
        "$1" "$E2E_DELIVERED" "$rps" "$backlog" "$(awk -v a="$drain_start" -v b="$drain_stop" 'BEGIN {print b - a}')"
}
end_to_end memory
E2E_MEMORY=$E2E_DELIVERED
end_to_end disk
E2E_DISK=$E2E_DELIVERED
echo "ratio sluice/proxy_pass: memory $(ratio "$E2E_MEMORY" "$PROXY_RPS")x (target >= 1.5), disk $(ratio "$E2E_DISK" "$PROXY_RPS")x (target >= 1.0)"

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
    # Every accepted event is still owed: the subscriber never answers.
    local rss_kb
    rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$BROKER_PID/status)
    kill "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    echo "$(( (after - before) / SECONDS_PER_RUN )) $(( syncs_after - syncs_before )) $after $rss_kb"
}
rm -rf "$WORK/data"
read -r MEMORY_RPS _ <<<"$(stored_rate "$WORK/ingress.yaml" memory)"
read -r DISK_RPS DISK_SYNCS BACKLOG_EVENTS BACKLOG_RSS_KB <<<"$(stored_rate "$WORK/ingress.yaml" disk)"
printf "sluice --storage memory %9.0f events stored/s\n" "$MEMORY_RPS"
printf "sluice --storage disk   %9.0f events stored/s, %.0f fsyncs/s, %.1f events per fsync\n" "$DISK_RPS" \
    "$(awk -v s="$DISK_SYNCS" -v t="$SECONDS_PER_RUN" 'BEGIN {print s / t}')" \
    "$(awk -v e="$DISK_RPS" -v s="$DISK_SYNCS" -v t="$SECONDS_PER_RUN" 'BEGIN {print (s > 0 ? e * t / s : 0)}')"
echo "ratio disk/memory: $(ratio "$DISK_RPS" "$MEMORY_RPS")x (target >= 0.9)"
echo "resident memory of the disk broker with $BACKLOG_EVENTS events owed to a subscriber that never answers: $((BACKLOG_RSS_KB / 1024)) MB (target < 64 MB)"
rm -rf "$WORK/data" "$WORK/recovery"
"$BENCH" recovery "$WORK/recovery" 1000000 2>/dev/null
rm -rf "$WORK/recovery"

echo "== 10. latency at 2,000 events/s, posted and received by sluice-bench latency (CPU 1)"
one_trigger "http://127.0.0.1:$LATENCY_SINK_PORT/sink" >"$WORK/latency.yaml"
wait_for_port "$LATENCY_PROXY_PORT"
echo "nginx proxy_pass: $(taskset -c 1 "$BENCH" latency "http://127.0.0.1:$LATENCY_PROXY_PORT/" 2000 "$SECONDS_PER_RUN" "$LATENCY_SINK_PORT")"
for storage in memory disk; do
    rm -rf "$WORK/data"
    start_broker "$WORK/latency.yaml" "$storage"
    echo "sluice $storage: $(taskset -c 1 "$BENCH" latency "http://127.0.0.1:$BROKER_PORT/bench/default" 2000 "$SECONDS_PER_RUN" "$LATENCY_SINK_PORT")"
    kill "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
done
mkdir -p "$WORK/data"
echo "$(taskset -c 1 "$BENCH" syncfloor "$WORK/data" 2000 "$SECONDS_PER_RUN")  (the disk's own floor for a lone durable event)"
rm -rf "$WORK/data"
echo "(targets: disk p99 < 1 ms, max < 10 ms)"

echo "== 11. a slow trigger beside a fast one (disk): the fast one's delivery rate and the producer's, with and without it"
# The slow trigger's subscriber accepts connections and never answers: 1 s timeouts, retries.
cat >"$WORK/slow.yaml" <<EOF
$(one_trigger "http://127.0.0.1:$SINK_PORT/sink")
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: slow, namespace: bench}
spec:
  broker: default
  subscriber: {uri: "http://127.0.0.1:$BLACKHOLE_PORT/"}
  delivery: {retry: 3, backoffPolicy: linear, backoffDelay: PT0.2S, timeout: PT1S}
EOF
# Prints "accepted/s delivered-to-fast/s" for a disk broker on $1 under one wrk run.
fast_rates() {
    rm -rf "$WORK/data"
    start_broker "$1" disk
    local accepted_before delivered_before accepted delivered
    accepted_before=$(metric "$BROKER_METRICS_PORT" sluice_broker_events_accepted_total)
    delivered_before=$(metric "$BROKER_METRICS_PORT" sluice_trigger_events_delivered_total '"only"')
    drive "http://127.0.0.1:$BROKER_PORT/bench/default" >/dev/null
    accepted=$(metric "$BROKER_METRICS_PORT" sluice_broker_events_accepted_total)
    delivered=$(metric "$BROKER_METRICS_PORT" sluice_trigger_events_delivered_total '"only"')
    kill "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    echo "$(( (accepted - accepted_before) / SECONDS_PER_RUN )) $(( (delivered - delivered_before) / SECONDS_PER_RUN ))"
}
read -r ALONE_ACCEPTED ALONE_FAST <<<"$(fast_rates "$WORK/e2e.yaml")"
read -r BESIDE_ACCEPTED BESIDE_FAST <<<"$(fast_rates "$WORK/slow.yaml")"
printf "fast trigger alone:        %9.0f events/s accepted, %9.0f delivered/s\n" "$ALONE_ACCEPTED" "$ALONE_FAST"
printf "beside a stalled trigger:  %9.0f events/s accepted, %9.0f delivered/s\n" "$BESIDE_ACCEPTED" "$BESIDE_FAST"
echo "ratios beside/alone: accepted $(ratio "$BESIDE_ACCEPTED" "$ALONE_ACCEPTED")x, fast delivered $(ratio "$BESIDE_FAST" "$ALONE_FAST")x (target: both >= 0.9)"
