#!/usr/bin/env bash
# Channel and flow benchmarks, Sluice (`--storage disk`, one loop) on CPU 0 beside its nginx
# subscribers, load generators on CPU 1.
#
#   benchmarks/flows.sh [SECONDS]     (default 10)
#
# 1. Fan-out: a channel with 1, 10 and 100 subscriptions, each to an nginx answering 200;
#    wrk -t1 -c32 posts a ~300-byte binary CloudEvent to /channels/bench/fan. Events ingested
#    and deliveries made per second during the run, and Sluice's CPU time per delivery, whose
#    growth from 10 to 100 subscriptions is the cost of one more subscription.
# 2. A three-step Sequence at a steady 2,000 events/s (sluice-bench latency, open loop: it
#    posts to the Sequence's first channel and is the Sequence's reply): each step an nginx that
#    answers with the event (its ce-id echoed), so every event makes four channel hops. p50,
#    p99 and max from the POST to the reply's arrival, beside one trigger to the same
#    subscriber for scale.
# Needs: nginx, wrk (apt-get install -y nginx-light wrk), util-linux (taskset).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
source benchmarks/common.sh

SINK_PORT=18201
STEP_PORT=18202
BROKER_PORT=18203
METRICS_PORT=18204
LATENCY_SINK_PORT=18205

echo "== building (release)"
swift build -c release --product sluice >/dev/null
(cd benchmarks && swift build -c release >/dev/null)
BENCH=benchmarks/.build/release/sluice-bench

nginx_process subscribers "    server { listen 127.0.0.1:$SINK_PORT; location / { return 200; } }
    server {
        listen 127.0.0.1:$STEP_PORT;
        location / {
            add_header Ce-Specversion 1.0 always;
            add_header Ce-Id \$http_ce_id always;
            add_header Ce-Type \$http_ce_type always;
            add_header Ce-Source /step always;
            default_type application/json;
            return 200 '{}';
        }
    }" 0
wait_for_port "$SINK_PORT"

metric() { curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v name="$1" 'index($0, name"{") == 1 {sum += $2} END {printf "%.0f\n", sum + 0}'; }
# CPU time of process $1 so far, in microseconds.
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000000 / hz}' "/proc/$1/stat"; }

start_sluice() {
    rm -rf "$WORK/data"
    taskset -c 0 .build/release/sluice serve --config "$1" --data-dir "$WORK/data" --host 127.0.0.1 --port "$BROKER_PORT" \
        --loops 1 --metrics-port "$METRICS_PORT" --max-disk-bytes 16000000000 2>"$1.log" &
    SLUICE_PID=$!
    PIDS+=($SLUICE_PID)
    wait_for_port "$BROKER_PORT"
}
stop_sluice() {
    kill "$SLUICE_PID"
    wait "$SLUICE_PID" 2>/dev/null || true
}

echo "== 1. channel fan-out: wrk -t1 -c32 -d${SECONDS_PER_RUN}s -> channel -> N subscriptions -> nginx"
declare -A COST
for count in 1 10 100; do
    {
        echo "apiVersion: messaging.knative.dev/v1"
        echo "kind: InMemoryChannel"
        echo "metadata: {name: fan, namespace: bench}"
        for index in $(seq 1 "$count"); do
            printf -- "---\napiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: s%d, namespace: bench}\n" "$index"
            printf "spec:\n  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: fan}\n"
            printf "  subscriber: {uri: \"http://127.0.0.1:%d/s%d\"}\n" "$SINK_PORT" "$index"
        done
    } >"$WORK/fan-$count.yaml"
    start_sluice "$WORK/fan-$count.yaml"
    taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua "http://127.0.0.1:$BROKER_PORT/channels/bench/fan" >/dev/null
    accepted=$(metric sluice_channel_events_accepted_total)
    delivered=$(metric sluice_subscription_events_delivered_total)
    cpu=$(cpu_us "$SLUICE_PID")
    taskset -c 1 wrk -t1 -c32 -d"${SECONDS_PER_RUN}s" -s benchmarks/post-event.lua "http://127.0.0.1:$BROKER_PORT/channels/bench/fan" >/dev/null
    accepted=$(( $(metric sluice_channel_events_accepted_total) - accepted ))
    delivered=$(( $(metric sluice_subscription_events_delivered_total) - delivered ))
    cpu=$(awk -v a="$(cpu_us "$SLUICE_PID")" -v b="$cpu" 'BEGIN {print a - b}')
    stop_sluice
    COST[$count]=$(awk -v c="$cpu" -v d="$delivered" 'BEGIN {printf "%.2f", (d > 0 ? c / d : 0)}')
    printf "%3d subscriptions: %8d events/s ingested, %8d deliveries/s, %6s us of Sluice CPU per delivery\n" \
        "$count" "$((accepted / SECONDS_PER_RUN))" "$((delivered / SECONDS_PER_RUN))" "${COST[$count]}"
done
echo "cost of one more subscription (10 -> 100): $(awk -v a="${COST[100]}" -v b="${COST[10]}" 'BEGIN {printf "%+.2f", a - b}') us per delivery"

echo "== 2. three-step Sequence at 2,000 events/s, posted and received by sluice-bench latency (CPU 1)"
cat >"$WORK/sequence.yaml" <<EOF
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: seq, namespace: bench}
spec:
  steps:
    - uri: http://127.0.0.1:$STEP_PORT/step1
    - uri: http://127.0.0.1:$STEP_PORT/step2
    - uri: http://127.0.0.1:$STEP_PORT/step3
  reply: {uri: "http://127.0.0.1:$LATENCY_SINK_PORT/sink"}
---
$(one_trigger "http://127.0.0.1:$LATENCY_SINK_PORT/sink")
EOF
start_sluice "$WORK/sequence.yaml"
echo "sequence (4 channel hops, 3 steps): $(taskset -c 1 "$BENCH" latency "http://127.0.0.1:$BROKER_PORT/channels/bench/seq-kn-sequence-0" 2000 "$SECONDS_PER_RUN" "$LATENCY_SINK_PORT")"
echo "one trigger, for scale:             $(taskset -c 1 "$BENCH" latency "http://127.0.0.1:$BROKER_PORT/bench/default" 2000 "$SECONDS_PER_RUN" "$LATENCY_SINK_PORT")"
stop_sluice
