#!/usr/bin/env bash
# Kafka-class broker benchmarks on librdkafka's mock cluster (`sluice-kafka-mock`, the real
# protocol over TCP), each against a reference in the same run on this machine.
#
#   benchmarks/kafka-broker.sh [SECONDS]     (default 10)
#
# 1. wrk -t1 -c32 -> ingress -> one trigger -> nginx 200: events delivered per second by a
#    Kafka-class broker, against the same manifests on a default-class broker with
#    `--storage disk` (target: Kafka >= 0.5x disk), and against kcat producing the same number
#    of records to the broker's topic (acks=all) and reading them back.
# 2. CPU per event: Sluice's CPU-seconds per 100,000 events delivered in 1, for one process
#    and for two processes sharing the trigger's consumer group (the cost that predicts how
#    processes scale; this machine has two cores, so their aggregate rate cannot).
# 3. RSS per trigger: a Kafka-class broker with 20 idle triggers against one with none.
#    Target < 2 MB per trigger.
#
# Nothing is pinned: Sluice (its default two loops), kcat, the mock cluster, nginx and wrk share
# both cores, as in benchmarks/kafka.sh.
# Needs: kcat, nginx, wrk (apt-get install -y kcat nginx-light wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
source benchmarks/common.sh

NGINX_PORT=18301
PORTS=(18302 18304)
METRICS=(18303 18305)

echo "== building (release)"
swift build -c release --product sluice >/dev/null
swift build -c release --product sluice-kafka-mock >/dev/null

now() { date +%s.%N; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f\n", ($14 + $15) / hz}' "/proc/$1/stat"; }
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v name="$2" 'index($0, name"{") == 1 {sum += $2} END {printf "%.0f\n", sum + 0}'; }

mkfifo "$WORK/mock.in"
.build/release/sluice-kafka-mock --topic knative-broker-bench-default:16 --topic knative-broker-bench-idle:4 <"$WORK/mock.in" >"$WORK/mock.out" &
PIDS+=($!)
exec 9>"$WORK/mock.in"
for _ in $(seq 1 100); do grep -q bootstrap "$WORK/mock.out" && break; sleep 0.05; done
BOOTSTRAP=$(awk '/bootstrap/ {print $2}' "$WORK/mock.out")
start_subscriber "$NGINX_PORT"

# Manifests: broker bench/default of class $1 (Kafka or MTChannelBasedBroker) with one trigger to nginx, plus
# broker bench/idle (Kafka) with $2 triggers whose subscriber never gets anything.
manifests() {
    cat <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: kafka-broker-config, namespace: knative-eventing}
data: {bootstrap.servers: "$BOOTSTRAP"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config-kafka-broker-data-plane, namespace: knative-eventing}
data:
  config-kafka-broker-consumer.properties: |
    session.timeout.ms=6000
    heartbeat.interval.ms=500
---
$(one_trigger "http://127.0.0.1:$NGINX_PORT/sink" "$1")
EOF
    if [ "${2:-0}" -gt 0 ]; then
        printf -- "---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: idle\n  namespace: bench\n"
        printf "  annotations: {eventing.knative.dev/broker.class: Kafka}\n"
        for index in $(seq 1 "$2"); do
            printf -- "---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: idle-%d, namespace: bench}\n" "$index"
            printf "spec:\n  broker: idle\n  subscriber: {uri: \"http://127.0.0.1:%d/idle\"}\n" "$NGINX_PORT"
        done
    fi
}

# start_sluice INDEX CONFIG [EXTRA...]: a process on PORTS[INDEX]; its pid in SLUICE_PIDS[INDEX].
SLUICE_PIDS=()
start_sluice() {
    local index=$1 config=$2
    shift 2
    .build/release/sluice serve --config "$config" --host 127.0.0.1 --port "${PORTS[$index]}" --metrics-port "${METRICS[$index]}" \
        --data-dir "$WORK/data-$index" "$@" 2>"$config.$index.log" &
    SLUICE_PIDS[$index]=$!
    PIDS+=($!)
    wait_for_port "${PORTS[$index]}"
}
stop_sluice() {
    kill "${SLUICE_PIDS[$1]}"
    wait "${SLUICE_PIDS[$1]}" 2>/dev/null || true
}
# Waits until a process's trigger consumer has its partitions (a new group starts at the end).
wait_assigned() {
    for _ in $(seq 1 600); do grep -q "partitions assigned" "$1" && return 0; sleep 0.1; done
    echo "no partitions assigned: $1" >&2
    exit 1
}

