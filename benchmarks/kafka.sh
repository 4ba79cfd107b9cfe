#!/usr/bin/env bash
# Kafka benchmarks, each a ratio against kcat (librdkafka's own CLI) in the same run on this
# machine, on librdkafka's mock cluster (`sluice-kafka-mock`, the real protocol over TCP).
#
#   benchmarks/kafka.sh [RECORDS]     (default 200000)
#
# 1. KafkaSource -> subscriber (nginx `return 200`): events delivered per second, from the first
#    delivery to the last, against `kcat -C` reading the same topic. Unordered (target >= 0.5x
#    kcat and >= 30,000/s) and ordered. Beside it, the machine's ceiling for one HTTP request per
#    event: wrk against the same nginx.
# 2. KafkaSink: `wrk` POSTs acknowledged per second (202 after acks=all) against `kcat -P`
#    producing the same records with acks=all. Target >= 0.5x. Beside it, nginx answering 202
#    to the same POSTs without storing them: the ceiling for one HTTP request per event.
# 3. RSS per KafkaSource: ten idle sources against none; under load, one source against the idle
#    process and two sources against one (what each further source costs). Target < 5 MB per source.
#
# Nothing is pinned: Sluice (its default two loops) and kcat each share both cores with the mock
# cluster (and nginx or wrk), so the reference has the same CPUs as Sluice. The mock keeps about
# 5 MB per partition, so the benchmark topic has 16 partitions to hold every record.
# Needs: kcat, nginx, wrk (apt-get install -y kcat nginx-light wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-200000}
source benchmarks/common.sh

NGINX_PORT=18201
SLUICE_PORT=18202
METRICS_PORT=18203

echo "== building (release)"
swift build -c release --product sluice >/dev/null
swift build -c release --product sluice-kafka-mock >/dev/null

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {printf "%.0f", n / (b - a)}'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
anon_kb() { awk '/^Anonymous/ {print $2}' "/proc/$1/smaps_rollup"; }

# The cluster, fed through a FIFO so it lives until the script ends.
mkfifo "$WORK/mock.in"
.build/release/sluice-kafka-mock --topic bench:16 --topic sink:16 --topic kcat-sink:16 --topic idle:4 <"$WORK/mock.in" >"$WORK/mock.out" &
PIDS+=($!)
exec 9>"$WORK/mock.in"
for _ in $(seq 1 100); do grep -q bootstrap "$WORK/mock.out" && break; sleep 0.05; done
BOOTSTRAP=$(awk '/bootstrap/ {print $2}' "$WORK/mock.out")

start_subscriber "$NGINX_PORT"

# ~300-byte JSON values, keyed.
BODY='{"orderId":"A-1001","customer":"c-42","items":[{"sku":"X1","qty":2},{"sku":"Y7","qty":1}],"total":42.5,"currency":"EUR","note":"benchmark event body of roughly three hundred bytes, padded to size........."}'
awk -v n="$RECORDS" -v body="$BODY" 'BEGIN { for (i = 0; i < n; i++) printf "order-%d\t%s\n", i % 1000, body }' >"$WORK/records"

echo "== filling topic bench with $RECORDS records (kcat -P, acks=all)"
START=$(now)
kcat -P -b "$BOOTSTRAP" -t bench -K $'\t' -X acks=all -X linger.ms=5 -l "$WORK/records"
END=$(now)
KCAT_PRODUCE=$(rate "$RECORDS" "$START" "$END")

echo "== 1. KafkaSource -> nginx vs kcat -C"
START=$(now)
COUNT=$(kcat -C -b "$BOOTSTRAP" -t bench -o beginning -e -q -f '%o\n' | wc -l)
END=$(now)
KCAT_CONSUME=$(rate "$COUNT" "$START" "$END")
printf "kcat -C                     %8s records/s (%s records)\n" "$KCAT_CONSUME" "$COUNT"

