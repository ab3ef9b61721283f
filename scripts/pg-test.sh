#!/usr/bin/env bash
# Throwaway PostgreSQL 15 for tests: never the system service, never a mock.
#
#   scripts/pg-test.sh start ENV_FILE   initdb in a temp dir, start postgres on a private unix socket
#                                       and a free port, create database `srtest`, write
#                                       `SR_TEST_PG_URL=postgresql://...` (and PGTEST_DIR=...) to ENV_FILE.
#   scripts/pg-test.sh stop ENV_FILE    stop that server and remove its directory.
#
# Tests that simulate an outage (tests/unit/storage) stop and restart the server themselves with
# pg_ctl, using PGTEST_DIR and PGTEST_PORT from the env file (export them to enable that test).
#
# As root, the cluster runs as the dedicated system user `srtest` (created if missing), because
# postgres refuses to run as root. As any other user it runs as that user.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGUSER_OS=${PGTEST_OS_USER:-srtest}

die() { echo "pg-test.sh: $*" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    # runuser keeps no root privileges and needs no password
    runuser -u "$PGUSER_OS" -- "$@"
  else
    "$@"
  fi
}

free_port() {
  # A port that nothing listens on right now (postgres binds only the unix socket, but the port
  # number names the socket file and must not clash with another test server).
  python3 - <<'EOF'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
EOF
}

cmd_start() {
  local envfile=${1:?usage: pg-test.sh start ENV_FILE}
  [ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 not found in $PGBIN (apt-get install postgresql-15)"
  if [ "$(id -u)" -eq 0 ] && ! id "$PGUSER_OS" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_OS"
  fi
  local dir
  dir=$(mktemp -d /tmp/sr-pgtest.XXXXXX)
  mkdir -p "$dir/data" "$dir/sock"
  chmod 0700 "$dir" "$dir/data" "$dir/sock"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R "$PGUSER_OS" "$dir"
  fi
  # Write the env file early so that `stop` can clean up even when start fails half-way.
  local port
  port=$(free_port)
  {
    echo "PGTEST_DIR=$dir"
  } >"$envfile"
  trap 'echo "pg-test.sh: start failed, see $dir/log" >&2; tail -20 "$dir/log" >&2 2>/dev/null || true' ERR
  as_owner "$PGBIN/initdb" -D "$dir/data" -U srtest -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
    -o "-k $dir/sock -p $port -c listen_addresses='' -c fsync=on -c max_connections=200" start >/dev/null
  as_owner "$PGBIN/createdb" -h "$dir/sock" -p "$port" -U srtest srtest
  # The socket dir goes percent-encoded in the host part: no `&` or `?`, so the file can be sourced
  # by a shell or read by make without quoting.
  local url="postgresql://srtest@${dir//\//%2F}%2Fsock:$port/srtest"
  {
    echo "PGTEST_DIR=$dir"
    echo "PGTEST_PORT=$port"
    echo "SR_TEST_PG_URL=$url"
  } >"$envfile"
  echo "$url"
}

cmd_stop() {
  local envfile=${1:?usage: pg-test.sh stop ENV_FILE}
  [ -f "$envfile" ] || die "no such env file: $envfile"
  local dir
  dir=$(sed -n 's/^PGTEST_DIR=//p' "$envfile")
  [ -n "$dir" ] || die "PGTEST_DIR missing in $envfile"
  case "$dir" in /tmp/sr-pgtest.*) ;; *) die "refusing to remove $dir" ;; esac
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null || true
  fi
  rm -rf "$dir"
  rm -f "$envfile"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) echo "usage: $0 start|stop ENV_FILE" >&2; exit 2 ;;
esac
