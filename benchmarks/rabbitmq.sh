#!/usr/bin/env bash
# RabbitmqSource benchmarks on a real rabbitmq-server started here (own node name, ports,
# directories), each figure a ratio against a plain AMQP client in the same run.
#
#   benchmarks/rabbitmq.sh [MESSAGES]     (default 100000)
#
# 1. RabbitmqSource -> subscriber (nginx `return 200`), parallelism 100: messages delivered and
#    acked per second, from the first ack to the last, against `sluice-amqp-peer consume`
#    (librabbitmq, prefetch 100, acks each message and does nothing else) draining a queue
#    filled the same way. Both queues are quorum queues, as Knative's source declares them.
#    Target >= 0.5x.
# 2. Reconnect: with the source running, RabbitMQ stopped and started again; the time from
#    RabbitMQ accepting connections again to Sluice's /readyz saying ready. Target < 5 s.
#
# Nothing is pinned: Sluice (two loops and its AMQP thread) and the reference consumer each
# share both cores with RabbitMQ and nginx, so the reference has the same CPUs as Sluice.
# Needs: rabbitmq-server, nginx (apt-get install -y rabbitmq-server nginx-light).
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-100000}
source benchmarks/common.sh

AMQP_PORT=18301
NGINX_PORT=18304
SLUICE_PORT=18305
METRICS_PORT=18306

echo "== building (release)"
swift build -c release --product sluice >/dev/null
swift build -c release --product sluice-amqp-peer >/dev/null
PEER=.build/release/sluice-amqp-peer