# Runs COUNT KafkaSources (groups GROUP-1..COUNT) over the whole topic in one process; prints
# "delivered/s peak_rss_kb peak_anonymous_kb anonymous_kb_3s_later" (anonymous: heap and stacks,
# without the pages of the binary's code that the load brings in).
run_source() {
    local ordering=$1 group=$2 count=${3:-1}
    mkdir -p "$WORK/$group"
    for i in $(seq 1 "$count"); do
        cat >>"$WORK/$group/source.yaml" <<YAML
---
apiVersion: sources.knative.dev/v1
kind: KafkaSource
metadata: {name: bench-$i, namespace: demo}
spec:
  bootstrapServers: ["$BOOTSTRAP"]
  topics: [bench]
  consumerGroup: $group-$i
  initialOffset: earliest
  ordering: $ordering
  sink: {uri: "http://127.0.0.1:$NGINX_PORT/"}
YAML
    done
    .build/release/sluice serve --config "$WORK/$group" --storage memory \
        --host 127.0.0.1 --port "$SLUICE_PORT" --metrics-port "$METRICS_PORT" --log-level warning 2>"$WORK/$group/log" &
    local pid=$!
    wait_for_port "$METRICS_PORT"
    local total=$((RECORDS * count)) first="" last="" delivered=0 peak=0 anon_peak=0 deadline=$(( $(date +%s) + 300 ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        delivered=$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
            awk '/^sluice_kafka_source_events_delivered_total/ {sum += $2} END {printf "%d", sum}')
        if [ -z "$first" ] && [ "$delivered" -gt 0 ]; then first=$(now); first_count=$delivered; fi
        local rss anon; rss=$(rss_kb "$pid"); [ "$rss" -gt "$peak" ] && peak=$rss
        anon=$(anon_kb "$pid"); [ "$anon" -gt "$anon_peak" ] && anon_peak=$anon
        if [ "$delivered" -ge "$total" ]; then last=$(now); break; fi
        sleep 0.1
    done
    sleep 3
    local after; after=$(anon_kb "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    [ -n "$last" ] || { echo "0 $peak $anon_peak $after"; return; }
    echo "$(rate $((total - first_count)) "$first" "$last") $peak $anon_peak $after"
}
read -r UNORDERED UNORDERED_PEAK UNORDERED_ANON UNORDERED_AFTER <<<"$(run_source unordered bench-unordered)"
printf "KafkaSource unordered       %8s events/s delivered\n" "$UNORDERED"
echo "ratio unordered/kcat: $(ratio "$UNORDERED" "$KCAT_CONSUME")x (target >= 0.5, and >= 30000/s)"
# The ceiling of one HTTP request per event on this machine: wrk (a client doing nothing
# else) against the same nginx, with as many connections as the source uses.
HTTP_CEILING=$(wrk -t1 -c32 -d5s "http://127.0.0.1:$NGINX_PORT/" | awk '/Requests\/sec/ {printf "%.0f", $2}')
printf "wrk -c32 -> the same nginx  %8s requests/s (one request per event, nothing else)\n" "$HTTP_CEILING"
echo "ratio unordered/wrk: $(ratio "$UNORDERED" "$HTTP_CEILING")x; kcat/wrk: $(ratio "$KCAT_CONSUME" "$HTTP_CEILING")x"
read -r ORDERED _ _ _ <<<"$(run_source ordered bench-ordered)"
printf "KafkaSource ordered         %8s events/s delivered (16 partitions, one in flight each)\n" "$ORDERED"
echo "ratio ordered/kcat: $(ratio "$ORDERED" "$KCAT_CONSUME")x"

echo "== 2. KafkaSink: wrk POST -> 202 after acks=all, vs kcat -P acks=all"
START=$(now)
kcat -P -b "$BOOTSTRAP" -t kcat-sink -X acks=all -X linger.ms=5 -H ce_specversion=1.0 -H ce_type=com.example.order.created \
    -H ce_source=/orders/eu-west-1 -H ce_id=6f1c5a2e -H content-type=application/json -l <(cut -f2 "$WORK/records")
END=$(now)
KCAT_SINK=$(rate "$RECORDS" "$START" "$END")
mkdir -p "$WORK/sink"
cat >"$WORK/sink/sink.yaml" <<YAML
apiVersion: eventing.knative.dev/v1alpha1
kind: KafkaSink
metadata: {name: out, namespace: demo}
spec:
  topic: sink
  bootstrapServers: ["$BOOTSTRAP"]
YAML
.build/release/sluice serve --config "$WORK/sink" --storage memory \
    --host 127.0.0.1 --port "$SLUICE_PORT" --metrics-port "$METRICS_PORT" --log-level warning 2>"$WORK/sink/log" &
SINK_PID=$!
wait_for_port "$SLUICE_PORT"
wrk -t1 -c128 -d3s -s benchmarks/post-kafka-sink.lua "http://127.0.0.1:$SLUICE_PORT/sinks/demo/out" >/dev/null
WRK_OUT=$(wrk -t1 -c128 -d10s --latency -s benchmarks/post-kafka-sink.lua "http://127.0.0.1:$SLUICE_PORT/sinks/demo/out")
kill "$SINK_PID"; wait "$SINK_PID" 2>/dev/null || true
SINK_RPS=$(echo "$WRK_OUT" | awk '/Requests\/sec/ {printf "%.0f", $2}')
NON2XX=$(echo "$WRK_OUT" | awk '/Non-2xx/ {print $5}')
SINK_P99=$(echo "$WRK_OUT" | awk '$1 == "99%" {print $2}')
# The ceiling of one HTTP POST per event: nginx answering 202 at once, same wrk, same body.
NGINX_202_PORT=18204
nginx_process nginx-202 "    server { listen 127.0.0.1:$NGINX_202_PORT; location / { return 202; } }"
wait_for_port "$NGINX_202_PORT"
wrk -t1 -c128 -d3s -s benchmarks/post-kafka-sink.lua "http://127.0.0.1:$NGINX_202_PORT/" >/dev/null
NGINX_202=$(wrk -t1 -c128 -d10s -s benchmarks/post-kafka-sink.lua "http://127.0.0.1:$NGINX_202_PORT/" | awk '/Requests\/sec/ {printf "%.0f", $2}')
kill "$NGINX_PID"
printf "kcat -P acks=all            %8s records/s\n" "$KCAT_SINK"
printf "nginx return 202 (wrk -c128) %7s POSTs/s (storing nothing)\n" "$NGINX_202"
printf "KafkaSink (wrk -c128)       %8s acknowledged POSTs/s, p99 %s, non-2xx %s\n" "$SINK_RPS" "$SINK_P99" "${NON2XX:-0}"
echo "ratio sink/kcat: $(ratio "$SINK_RPS" "$KCAT_SINK")x (target >= 0.5); sink/nginx 202: $(ratio "$SINK_RPS" "$NGINX_202")x; nginx 202/kcat: $(ratio "$NGINX_202" "$KCAT_SINK")x"

echo "== 3. RSS per KafkaSource"
idle_rss() {
    local dir=$1
    .build/release/sluice serve --config "$dir" --storage memory \
        --host 127.0.0.1 --port "$SLUICE_PORT" --metrics-port "$METRICS_PORT" --log-level warning 2>"$dir.log" &
    local pid=$!
    wait_for_port "$METRICS_PORT"
    sleep 8
    rss_kb "$pid"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
mkdir -p "$WORK/none" "$WORK/ten"
printf 'apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default, namespace: demo}\n' >"$WORK/none/broker.yaml"
cp "$WORK/none/broker.yaml" "$WORK/ten/"
for i in $(seq 1 10); do
    cat >>"$WORK/ten/sources.yaml" <<YAML
---
apiVersion: sources.knative.dev/v1
kind: KafkaSource
metadata: {name: idle-$i, namespace: demo}
spec:
  bootstrapServers: ["$BOOTSTRAP"]
  topics: [idle]
  consumerGroup: idle-$i
  sink: {uri: "http://127.0.0.1:$NGINX_PORT/"}
YAML
done
NONE_RSS=$(idle_rss "$WORK/none")
TEN_RSS=$(idle_rss "$WORK/ten")
PER_SOURCE=$(( (TEN_RSS - NONE_RSS) / 10 ))
echo "sluice with no source: ${NONE_RSS} kB; with 10 idle sources: ${TEN_RSS} kB"
echo "per idle source: ${PER_SOURCE} kB (target < 5120 kB)"
echo "peak RSS of the unordered run (1 source under load): ${UNORDERED_PEAK} kB, $(( UNORDERED_PEAK - NONE_RSS )) kB over the idle process"
echo "  of which anonymous (heap, stacks): peak ${UNORDERED_ANON} kB, ${UNORDERED_AFTER} kB 3 s after the load; the rest is the binary's code the load touched, paid once"
# What one more source under load costs: two sources, each reading the whole topic, in one process.
read -r TWO_RATE TWO_PEAK TWO_ANON _ <<<"$(run_source unordered bench-two 2)"
echo "two sources under load: ${TWO_RATE} events/s together, peak RSS ${TWO_PEAK} kB (anonymous ${TWO_ANON} kB)"
echo "per source under load (two minus one): $(( TWO_PEAK - UNORDERED_PEAK )) kB (target < 5120 kB)"