# drive_and_count PROCESSES: wrk on each process's ingress at once for the run; prints
# "delivered/s cpu-seconds-per-100k".
drive_and_count() {
    local count=$1 index before=0 after=0 cpu_before=0 cpu_after=0
    for index in $(seq 0 $((count - 1))); do
        before=$((before + $(metric "${METRICS[$index]}" sluice_trigger_events_delivered_total)))
        cpu_before=$(awk -v a="$cpu_before" -v b="$(cpu_seconds "${SLUICE_PIDS[$index]}")" 'BEGIN {print a + b}')
    done
    local loads=()
    for index in $(seq 0 $((count - 1))); do
        wrk -t1 -c$((32 / count)) -d"${SECONDS_PER_RUN}s" -s benchmarks/post-event.lua "http://127.0.0.1:${PORTS[$index]}/bench/default" >/dev/null &
        loads+=($!)
    done
    wait "${loads[@]}"
    sleep 2  # what was accepted last is delivered too
    for index in $(seq 0 $((count - 1))); do
        after=$((after + $(metric "${METRICS[$index]}" sluice_trigger_events_delivered_total)))
        cpu_after=$(awk -v a="$cpu_after" -v b="$(cpu_seconds "${SLUICE_PIDS[$index]}")" 'BEGIN {print a + b}')
    done
    awk -v n=$((after - before)) -v t="$SECONDS_PER_RUN" -v c="$(awk -v a="$cpu_after" -v b="$cpu_before" 'BEGIN {print a - b}')" \
        'BEGIN {printf "%.0f %.2f\n", n / t, (n > 0 ? c * 100000 / n : 0)}'
}

echo "== 1. wrk -t1 -c32 -d${SECONDS_PER_RUN}s -> ingress -> one trigger -> nginx: Kafka-class broker vs --storage disk vs kcat"
manifests Kafka >"$WORK/kafka.yaml"
manifests MTChannelBasedBroker >"$WORK/disk.yaml"
start_sluice 0 "$WORK/disk.yaml"
read -r DISK_RATE DISK_CPU <<<"$(drive_and_count 1)"
stop_sluice 0
start_sluice 0 "$WORK/kafka.yaml"
wait_assigned "$WORK/kafka.yaml.0.log"
read -r KAFKA_RATE KAFKA_CPU <<<"$(drive_and_count 1)"
stop_sluice 0
printf "default class, --storage disk  %8d events/s delivered, %6.2f CPU-s per 100k events\n" "$DISK_RATE" "$DISK_CPU"
printf "Kafka class                    %8d events/s delivered, %6.2f CPU-s per 100k events\n" "$KAFKA_RATE" "$KAFKA_CPU"
RECORDS=$((KAFKA_RATE * SECONDS_PER_RUN))
BODY='{"orderId":"A-1001","customer":"c-42","items":[{"sku":"X1","qty":2},{"sku":"Y7","qty":1}],"total":42.5,"currency":"EUR","note":"padding to about three hundred bytes......."}'
awk -v n="$RECORDS" -v body="$BODY" 'BEGIN { for (i = 0; i < n; i++) print body }' >"$WORK/records"
START=$(now)
kcat -P -b "$BOOTSTRAP" -t knative-broker-bench-default -X acks=all -X linger.ms=1 -l "$WORK/records"
kcat -C -b "$BOOTSTRAP" -t knative-broker-bench-default -o "-$RECORDS" -e -q -f '%o\n' | wc -l >/dev/null
END=$(now)
KCAT_RATE=$(awk -v n="$RECORDS" -v a="$START" -v b="$END" 'BEGIN {printf "%.0f", n / (b - a)}')
printf "kcat -P then -C, same topic    %8d records/s through (%d records)\n" "$KCAT_RATE" "$RECORDS"
echo "ratios: Kafka class / disk $(ratio "$KAFKA_RATE" "$DISK_RATE")x (target >= 0.5), Kafka class / kcat $(ratio "$KAFKA_RATE" "$KCAT_RATE")x"

echo "== 2. two processes sharing the broker's trigger group (wrk -c16 on each)"
start_sluice 0 "$WORK/kafka.yaml"
start_sluice 1 "$WORK/kafka.yaml"
wait_assigned "$WORK/kafka.yaml.1.log"
sleep 3  # the rebalance that gives each process half the partitions
read -r PAIR_RATE PAIR_CPU <<<"$(drive_and_count 2)"
stop_sluice 1
stop_sluice 0
printf "two processes                  %8d events/s delivered together, %6.2f CPU-s per 100k events (one process: %.2f)\n" "$PAIR_RATE" "$PAIR_CPU" "$KAFKA_CPU"

echo "== 3. RSS per trigger consumer: 20 idle triggers on a Kafka-class broker against none"
manifests Kafka 0 >"$WORK/none.yaml"
manifests Kafka 20 >"$WORK/twenty.yaml"
start_sluice 0 "$WORK/none.yaml"
sleep 5
NONE_KB=$(rss_kb "${SLUICE_PIDS[0]}")
stop_sluice 0
start_sluice 0 "$WORK/twenty.yaml"
sleep 5
TWENTY_KB=$(rss_kb "${SLUICE_PIDS[0]}")
stop_sluice 0
echo "RSS: $((NONE_KB / 1024)) MB with no idle trigger, $((TWENTY_KB / 1024)) MB with 20; $(awk -v a="$TWENTY_KB" -v b="$NONE_KB" 'BEGIN {printf "%.2f", (a - b) / 20 / 1024}') MB per trigger (target < 2 MB)"
