#!/usr/bin/env bash
# sqlmap against every strongroom endpoint that takes a parameter (issue 8), authenticated, on
# SQLite and on PostgreSQL. Loopback only; throwaway data directory and database.
#
#   scripts/sqlmap-audit.sh [sqlite|postgresql|all]      (default: all)
#
# Environment:
#   BUILD=build            build directory holding the strongroom binary (relative to the repo)
#   LEVEL=3 RISK=2         sqlmap --level / --risk
#   TARGET_TIMEOUT=150     hard cap (seconds) per sqlmap run; a run that hits it is reported
#   SQLMAP_OUT=<dir>       keep sqlmap's own output there (default: a temp dir, removed)
#   ONLY=<regex>           run only the targets whose name matches (e.g. ONLY='^vault-')
#
# Every target gets fresh credentials (a new signin, and a new vault unlock for vault routes) so
# that no token expires during a run. Tokens are never printed: the logged commands show
# <ACCESS>, <REFRESH>, <VAULT>. Prints one line per target and a closing summary; exit status 1
# when sqlmap reports an injection point (or a run fails/times out), else 0.
#
# Requires: sqlmap (apt-get install sqlmap), python3, PostgreSQL 15 binaries for the postgresql run.
set -uo pipefail

mode=${1:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
BIN="$BUILD/strongroom"
LEVEL=${LEVEL:-3}
RISK=${RISK:-2}
TARGET_TIMEOUT=${TARGET_TIMEOUT:-150}
PY=/usr/bin/python3

command -v sqlmap >/dev/null || { echo "sqlmap-audit: sqlmap not installed (apt-get install -y sqlmap)" >&2; exit 2; }
[[ -x $BIN ]] || { echo "sqlmap-audit: $BIN not found (set BUILD=)" >&2; exit 2; }

work=$(mktemp -d /tmp/sr-sqlmap.XXXXXX)
out=${SQLMAP_OUT:-$work/out}
mkdir -p "$out"
server_pid=""
pg_started=""

cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  [[ -n $pg_started ]] && "$root/scripts/pg-test.sh" stop "$work/pg.env" >/dev/null 2>&1
  if [[ -z ${SQLMAP_OUT:-} ]]; then rm -rf "$work"; else rm -rf "$work/data" "$work/pg.env"; fi
}
trap cleanup EXIT INT TERM

# ---- helpers ------------------------------------------------------------------------------------

# api.py: tiny HTTP client (stdlib only) that prepares the state sqlmap needs and writes secrets to
# files, never to stdout.
cat >"$work/api.py" <<'PYEOF'
import json, secrets, sys, urllib.request, urllib.error

port, cmd, state = sys.argv[1], sys.argv[2], sys.argv[3]
base = f"http://127.0.0.1:{port}"

def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    h = {"Content-Type": "application/json"} if body is not None else {}
    h.update(headers or {})
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else {})
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else {})

def load():
    with open(state) as f:
        return json.load(f)

def save(d):
    with open(state, "w") as f:
        json.dump(d, f)

def signin(d):
    st, b = call("POST", "/auth/signin",
                 {"username": d["username"], "password": d["password"], "return_tokens": True})
    assert st == 200, (st, b)
    return b

if cmd == "init":
    d = {"username": "sqlm_" + secrets.token_hex(4),
         "password": "sqlmap audit passphrase " + secrets.token_hex(4),
         "vault_password": "sqlmap vault passphrase " + secrets.token_hex(4)}
    d["email"] = d["username"] + "@example.org"
    st, b = call("POST", "/auth/signup",
                 {"username": d["username"], "email": d["email"], "password": d["password"]})
    assert st == 201, (st, b)
    b = signin(d)
    auth = {"Authorization": "Bearer " + b["access_token"]}
    st, b = call("POST", "/vault/setup", {"vault_password": d["vault_password"]}, auth)
    assert st == 201, (st, b)
    save(d)
