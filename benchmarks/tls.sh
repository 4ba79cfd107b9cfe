#!/usr/bin/env bash
# Transport-security benchmarks: Sluice's TLS ingress against nginx with the same certificate,
# and OIDC verification against none, in one run.
#
#   benchmarks/tls.sh [SECONDS]     (default 10)
#
# 1. HTTPS with keep-alive: wrk -t1 -c32 posting a ~300-byte binary CloudEvent to
#    `sluice serve --storage memory` (a broker with no trigger: parsed, checked, answered 202)
#    and to nginx `return 202`. Target: Sluice >= 0.7x nginx.
# 2. New TLS handshakes per second: the same with `Connection: close`, so every request is a
#    new connection and a full TLS 1.3 handshake (EC P-256 certificate). Target: >= 0.7x.
# 3. OIDC: plain HTTP ingress with `--oidc` and a valid RS256 token on every request (verified
#    once, then found in the cache) against the same ingress without `--oidc`. Target: >= 0.9x.
#
# Sluice (one loop) and nginx (one worker) run on CPU 0, wrk on CPU 1.
# Needs: nginx, wrk, openssl, python3, util-linux (apt-get install -y nginx-light wrk openssl python3 util-linux).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
source benchmarks/common.sh

NGINX_PORT=18401
TLS_PORT=18402
PLAIN_PORT=18403
METRICS_PORT=18404
OIDC_PORT=18405
OIDC_METRICS_PORT=18406

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

echo "== 3. OIDC on (a valid RS256 token on every request) against off: wrk -t1 -c32 -d${SECONDS_PER_RUN}s, plain HTTP"
openssl genrsa -out "$WORK/issuer.pem" 2048 2>/dev/null
# The JWKS of the issuer's key and one token for the broker's audience, signed by openssl.
TOKEN=$(python3 - "$WORK" <<'PY'
import base64, json, subprocess, sys, time
work = sys.argv[1]
b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()
text = subprocess.run(["openssl", "rsa", "-in", f"{work}/issuer.pem", "-noout", "-modulus"], capture_output=True, text=True).stdout
modulus = bytes.fromhex(text.strip().split("=")[1])
json.dump({"keys": [{"kty": "RSA", "n": b64(modulus), "e": b64((65537).to_bytes(3, "big")), "alg": "RS256", "kid": "bench"}]},
          open(f"{work}/jwks.json", "w"))
header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "bench"}).encode())
claims = b64(json.dumps({"iss": "https://issuer.bench", "sub": "system:serviceaccount:bench:load",
                         "aud": ["eventing.knative.dev/broker/bench/default"], "exp": int(time.time()) + 3600}).encode())
signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", f"{work}/issuer.pem"], input=f"{header}.{claims}".encode(),
                           capture_output=True).stdout
print(f"{header}.{claims}.{b64(signature)}")
PY
)
taskset -c 0 .build/release/sluice serve --config "$WORK/broker.yaml" --storage memory --host 127.0.0.1 --loops 1 \
    --port "$OIDC_PORT" --metrics-port "$OIDC_METRICS_PORT" --oidc --oidc-jwks "$WORK/jwks.json" --oidc-issuer https://issuer.bench \
    2>"$WORK/oidc.log" &
PIDS+=($!)
wait_for_port "$OIDC_PORT"
CHECK=$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $TOKEN" -H "ce-specversion: 1.0" -H "ce-id: 1" -H "ce-type: t" \
    -H "ce-source: /b" -d '{}' "http://127.0.0.1:$OIDC_PORT/bench/default")
[ "$CHECK" = 202 ] || { echo "the token was refused ($CHECK):"; cat "$WORK/oidc.log"; exit 1; }
taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$OIDC_PORT/bench/default" >/dev/null
taskset -c 1 wrk -t1 -c32 -d2s -s benchmarks/post-event.lua "http://127.0.0.1:$PLAIN_PORT/bench/default" >/dev/null
OFF_RPS=$(rps "http://127.0.0.1:$PLAIN_PORT/bench/default")
ON_RPS=$(rps "http://127.0.0.1:$OIDC_PORT/bench/default" -H "Authorization: Bearer $TOKEN")
printf "OIDC off           %9.0f req/s\nOIDC on            %9.0f req/s\nratio %sx (target >= 0.9)\n" "$OFF_RPS" "$ON_RPS" "$(ratio "$ON_RPS" "$OFF_RPS")"
