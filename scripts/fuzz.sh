#!/usr/bin/env bash
# libFuzzer harnesses of fuzz/ (issue 8; docs/fuzzing.md).
#   scripts/fuzz.sh build               configure (clang, -DSR_FUZZ=ON) and build build-fuzz
#   scripts/fuzz.sh run SECONDS         run every harness SECONDS on a copy of its seed corpus
#   scripts/fuzz.sh smoke               build + run, <= 60 s in total (3 s per harness with ten)
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_TARGETS (subset, space separated),
# JOBS (build parallelism, default 2); with FUZZ_TARGETS, build makes only those harnesses.
# Exit status non-zero when any harness crashed (sanitizer report, failed invariant, timeout
# > 10 s or > 2 GiB RSS); the crashing input is kept under $FUZZ_BUILD/fuzz-artifacts/<target>/
# -- copy it to fuzz/regressions/<target>/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
JOBS=${JOBS:-2}
ALL_TARGETS="json_request jwt cookie_header url vault_token legacy_hash base64_utf8 http_request pg_record http_head"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}

die() { echo "fuzz.sh: $*" >&2; exit 2; }

build() {
  command -v clang++ >/dev/null || die "clang++ not found (apt-get install clang libclang-rt-14-dev)"
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -DSR_FUZZ=ON -DSR_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  if [[ -n ${FUZZ_TARGETS:-} ]]; then  # only the harnesses asked for (and the libraries they need)
    cmake --build "$BUILD" -j"$JOBS" --target $(printf 'fuzz_%s ' $TARGETS)
  else
    cmake --build "$BUILD" -j"$JOBS" --target fuzz_all
  fi
}

# Last "cov: N ft: M" pair of a libFuzzer log.
last_cov() { grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$1" | tail -1 | awk '{print $2" "$4}'; }
stat_of() { grep -E "^stat::$2:" "$1" | awk '{print $2}' | tail -1; }

run() {
  local secs=$1
  [[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || die "run needs SECONDS_PER_TARGET > 0"
  local work failed=0
  work=$(mktemp -d "${TMPDIR:-/tmp}/sr-fuzz.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  printf '%-15s %12s %9s %7s %7s %8s  %s\n' target executions exec/s cov ft crashes status
  for t in $TARGETS; do
    local bin="$BUILD/fuzz/fuzz_$t" corpus="$ROOT/fuzz/corpus/$t"
    [[ -x $bin ]] || die "$bin missing: run scripts/fuzz.sh build"
    [[ -d $corpus ]] || die "$corpus missing"
    local art="$BUILD/fuzz-artifacts/$t" log="$work/$t.log"
    mkdir -p "$art" "$work/corpus_$t"
    cp -r "$corpus/." "$work/corpus_$t/"
    local before rc=0
    before=$(ls "$art" | wc -l)
    (cd "$work" && "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
       -print_final_stats=1 -artifact_prefix="$art/" "$work/corpus_$t" >"$log" 2>&1) || rc=$?
    local crashes=$(( $(ls "$art" | wc -l) - before ))
    (( rc != 0 && crashes == 0 )) && crashes=1
    local execs rate cov ft status=ok
    execs=$(stat_of "$log" number_of_executed_units); rate=$(stat_of "$log" average_exec_per_sec)
    read -r cov ft <<<"$(last_cov "$log")"
    if (( crashes > 0 )); then
      status="CRASH (log: $BUILD/fuzz-artifacts/$t.log)"
      cp "$log" "$BUILD/fuzz-artifacts/$t.log"
      failed=1
    fi
    printf '%-15s %12s %9s %7s %7s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
      "${ft:-?}" "$crashes" "$status"
  done
  return $failed
}

case "${1:-}" in
  build) build ;;
  run) run "${2:-}" ;;
  smoke)
    build >/dev/null
    n=$(wc -w <<<"$TARGETS")
    run $(( n > 0 && 32 / n > 0 ? 32 / n : 1 ))  # 3 s each with ten harnesses; libFuzzer takes ~+1.5 s: ~45 s
    ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
