#!/usr/bin/env bash
# HTTP core load test with wrk.
#
#   bench/http_bench.sh URL          load an already running server, e.g. http://127.0.0.1:8080/healthz
#   bench/http_bench.sh              start the tiny /healthz server built into test_http
#                                    (BUILD_DIR, default build-http, else build) and load it
#
# Env: DURATION (default 10s), SR_BENCH_THREADS (server threads, default 2), SR_BENCH_PORT (18080).
# Runs wrk -t2 -c256 and -t1 -c64, prints req/s, p50/p99 and, for the built-in server, its RSS.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
URL=${1:-}
SERVER_PID=""

cleanup() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }

if [[ -z "$URL" ]]; then
  BUILD_DIR=${BUILD_DIR:-build-http}
  [[ -x "$BUILD_DIR/test_http" ]] || BUILD_DIR=build
  BIN="$BUILD_DIR/test_http"
  [[ -x "$BIN" ]] || { echo "no $BIN: build the test_http target first" >&2; exit 1; }
  PORT=${SR_BENCH_PORT:-18080}
  SR_BENCH_PORT=$PORT SR_BENCH_SECONDS=3600 SR_BENCH_THREADS=${SR_BENCH_THREADS:-2} \
    "$BIN" --gtest_also_run_disabled_tests --gtest_filter='Bench.DISABLED_ServeForBenchmark' \
    >/dev/null 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  URL="http://127.0.0.1:$PORT/healthz"
  echo "server: built-in bench server (pid $SERVER_PID), idle RSS $(rss_kib $SERVER_PID) KiB"
fi

command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)" >&2; exit 1; }
curl -fsS "$URL" >/dev/null || { echo "$URL does not answer 2xx" >&2; exit 1; }

run() {
  local threads=$1 conns=$2
  local out
  out=$(wrk -t"$threads" -c"$conns" -d"$DURATION" --latency "$URL")
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ' || true)
  printf 'wrk -t%s -c%-4s %s: %10s req/s  p50 %-8s p99 %-8s %s\n' \
    "$threads" "$conns" "$DURATION" "$rps" "$p50" "$p99" "$errs"
}

run 2 256
run 1 64
[[ -n "$SERVER_PID" ]] && echo "server RSS after load: $(rss_kib $SERVER_PID) KiB"
exit 0
