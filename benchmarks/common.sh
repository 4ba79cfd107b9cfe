# What the benchmark scripts share: a work directory and the processes they started, both
# removed on exit; waiting for a port; ratios. Sourced after `cd` to the repository.
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# wait_for_port PORT [SECONDS]: waits until something accepts on 127.0.0.1:PORT (5 s by default).
wait_for_port() {
    for _ in $(seq 1 $(( ${2:-5} * 20 ))); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "port $1 did not open" >&2
    exit 1
}

# nginx_process NAME SERVERS [CPUS]: an nginx of its own (one worker, keep-alive, no logs,
# temporary files in $WORK) serving the server block(s) SERVERS, pinned to CPUS when given;
# its master's pid in NGINX_PID.
nginx_process() {
    cat >"$WORK/$1.conf" <<NGINX
worker_processes 1;
daemon off;
pid $WORK/$1.pid;
error_log $WORK/$1-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path $WORK;
    proxy_temp_path $WORK;
    fastcgi_temp_path $WORK;
    uwsgi_temp_path $WORK;
    scgi_temp_path $WORK;
$2
}
NGINX
    if [ -n "${3:-}" ]; then taskset -c "$3" nginx -c "$WORK/$1.conf" & else nginx -c "$WORK/$1.conf" & fi
    NGINX_PID=$!
    PIDS+=($NGINX_PID)
}

# start_subscriber PORT: one nginx worker answering every request with 200 (the subscriber of
# the source benchmarks); its worker's pid in NGINX_WORKER.
start_subscriber() {
    nginx_process "nginx-$1" "    server { listen 127.0.0.1:$1; location / { return 200; } }"
    wait_for_port "$1"
    NGINX_WORKER=$(pgrep -P "$(cat "$WORK/nginx-$1.pid")" | head -1)
}
# one_trigger URL [CLASS]: broker bench/default (of broker class CLASS when given) with one
# trigger, "only", delivering to URL.
one_trigger() {
    cat <<EOF
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: bench
  annotations: {eventing.knative.dev/broker.class: "${2:-MTChannelBasedBroker}"}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: only, namespace: bench}
spec:
  broker: default
  subscriber: {uri: "$1"}
EOF
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
