"""The command line and configuration (SPEC 1, 11): profiles, secrets, check --deploy, migrate."""
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile

import pytest
import requests

from conftest import BIN, PG_URL, STRONG, Client, Server


def run(args, env=None, cwd=None, timeout=30):
    e = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    e.update(env or {})
    return subprocess.run([BIN, *args], env=e, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_version_and_help():
    r = run(["version"])
    assert r.returncode == 0 and re.match(r"strongroom \d+\.\d+\.\d+", r.stdout)
    for cmd in [[], ["serve"], ["migrate"], ["check"], ["gen-secret"], ["version"]]:
        r = run([*cmd, "--help"])
        assert r.returncode == 0, (cmd, r.stderr)
        assert "Usage" in r.stdout or "usage" in r.stdout.lower()
    assert "--deploy" in run(["check", "--help"]).stdout
    assert "--no-migrate" in run(["serve", "--help"]).stdout


def test_gen_secret():
    a, b = run(["gen-secret"]).stdout.strip(), run(["gen-secret"]).stdout.strip()
    assert a != b and re.fullmatch(r"[A-Za-z0-9_-]{43}", a)


def test_unknown_command_fails():
    assert run(["frobnicate"]).returncode != 0


def test_development_defaults_and_secrets_persist():
    cwd = tempfile.mkdtemp(prefix="sr-dev-")
    try:
        # No configuration at all but the port (8080 may be taken on a shared machine).
        s = Server(backend="sqlite", data_dir=None, profile="development")
        s.env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
        s.env["STRONGROOM_LISTEN"] = "127.0.0.1:0"
        s.data_dir = cwd
        s.own_dir = False
        s.start()
        data = os.path.join(cwd, "data")
        assert os.path.exists(os.path.join(data, "strongroom.db"))
        assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(os.path.join(data, "secrets")).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.join(data, "strongroom.db")).st_mode) == 0o600
        c = Client(s)
        c.signup()
        c.signin()
        bearer = c.bearer()
        # Development default CORS origins.
        r = requests.get(s.url + "/healthz", headers={"Origin": "http://localhost:5173"})
        assert r.headers.get("Access-Control-Allow-Origin") == "http://localhost:5173"
        assert s.stop() == 0  # SIGTERM: graceful, exit 0
        s.start()  # same data dir: same secrets, sessions stay valid
        assert requests.get(s.url + "/personal/me", headers=bearer).status_code == 200
        s.cleanup()
    finally:
        shutil.rmtree(cwd, ignore_errors=True)


def test_test_profile_writes_no_secrets(make_server):
    s = make_server()
    assert not os.path.exists(os.path.join(s.data_dir, "secrets"))


def test_production_refuses_listing_every_problem():
    d = tempfile.mkdtemp(prefix="sr-prod-")
    try:
        r = run(["serve"], env={"STRONGROOM_PROFILE": "production", "STRONGROOM_DATA_DIR": d,
                                "STRONGROOM_LISTEN": "127.0.0.1:0", "STRONGROOM_CORS_ORIGINS": "*",
                                "STRONGROOM_COOKIE_SECURE": "false", "STRONGROOM_JWT_SECRET": "tinyQz7"}, timeout=20)
        assert r.returncode != 0
        out = r.stderr + r.stdout
        for key in ["jwt_secret", "vault_session_key", "cookie_secure", "cors_origins", "tls"]:
            assert key in out, (key, out)
        assert "tinyQz7" not in out  # the secret value itself is never printed
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_production_starts_when_configured(make_server):
    d = tempfile.mkdtemp(prefix="sr-prod-ok-")
    os.chmod(d, 0o700)
    env = {"STRONGROOM_JWT_SECRET": secrets.token_urlsafe(32), "STRONGROOM_VAULT_SESSION_KEY": secrets.token_urlsafe(32),
           "STRONGROOM_TOTP_KEY": secrets.token_urlsafe(32), "STRONGROOM_BEHIND_TLS_PROXY": "true", "STRONGROOM_CORS_ORIGINS": "https://app.example",
           "STRONGROOM_RATE_LIMIT_SCALE": "1"}
    s = make_server(profile="production", env=env, data_dir=d)
    r = requests.get(s.url + "/healthz")
    assert r.status_code == 200
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    c = Client(s)
    c.signup()
    r = requests.post(s.url + "/auth/signin", json={"username": c.username, "password": c.password})
    names = [v.split("=", 1)[0] for k, v in r.raw.headers.items() if k.lower() == "set-cookie"]
    assert sorted(names) == sorted(["__Host-access_token_cookie", "__Secure-refresh_token_cookie",
                                    "__Host-csrf_access_token", "__Secure-csrf_refresh_token"])
    assert all("Secure" in v for k, v in r.raw.headers.items() if k.lower() == "set-cookie")
    shutil.rmtree(d, ignore_errors=True)