elif cmd == "fresh":
    # New session (+ vault unlock, + a link, an entry and a spare session to aim path ids at).
    d = load()
    b = signin(d)
    d["access"], d["refresh"] = b["access_token"], b["refresh_token"]
    auth = {"Authorization": "Bearer " + d["access"]}
    st, b = call("POST", "/vault/unlock-vault", {"vault_password": d["vault_password"]}, auth)
    assert st == 200, (st, b)
    d["vault"] = b["vault_token"]
    vh = dict(auth, **{"X-Vault-Token": d["vault"]})
    st, b = call("POST", "/social/links", {"platform": "github", "url": "https://github.com/x"}, auth)
    if st == 409:  # the 50-link cap (sqlmap's own POSTs may have filled it): reuse the newest
        st, b = call("GET", "/social/links", None, auth)
        assert st == 200, (st, b)
        b = b["links"][-1]
    else:
        assert st == 201, (st, b)
    d["link_id"] = b["id"]
    st, b = call("POST", "/vault/add", {"domain": "example.org", "account_name": "alice",
                                        "pin_or_password": "entry-secret", "url": "https://example.org/",
                                        "notes": "n"}, vh)
    assert st == 201, (st, b)
    d["entry_id"] = b["id"]
    # A refresh token of a revoked session: signed by the server (so it passes the JWT checks and
    # reaches the database) yet stable to replay (always 401 token_revoked). A live refresh token
    # would rotate once and then trip reuse detection, too unstable for sqlmap to test.
    dead = signin(d)
    st, b = call("POST", "/auth/logout", None, {"Authorization": "Bearer " + dead["access_token"]})
    assert st == 200, (st, b)
    d["dead_refresh"] = dead["refresh_token"]
    spare = signin(d)  # another session of the same user, for DELETE /auth/sessions/{id}
    st, b = call("GET", "/auth/sessions", None, auth)
    assert st == 200, (st, b)
    others = [s["id"] for s in b["sessions"] if not s["current"]]
    d["session_id"] = others[-1]
    save(d)
elif cmd == "get":
    # Writes one value to stdout (used for non-secret ids and for files of secrets).
    print(load()[sys.argv[4]], end="")
PYEOF

api() { "$PY" "$work/api.py" "$port" "$@"; }