now() { date +%s.%N; }
# CPU seconds a process has used so far (user + system).
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
share() { awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" 'BEGIN {printf "%.0f%%", 100 * (b - a) / (t1 - t0)}'; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {printf "%.0f", n / (b - a)}'; }

# RabbitMQ, in $WORK, with its own epmd; both killed by pid on exit (after common.sh's cleanup
# of the rest).
mkdir -p "$WORK/rabbit/home" "$WORK/rabbit/mnesia" "$WORK/rabbit/log"
echo '[].' >"$WORK/rabbit/enabled_plugins"
printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$AMQP_PORT" >"$WORK/rabbit/rabbitmq.conf"
export HOME="$WORK/rabbit/home" RABBITMQ_NODENAME="sluice-bench-$AMQP_PORT@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT=$AMQP_PORT RABBITMQ_DIST_PORT=$((AMQP_PORT + 1)) ERL_EPMD_PORT=$((AMQP_PORT + 2)) ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_MNESIA_BASE="$WORK/rabbit/mnesia" RABBITMQ_LOG_BASE="$WORK/rabbit/log" RABBITMQ_CONFIG_FILE="$WORK/rabbit/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$WORK/rabbit/enabled_plugins" RUNNING_UNDER_SYSTEMD=true \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
epmd -port $((AMQP_PORT + 2)) -address 127.0.0.1 &
EPMD_PID=$!
RABBIT_PID=""
start_rabbit() {
    # (in its own directory: a VM that dies writes erl_crash.dump where it runs)
    (cd "$WORK/rabbit" && exec /usr/lib/rabbitmq/bin/rabbitmq-server >"$WORK/rabbit/out" 2>&1) &
    RABBIT_PID=$!
    wait_for_port "$AMQP_PORT" 90
}
stop_rabbit() {
    /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODENAME" stop >/dev/null 2>&1 || kill -9 "$RABBIT_PID"
    wait "$RABBIT_PID" 2>/dev/null || true
}
trap '{ kill -9 $RABBIT_PID $EPMD_PID; wait $RABBIT_PID $EPMD_PID; } 2>/dev/null || true; cleanup' EXIT
echo "== starting rabbitmq-server"
start_rabbit

start_subscriber "$NGINX_PORT"

# ~300-byte bodies, persistent, in quorum queues.
fill() {
    local queue=$1 start end
    $PEER declare --port "$AMQP_PORT" --queue "$queue" --quorum 1
    start=$(now)
    $PEER publish --port "$AMQP_PORT" --routing-key "$queue" --count "$MESSAGES" --size 300 --content-type application/json
    end=$(now)
    echo "filled $queue with $MESSAGES messages ($(rate "$MESSAGES" "$start" "$end") published/s)"
}

echo "== 1. RabbitmqSource -> nginx vs a plain AMQP consumer"
fill reference
RABBIT_CPU0=$(cpu "$RABBIT_PID"); T0=$(now)
REFERENCE_OUT=$($PEER consume --port "$AMQP_PORT" --queue reference --prefetch 100 --count "$MESSAGES" --seconds 300)
RABBIT_CPU1=$(cpu "$RABBIT_PID"); T1=$(now)
REFERENCE=$(echo "$REFERENCE_OUT" | awk '{gsub(/[()\/s]/, "", $6); print $6}')
echo "plain consumer (prefetch 100): $REFERENCE_OUT; rabbitmq-server used $(share "$RABBIT_CPU0" "$RABBIT_CPU1" "$T0" "$T1") CPU"

fill source
mkdir -p "$WORK/config"
cat >"$WORK/config/source.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: rabbit, namespace: demo}
stringData: {uri: "amqp://guest:guest@127.0.0.1:$AMQP_PORT/"}
---
apiVersion: sources.knative.dev/v1alpha1
kind: RabbitmqSource
metadata: {name: bench, namespace: demo}
spec:
  rabbitmqClusterReference: {connectionSecret: {name: rabbit}}
  rabbitmqResourcesConfig: {queueName: source, parallelism: 100, predeclared: true}
  sink: {uri: "http://127.0.0.1:$NGINX_PORT/"}
YAML
.build/release/sluice serve --config "$WORK/config" --storage memory \
    --host 127.0.0.1 --port "$SLUICE_PORT" --metrics-port "$METRICS_PORT" --log-level warning 2>"$WORK/sluice.log" &
SLUICE_PID=$!
PIDS+=($SLUICE_PID)
wait_for_port "$METRICS_PORT"
if [ -n "${SLUICE_STRACE:-}" ]; then strace -c -f -p "$SLUICE_PID" -o "$WORK/strace.txt" & STRACE_PID=$!; fi
first="" last="" acked=0 peak=0 deadline=$(( $(date +%s) + 300 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
    acked=$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk '/^sluice_rabbitmq_source_messages_acked_total/ {sum += $2} END {printf "%d", sum}')
    if [ -z "$first" ] && [ "$acked" -gt 0 ]; then
        first=$(now); first_count=$acked
        SLUICE_CPU0=$(cpu "$SLUICE_PID"); RABBIT_CPU0=$(cpu "$RABBIT_PID"); NGINX_CPU0=$(cpu "$NGINX_WORKER")
    fi
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$SLUICE_PID/status"); [ "$rss" -gt "$peak" ] && peak=$rss
    if [ "$acked" -ge "$MESSAGES" ]; then
        last=$(now)
        SLUICE_CPU1=$(cpu "$SLUICE_PID"); RABBIT_CPU1=$(cpu "$RABBIT_PID"); NGINX_CPU1=$(cpu "$NGINX_WORKER")
        break
    fi
    sleep 0.1
done
[ -n "$last" ] || { echo "RabbitmqSource did not finish: $acked of $MESSAGES acked"; exit 1; }
SOURCE=$(rate $((MESSAGES - first_count)) "$first" "$last")
if [ -n "${SLUICE_STRACE:-}" ]; then kill -INT "$STRACE_PID"; sleep 1; head -25 "$WORK/strace.txt"; fi
DELIVERED=$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk '/^sluice_rabbitmq_source_events_delivered_total/ {sum += $2} END {printf "%d", sum}')
printf "RabbitmqSource (parallelism 100) %8s messages/s delivered and acked (%s delivered, peak RSS %s kB)\n" "$SOURCE" "$DELIVERED" "$peak"
echo "CPU while delivering: sluice $(share "$SLUICE_CPU0" "$SLUICE_CPU1" "$first" "$last"), rabbitmq-server $(share "$RABBIT_CPU0" "$RABBIT_CPU1" "$first" "$last"), nginx $(share "$NGINX_CPU0" "$NGINX_CPU1" "$first" "$last") (of 200%)"
echo "ratio source/plain consumer: $(ratio "$SOURCE" "$REFERENCE")x (target >= 0.5)"

echo "== 2. reconnect after RabbitMQ restarts"
stop_rabbit
for _ in $(seq 1 100); do
    curl -s "http://127.0.0.1:$SLUICE_PORT/readyz" | grep -q '^not ready' && break
    sleep 0.05
done
echo "while RabbitMQ is down, /readyz says: $(curl -s "http://127.0.0.1:$SLUICE_PORT/readyz" | tail -1)"
start_rabbit
BACK=$(now)
for _ in $(seq 1 400); do
    curl -s "http://127.0.0.1:$SLUICE_PORT/readyz" | grep -q '^ready' && break
    sleep 0.025
done
READY=$(now)
echo "reconnected $(awk -v a="$BACK" -v b="$READY" 'BEGIN {printf "%.2f", b - a}') s after RabbitMQ accepted connections again (target < 5 s)"