def test_check_deploy_findings():
    d = tempfile.mkdtemp(prefix="sr-check-")
    try:
        r = run(["check", "--deploy"], env={"STRONGROOM_DATA_DIR": d, "STRONGROOM_CORS_ORIGINS": "*",
                                            "STRONGROOM_ARGON2_MEMORY_KIB": "8192",
                                            "STRONGROOM_DATABASE_URL": "postgresql://u:hunter2@db.example.com/x?sslmode=require"})
        assert r.returncode == 1
        for word in ["ERROR", "cors_origins", "argon2_memory_kib", "database_url", "cookie_secure", "fix:"]:
            assert word in r.stdout, (word, r.stdout)
        assert "hunter2" not in r.stdout + r.stderr
        ok = run(["check"], env={"STRONGROOM_DATA_DIR": d})
        assert ok.returncode == 0, ok.stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_config_file_errors_name_the_key():
    d = tempfile.mkdtemp(prefix="sr-cfg-")
    try:
        p = os.path.join(d, "strongroom.toml")
        open(p, "w").write('acess_ttl = 900\n')
        r = run(["check", "--config", p])
        assert r.returncode == 2 and "acess_ttl" in r.stderr
        open(p, "w").write('access_ttl = "soon"\n')
        r = run(["check", "--config", p])
        assert r.returncode == 2 and "access_ttl" in r.stderr
        open(p, "w").write('listen = "127.0.0.1:99999"\n')
        r = run(["check", "--config", p])
        assert r.returncode == 2 and "listen" in r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_flags_override_env_and_file(make_server):
    """Three layers set data_dir (file < env < --data-dir flag) and access_ttl (file < env)."""
    d = tempfile.mkdtemp(prefix="sr-flags-")
    try:
        p = os.path.join(d, "c.toml")
        dirs = {k: os.path.join(d, k) for k in ("file", "env", "flag")}
        open(p, "w").write(f'profile = "test"\naccess_ttl = 100\ndata_dir = "{dirs["file"]}"\n')
        s = make_server(env={"STRONGROOM_ACCESS_TTL": "200", "STRONGROOM_DATA_DIR": dirs["env"]},
                        args=["--config", p, "--data-dir", dirs["flag"]])
        c = Client(s)
        c.signup()
        r = c.signin()
        cookie = [v for k, v in r.raw.headers.items() if k.lower() == "set-cookie" and v.startswith("access_token_cookie=")][0]
        assert "Max-Age=200" in cookie  # env beats file
        assert os.path.exists(os.path.join(dirs["flag"], "strongroom.db"))  # the flag beats both
        assert not os.path.exists(dirs["env"]) and not os.path.exists(dirs["file"])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_migrate_command(make_server):
    d = tempfile.mkdtemp(prefix="sr-mig-")
    try:
        r = run(["migrate"], env={"STRONGROOM_DATA_DIR": d, "STRONGROOM_PROFILE": "test"})
        assert r.returncode == 0, r.stderr
        assert os.path.exists(os.path.join(d, "strongroom.db"))
        r2 = run(["migrate"], env={"STRONGROOM_DATA_DIR": d, "STRONGROOM_PROFILE": "test"})
        assert r2.returncode == 0 and r.stdout == r2.stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_listening_event_survives_a_quiet_log_level(make_server):
    s = make_server(env={"STRONGROOM_LOG_LEVEL": "error"})  # start() waits for the "listening" line
    assert requests.get(s.url + "/healthz").status_code == 200
    assert s.stop() == 0  # a graceful stop writes out every line the logger still holds
    events = [e.get("event") for e in s.log_events()]
    assert "listening" in events
    assert "access" not in events, events  # info lines are filtered


def mapped_libpq(pid):
    return [line.split()[-1] for line in open(f"/proc/{pid}/maps") if "/libpq.so" in line]


def test_libpq_is_loaded_only_for_a_postgresql_url(make_server):
    """The binary does not link libpq: an SQLite server never maps it (nor the twenty libraries
    it pulls in), a PostgreSQL server loads it when it opens the database."""
    needed = subprocess.run(["readelf", "-d", BIN], capture_output=True, text=True, check=True).stdout
    assert "(NEEDED)" in needed and "libsqlite3" in needed
    assert "libpq" not in needed
    s = make_server()
    assert requests.get(s.url + "/healthz").status_code == 200
    assert mapped_libpq(s.proc.pid) == []
    if PG_URL:
        p = make_server(backend="postgresql")
        assert requests.get(p.url + "/healthz").status_code == 200
        assert mapped_libpq(p.proc.pid) != []


def test_postgresql_url_without_a_usable_libpq_is_a_clear_error():
    """A libpq.so.5 that is not libpq (here libsodium under that name, found first through
    LD_LIBRARY_PATH): the server says what is missing and exits, without a crash and without
    printing the URL's password."""
    d = tempfile.mkdtemp(prefix="sr-nopq-")
    try:
        lib = os.path.join(d, "lib")
        os.mkdir(lib)
        sodium = re.search(r"=> (\S*libsodium\S*)", subprocess.run(
            ["ldd", BIN], capture_output=True, text=True, check=True).stdout).group(1)
        os.symlink(sodium, os.path.join(lib, "libpq.so.5"))
        env = {"LD_LIBRARY_PATH": lib, "STRONGROOM_DATA_DIR": os.path.join(d, "data"),
               "STRONGROOM_LISTEN": "127.0.0.1:0",
               "STRONGROOM_DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/x"}
        for args in (["serve"], ["migrate"]):
            r = run(args, env=env, timeout=20)
            out = r.stdout + r.stderr
            assert r.returncode == 3, (args, r.returncode, out)
            assert "cannot load libpq.so.5 (it has no PQclear)" in out, out
            assert "apt-get install libpq5" in out
            assert "hunter2" not in out
        # `backup` needs no libpq to say that PostgreSQL is backed up with its own tools.
        r = run(["backup"], env=env, timeout=20)
        out = r.stdout + r.stderr
        assert r.returncode == 2 and "pg_dump" in out, (r.returncode, out)
        assert "cannot load" not in out and "hunter2" not in out
    finally:
        shutil.rmtree(d, ignore_errors=True)