start_server() {  # $1 = backend
  rm -rf "$work/data"
  mkdir -p "$work/data"
  local env=(STRONGROOM_PROFILE=test STRONGROOM_LISTEN=127.0.0.1:0 STRONGROOM_DATA_DIR="$work/data"
             STRONGROOM_RATE_LIMIT_SCALE=1000000 STRONGROOM_THREADS=2 STRONGROOM_HASH_WORKERS=2)
  [[ $1 == postgresql ]] && env+=(STRONGROOM_DATABASE_URL="$SR_TEST_PG_URL")
  env "${env[@]}" "$BIN" serve >"$work/server-$1.log" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -m1 '"event":"listening"' "$work/server-$1.log" 2>/dev/null |
           sed -n 's/.*"port":\([0-9]*\).*/\1/p')
    [[ -n $port ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || { echo "sqlmap-audit: server did not start ($1)"; cat "$work/server-$1.log"; exit 2; }
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=""
}

total=0
bad=0
results=()

# run_target BACKEND NAME VAULT(0|1) METHOD PATH [JSON]
#   PATH may end in * (sqlmap's custom injection marker, reported by sqlmap as "JSON #1*"); sqlmap
#   also tests every JSON value of the body and, at level 3, the User-Agent and Referer headers.
run_target() {
  local backend=$1 name=$2 vault=$3 method=$4 path=$5 data=${6:-}
  if [[ -n ${ONLY:-} && ! $name =~ $ONLY ]]; then return; fi
  api fresh "$work/state.json" || { echo "sqlmap-audit: could not prepare state"; exit 2; }
  local access refresh vtok link entry sess
  access=$(api get "$work/state.json" access)
  refresh=$(api get "$work/state.json" dead_refresh)
  vtok=$(api get "$work/state.json" vault)
  link=$(api get "$work/state.json" link_id)
  entry=$(api get "$work/state.json" entry_id)
  sess=$(api get "$work/state.json" session_id)
  path=${path//\{link\}/$link}
  path=${path//\{entry\}/$entry}
  path=${path//\{session\}/$sess}
  data=${data//<REFRESH>/$refresh}
  local headers="Authorization: Bearer $access"
  [[ $vault == 1 ]] && headers+=$'\n'"X-Vault-Token: $vtok"
  local dbms=SQLite
  [[ $backend == postgresql ]] && dbms=PostgreSQL
  local args=(-u "http://127.0.0.1:$port$path" --method="$method" --headers="$headers"
              --batch --level="$LEVEL" --risk="$RISK" --dbms="$dbms" --flush-session
              --output-dir="$out/$backend" --disable-coloring --threads=2 --time-sec=2
              --timeout=30 --retries=1 --ignore-code=400,401,403,404,409 --drop-set-cookie
              --answers="custom injection marker=Y,JSON data=Y")
  [[ -n $data ]] && args+=(--data="$data")
  # The command as run, tokens elided.
  local shown="sqlmap -u 'http://127.0.0.1:\$PORT$path' --method=$method --headers='Authorization: Bearer <ACCESS>"
  [[ $vault == 1 ]] && shown+='\nX-Vault-Token: <VAULT>'
  shown+="'"
  [[ -n $data ]] && shown+=" --data='${6}'"
  shown+=" --batch --level=$LEVEL --risk=$RISK --dbms=$dbms --flush-session --threads=2 --time-sec=2"
  shown+=" --ignore-code=400,401,403,404,409 --drop-set-cookie --output-dir=<out>/$backend"
  shown+=" --disable-coloring --timeout=30 --retries=1"
  shown+=" --answers='custom injection marker=Y,JSON data=Y'  # under: timeout $TARGET_TIMEOUT"
  local log="$out/$backend-$name.log"
  echo "\$ $shown" >"$log.cmd"
  local t0=$SECONDS rc
  timeout "$TARGET_TIMEOUT" sqlmap "${args[@]}" >"$log" 2>&1
  rc=$?
  local dt=$((SECONDS - t0))
  local verdict reqs
  reqs=$(grep -c . "$out/$backend/127.0.0.1/log" 2>/dev/null || true)
  if grep -q "identified the following injection point" "$log"; then
    verdict="INJECTABLE"
  elif [[ $rc == 124 ]]; then
    verdict="TIMEOUT"
  elif grep -qE "do not appear to be injectable|does not seem to be injectable|not injectable" "$log"; then
    verdict="not injectable"
  else
    verdict="ERROR (rc=$rc)"
  fi
  [[ $verdict == "not injectable" ]] || bad=$((bad + 1))
  total=$((total + 1))
  local tested
  tested=$(grep -oE "testing (if )?(\(custom\) )?[A-Za-z-]+ parameter '[^']+'|(URI|POST|JSON|Header)[^']*parameter '[^']+' (does not seem|is not)" "$log" |
           grep -oE "parameter '[^']+'" | sort -u | tr '\n' ' ')
  local line
  line=$(printf '%-10s %-34s %-15s %4ss  params: %s' "$backend" "$method $5" "$verdict" "$dt" "$tested")
  results+=("$line")
  echo "$line"
}

campaign() {  # $1 = backend
  local b=$1
  start_server "$b"
  api init "$work/state.json" || { echo "sqlmap-audit: could not create the audit user"; exit 2; }
  local u p e
  u=$(api get "$work/state.json" username)
  e=$(api get "$work/state.json" email)
  # Auth. Values are chosen so that the base request gives a stable answer (a taken username, a
  # wrong current password, ...) and the account survives the run.
  run_target "$b" signup 0 POST /auth/signup "{\"username\":\"$u\",\"email\":\"$e\",\"password\":\"a long enough passphrase 91\"}"
  run_target "$b" signin 0 POST /auth/signin "{\"username\":\"$u\",\"password\":\"wrong password for sure 1\",\"return_tokens\":true}"
  # Custom marker: at level < 4 sqlmap ignores parameters whose name contains "token".
  run_target "$b" refresh 0 POST /auth/refresh '{"refresh_token":"<REFRESH>*"}'  # of a revoked session
  run_target "$b" change-password 0 POST /auth/change-password '{"current_password":"not the password 123","new_password":"a new long passphrase 92"}'
  run_target "$b" delete-account 0 POST /auth/delete-account '{"password":"not the password 123"}'
  run_target "$b" delete-session 0 DELETE '/auth/sessions/{session}*'
  # Personal and social.
  run_target "$b" handbook 0 PUT /personal/handbook '{"full_name":"Alice Example","age":30,"phone":"+1 555 0100","address":"1 Main St","bio":"hello"}'
  run_target "$b" links-add 0 POST /social/links '{"platform":"github","url":"https://github.com/alice"}'
  run_target "$b" links-put-path 0 PUT '/social/links/{link}*' '{"platform":"github","url":"https://github.com/alice"}'
  run_target "$b" links-delete 0 DELETE '/social/links/{link}*'
  # Vault.
  run_target "$b" vault-setup 0 POST /vault/setup '{"vault_password":"another vault passphrase 93"}'
  run_target "$b" vault-unlock 0 POST /vault/unlock-vault '{"vault_password":"wrong vault passphrase 94"}'
  run_target "$b" vault-add 1 POST /vault/add '{"domain":"example.org","account_name":"alice","pin_or_password":"p4ss","url":"https://example.org/","notes":"n"}'
  run_target "$b" vault-get 1 GET '/vault/entries/{entry}*'
  run_target "$b" vault-put-path 1 PUT '/vault/entries/{entry}*' '{"domain":"example.org","account_name":"alice","pin_or_password":"p4ss","url":"https://example.org/","notes":"n"}'
  run_target "$b" vault-delete 1 DELETE '/vault/entries/{entry}*'
  run_target "$b" vault-change-password 1 POST /vault/change-password '{"current_vault_password":"wrong vault passphrase 94","new_vault_password":"another vault passphrase 95"}'
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "sqlmap-audit: the server died during the $b campaign"
    bad=$((bad + 1))
  fi
  # Anything the server logged as an internal error (e.g. an SQL error) is a finding too.
  local internal
  internal=$(grep -c '"event":"internal.error"' "$work/server-$b.log" || true)
  echo "$b: server internal.error log lines: $internal"
  [[ $internal == 0 ]] || bad=$((bad + 1))
  cp "$work/server-$b.log" "$out/server-$b.log" 2>/dev/null
  stop_server
}

t_start=$SECONDS
if [[ $mode == sqlite || $mode == all ]]; then
  campaign sqlite
fi
if [[ $mode == postgresql || $mode == all ]]; then
  if [[ -z ${SR_TEST_PG_URL:-} ]]; then
    "$root/scripts/pg-test.sh" start "$work/pg.env" >/dev/null || { echo "sqlmap-audit: no PostgreSQL"; exit 2; }
    pg_started=1
    set -a
    # shellcheck disable=SC1091
    . "$work/pg.env"
    set +a
  fi
  campaign postgresql
fi
echo "---- summary (level=$LEVEL risk=$RISK, $((SECONDS - t_start)) s)"
printf '%s\n' "${results[@]}"
echo "$total targets, $bad with findings or errors"
[[ -n ${SQLMAP_OUT:-} ]] && echo "sqlmap output kept in $out"
[[ $bad == 0 ]]
