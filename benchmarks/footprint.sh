#!/usr/bin/env bash
# What a newcomer and a platform team pay for Sluice, measured on the release build:
#   1. the stripped binary's size, and what takes the space (Swift modules, by symbol size);
#   2. the runtime image's payload on top of debian:bookworm-slim: the binary plus the installed
#      size of the Debian packages the Dockerfile adds and their dependencies that the slim
#      image does not have (no registry is reachable here, so it is computed from apt's
#      metadata: the base is Priority "required" plus apt, what debootstrap's minbase installs);
#   3. idle RSS of `serve` on the example config, memory and disk storage;
#   4. the time from `serve` starting to /readyz 200 with 100 triggers (disk storage).
# Usage: benchmarks/footprint.sh   (needs `swift build -c release --product sluice` first)
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/common.sh

BIN=.build/release/sluice
[ -x "$BIN" ] || { echo "build first: swift build -c release --product sluice" >&2; exit 1; }
strip -o "$WORK/sluice" "$BIN"
BINARY_BYTES=$(stat -c %s "$WORK/sluice")
echo "== binary"
megabytes() { awk -v bytes="$1" 'BEGIN { printf "%.1f", bytes / 1e6 }'; }
echo "stripped: $(megabytes "$BINARY_BYTES") MB ($BINARY_BYTES bytes; target <= 20 MB)"
nm -S --size-sort "$BIN" 2>/dev/null | awk '
    function hex(text,    i, value) { value = 0; for (i = 1; i <= length(text); i++) value = value * 16 + index("0123456789abcdef", substr(text, i, 1)) - 1; return value }
    { size = hex($2); name = $4
      if (match(name, /^\$s[0-9]+/)) { n = substr(name, 3, RLENGTH - 2) + 0; module = substr(name, RLENGTH + 1, n) }
      else if (name ~ /CCryptoBoringSSL/) module = "(BoringSSL)"
      else if (name ~ /^yaml_/) module = "(libyaml)"
      else module = "(C, C++ and the Swift runtime)"
      total[module] += size }
    END { for (m in total) printf "%8.2f MB  %s\n", total[m] / 1e6, m }' | sort -rn | head -12

echo "== runtime image payload"
RUNTIME_PACKAGES=$(sed -n 's/.*apt-get install -y --no-install-recommends \(librdkafka1.*\) \\$/\1/p' Dockerfile)
closure() {
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$@" 2>/dev/null \
        | grep -v '^ ' | grep -v '^<' | sort -u
}
BASE=$( (dpkg-query -W -f='${Package} ${Priority}\n' 2>/dev/null | awk '$2 == "required" { print $1 }'; echo apt) | sort -u)
# shellcheck disable=SC2086
ADDED=$(comm -23 <(closure $RUNTIME_PACKAGES) <(closure $BASE))
PACKAGES_KB=0
for package in $ADDED; do
    size=$(apt-cache show --no-all-versions "$package" 2>/dev/null | awk '/^Installed-Size:/ { print $2; exit }')
    printf '  %-28s %6d KB\n' "$package" "${size:-0}"
    PACKAGES_KB=$((PACKAGES_KB + ${size:-0}))
done
TOTAL=$((BINARY_BYTES + PACKAGES_KB * 1024))
echo "packages: $(megabytes $((PACKAGES_KB * 1024))) MB; binary + packages: $(megabytes "$TOTAL") MB (target <= 50 MB)"

rss_after_start() {  # rss_after_start STORAGE: KiB resident 3 s after start, example config
    local port=18180 metrics=18192
    "$BIN" serve --config config/ --port $port --metrics-port $metrics --storage "$1" --data-dir "$WORK/data-$1" \
        --log-level warning >/dev/null 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_for_port $port
    sleep 3
    awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}
echo "== idle RSS (example config, target < 10 MB)"
echo "memory storage: $(rss_after_start memory) KiB"
echo "disk storage:   $(rss_after_start disk) KiB"

echo "== start to /readyz 200 with 100 triggers (disk storage)"
{
    printf 'apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default, namespace: demo}\n'
    for i in $(seq 1 100); do
        printf -- '---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t%d, namespace: demo}\n' "$i"
        printf 'spec:\n  broker: default\n  filter: {attributes: {type: type-%d}}\n  subscriber: {uri: "http://127.0.0.1:9/t%d"}\n' "$i" "$i"
    done
} >"$WORK/triggers.yaml"
for run in 1 2 3; do
    rm -rf "$WORK/data-ready"
    start=$(date +%s%N)
    "$BIN" serve --config "$WORK/triggers.yaml" --port 18181 --metrics-port 18193 --data-dir "$WORK/data-ready" --log-level warning \
        >/dev/null 2>&1 &
    pid=$!
    PIDS+=("$pid")
    until curl -sf -o /dev/null http://127.0.0.1:18181/readyz; do sleep 0.002; done
    end=$(date +%s%N)
    echo "run $run: $(( (end - start) / 1000000 )) ms"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
done
