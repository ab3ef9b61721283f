#!/usr/bin/env bash
# make bench: micro-benchmarks (Google Benchmark) and wrk load tests against the real binary on
# loopback; writes docs/benchmarks.md. Needs BUILD built with -DSR_BENCH=ON. The benchmark runs as a
# child (not exec): the EXIT trap must still stop its PostgreSQL and remove the work folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build-bench}
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
work=$(mktemp -d /tmp/strongroom-bench.XXXXXX)
chmod 0755 "$work"
trap '"$root/scripts/pg-test.sh" stop "$work/pg.env" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$root/scripts/pg-test.sh" start "$work/pg.env" >/dev/null
set -a; source "$work/pg.env"; set +a
export SR_TEST_PG_URL
/usr/bin/python3 "$root/bench/run_bench.py" --build "$BUILD" --work "$work" --out "$root/docs/benchmarks.md"
