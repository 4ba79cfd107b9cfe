#!/usr/bin/env bash
# TLS benchmarks: Sluice's TLS ingress against nginx with the same certificate, in one run.
#
#   benchmarks/tls.sh [SECONDS]     (default 10)
#
# 1. HTTPS with keep-alive: wrk -t1 -c32 posting a ~300-byte binary CloudEvent to
#    `sluice serve --storage memory` (a broker with no trigger: parsed, checked, answered 202)
#    and to nginx `return 202`. Target: Sluice >= 0.7x nginx.
# 2. New TLS handshakes per second: the same with `Connection: close`, so every request is a
#    new connection and a full TLS 1.3 handshake (EC P-256 certificate). Target: >= 0.7x.
#
# Sluice (one loop) and nginx (one worker) run on CPU 0, wrk on CPU 1.
# Needs: nginx, wrk, openssl, util-linux (apt-get install -y nginx-light wrk openssl util-linux).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
source benchmarks/common.sh

NGINX_PORT=18401
TLS_PORT=18402
PLAIN_PORT=18403
METRICS_PORT=18404

echo "== building (release)"
swift build -c release --product sluice >/dev/null

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$WORK/server.key" -out "$WORK/server.crt" \
    -days 1 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

nginx_process tls "    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        ssl_certificate $WORK/server.crt;
        ssl_certificate_key $WORK/server.key;
        ssl_protocols TLSv1.3;
        location / { return 202; }
    }" 0
wait_for_port "$NGINX_PORT"

cat >"$WORK/broker.yaml" <<YAML
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: bench}
YAML
taskset -c 0 .build/release/sluice serve --config "$WORK/broker.yaml" --storage memory --host 127.0.0.1 --loops 1 \
    --port "$PLAIN_PORT" --metrics-port "$METRICS_PORT" --tls-port "$TLS_PORT" --tls-cert "$WORK/server.crt" --tls-key "$WORK/server.key" \
    2>"$WORK/sluice.log" &
PIDS+=($!)
wait_for_port "$TLS_PORT"

# rps URL [wrk options...]: requests per second of one wrk run pinned to CPU 1.
rps() {
    local url=$1
    shift
    taskset -c 1 wrk -t1 -c32 -d"${SECONDS_PER_RUN}s" -s benchmarks/post-event.lua "$@" "$url" | awk '/Requests\/sec/ {print $2}'
}

echo "== 1. HTTPS keep-alive: wrk -t1 -c32 -d${SECONDS_PER_RUN}s, POST ~300-byte CloudEvent"
taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua "https://127.0.0.1:$NGINX_PORT/bench/default" >/dev/null
taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua "https://127.0.0.1:$TLS_PORT/bench/default" >/dev/null
NGINX_RPS=$(rps "https://127.0.0.1:$NGINX_PORT/bench/default")
SLUICE_RPS=$(rps "https://127.0.0.1:$TLS_PORT/bench/default")
printf "nginx return 202   %9.0f req/s\nsluice TLS ingress %9.0f req/s\nratio %sx (target >= 0.7)\n" \
    "$NGINX_RPS" "$SLUICE_RPS" "$(ratio "$SLUICE_RPS" "$NGINX_RPS")"

echo "== 2. new TLS 1.3 handshakes: the same with Connection: close"
NGINX_NEW=$(rps "https://127.0.0.1:$NGINX_PORT/bench/default" -H "Connection: close")
SLUICE_NEW=$(rps "https://127.0.0.1:$TLS_PORT/bench/default" -H "Connection: close")
printf "nginx              %9.0f handshakes+requests/s\nsluice             %9.0f handshakes+requests/s\nratio %sx (target >= 0.7)\n" \
    "$NGINX_NEW" "$SLUICE_NEW" "$(ratio "$SLUICE_NEW" "$NGINX_NEW")"
if grep -qi "error" "$WORK/sluice.log"; then echo "sluice logged errors:"; grep -i error "$WORK/sluice.log" | head -5; fi
