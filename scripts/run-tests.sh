#!/usr/bin/env bash
# Runs the test suites against real services and prints one closing line "N passed, M failed".
#   scripts/run-tests.sh all|unit|api|cluster|ui   (BUILD=build by default)
# Starts a throwaway PostgreSQL (scripts/pg-test.sh) for the run and always stops it; Redis
# servers are started by the tests that need them.
set -uo pipefail
mode=${1:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
PY=/usr/bin/python3
work=$(mktemp -d /tmp/strongroom-test.XXXXXX)
chmod 0755 "$work"

cleanup() {
  "$root/scripts/pg-test.sh" stop "$work/pg.env" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

if ! "$root/scripts/pg-test.sh" start "$work/pg.env"; then
  echo "run-tests: could not start PostgreSQL" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
set -a
# shellcheck disable=SC1091
source "$work/pg.env"
set +a
export SR_TEST_PG_URL STRONGROOM_BIN="$BUILD/strongroom"

status=0
if [[ $mode == all || $mode == unit ]]; then
  for t in "$BUILD"/test_*; do
    [[ -x $t ]] || continue
    name=$(basename "$t")
    echo "=== $name"
    if ! (cd "$work" && "$t" --gtest_brief=1 --gtest_output="json:$work/unit-$name.json"); then
      status=1
      [[ -f $work/unit-$name.json ]] || echo "{\"crashed\": \"$name\"}" >"$work/unit-$name.json"
    fi
  done
fi
if [[ $mode == all || $mode == api ]]; then
  # The pinned OpenAPI validator (tests/openapi/package-lock.json) that tests/api/test_openapi.py
  # runs. No network or registry: its tests fail (never skip) and so does this run.
  echo "=== openapi validator (npm ci)"
  if ! (cd "$root/tests/openapi" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "run-tests: npm ci in tests/openapi failed: the OpenAPI document cannot be validated" >&2
    status=1
  fi
  echo "=== api (pytest)"
  (cd "$root" && $PY -m pytest tests/api -q -p no:cacheprovider -o cache_dir="$work/.pytest" \
      --junitxml="$work/api.xml") || status=1
  # Once more over HTTPS (SR_TEST_TLS=1: every server gets a test certificate, docs/http.md):
  # the files that drive every route through the client (not the CLI, log, rate-limit and
  # storage-outage suites, which use plain sockets or do not depend on the transport), on SQLite
  # only (the storage does not change the transport; both backends ran above).
  echo "=== api over TLS (pytest, SR_TEST_TLS=1)"
  (cd "$root" && SR_TEST_TLS=1 $PY -m pytest tests/api/test_auth.py tests/api/test_http.py \
      tests/api/test_personal_social.py tests/api/test_vault.py tests/api/test_read_path.py \
      tests/api/test_vault_pages.py \
      -q -p no:cacheprovider -o cache_dir="$work/.pytest" --junitxml="$work/api-tls.xml") || status=1
fi
if [[ $mode == all || $mode == cluster ]]; then
  # Several instances behind nginx on the same PostgreSQL (tests/cluster, docs/operations.md).
  echo "=== cluster (pytest)"
  (cd "$root" && $PY -m pytest tests/cluster -q -p no:cacheprovider -o cache_dir="$work/.pytest" \
      --junitxml="$work/cluster.xml") || status=1
fi
if [[ $mode == all || $mode == ui ]]; then
  echo "=== ui (pytest + headless Chromium)"
  (cd "$root" && $PY -m pytest tests/ui -q -p no:cacheprovider -o cache_dir="$work/.pytest" \
      --junitxml="$work/ui.xml") || status=1
fi

$PY - "$work" <<'PYEOF' || status=1
import glob, json, sys, xml.etree.ElementTree as ET
work = sys.argv[1]
passed = failed = skipped = 0
for f in glob.glob(work + "/unit-*.json"):
    d = json.load(open(f))
    if "crashed" in d:
        print("crashed:", d["crashed"]); failed += 1; continue
    for suite in d.get("testsuites", []):
        for t in suite.get("testsuite", []):
            if t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN":
                skipped += 1
            elif t.get("failures"):
                failed += 1
            else:
                passed += 1
for f in sorted(glob.glob(work + "/*.xml")):
    root = ET.parse(f).getroot()
    for ts in root.iter("testsuite"):
        t = int(ts.get("tests", 0)); fl = int(ts.get("failures", 0)) + int(ts.get("errors", 0))
        sk = int(ts.get("skipped", 0))
        passed += t - fl - sk; failed += fl; skipped += sk
line = f"{passed} passed, {failed} failed"
if skipped: line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed or passed == 0 else 0)
PYEOF
exit $status
