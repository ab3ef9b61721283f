"""Durability and failure behaviour (SPEC 9): kill -9 after acknowledged writes, PostgreSQL going
away and coming back, graceful shutdown."""
import os
import re
import subprocess
import tempfile
import threading
import time

import pytest
import requests

import conftest
from conftest import ROOT, Client, Server, assert_error, metric, wait_until


def test_acknowledged_writes_survive_kill9(make_server, tmp_path):
    import secrets
    keys = {"STRONGROOM_JWT_SECRET": secrets.token_urlsafe(32), "STRONGROOM_VAULT_SESSION_KEY": secrets.token_urlsafe(32)}
    for backend in conftest.backends():
        d = tempfile.mkdtemp(prefix="sr-kill-")
        s = make_server(backend=backend, data_dir=d, env=keys)
        c = Client(s)
        c.signup()
        c.signin()
        acked = []
        for i in range(40):
            r = requests.post(s.url + "/social/links", json={"platform": f"p{i}", "url": f"https://k.example/{i}"},
                              headers=c.bearer())
            assert r.status_code == 201
            acked.append(r.json()["id"])
        s.kill9()  # right after the last answer
        s2 = make_server(backend=backend, data_dir=d, env=keys)
        r = requests.get(s2.url + "/social/links", headers=c.bearer())
        assert r.status_code == 200, r.text
        assert [l["id"] for l in r.json()["links"]] == acked


def test_sqlite_database_belongs_to_one_server(make_server):
    d = tempfile.mkdtemp(prefix="sr-excl-")
    try:
        s = make_server(backend="sqlite", data_dir=d)
        c = Client(s)
        c.signup()
        # A second server on the same database refuses to start, quickly, naming the cause.
        t0 = time.time()
        with pytest.raises(RuntimeError) as e:
            make_server(backend="sqlite", data_dir=d)
        assert "in use by another process" in str(e.value) and "sqlite_exclusive" in str(e.value)
        assert "strongroom exited with 3:" in str(e.value)  # the storage's code, not killed hanging
        assert time.time() - t0 < 10
        # Neither is the shell's sqlite3 let in.
        import sqlite3
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(os.path.join(d, "strongroom.db"), timeout=0.2).execute("SELECT count(*) FROM users")
        # The first server is unharmed; once it stops, the next one starts and has the data.
        c.signin()
        assert c.get("/personal/me").status_code == 200
        s.stop()
        s2 = make_server(backend="sqlite", data_dir=d)
        c2 = Client(s2)
        c2.username, c2.password = c.username, c.password
        c2.signin()
        assert c2.get("/personal/me").json()["username"] == c.username
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


def _pg_ctl(env_dir, *args):
    cmd = ["/usr/lib/postgresql/15/bin/pg_ctl", "-D", os.path.join(env_dir, "data"), *args]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "srtest", "--"] + cmd
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def private_pg():
    """A PostgreSQL of this test's own, so stopping it disturbs no other test."""
    envfile = tempfile.mktemp(prefix="sr-pg-outage-", suffix=".env")
    subprocess.run([os.path.join(ROOT, "scripts", "pg-test.sh"), "start", envfile], check=True, capture_output=True, timeout=120)
    env = dict(l.strip().split("=", 1) for l in open(envfile) if "=" in l)
    port = re.search(r":(\d+)/srtest$", env["SR_TEST_PG_URL"]).group(1)
    yield env, port
    subprocess.run([os.path.join(ROOT, "scripts", "pg-test.sh"), "stop", envfile], capture_output=True, timeout=120)


def test_postgres_outage_fast_503_and_recovery(make_server, private_pg):
    if not conftest.PG_URL:
        pytest.skip("needs PostgreSQL")
    env, port = private_pg
    s = make_server(backend="postgresql", env={"STRONGROOM_DATABASE_URL": env["SR_TEST_PG_URL"]})
    c = Client(s)
    c.signup()
    c.signin()
    assert requests.get(s.url + "/readyz").status_code == 200
    _pg_ctl(env["PGTEST_DIR"], "-m", "immediate", "stop")
    for _ in range(5):
        t0 = time.time()
        r = requests.get(s.url + "/personal/me", headers=c.bearer(), timeout=10)
        assert time.time() - t0 < 3, "a request hung while the database was down"
        assert_error(r, 503, "unavailable")
    assert_error(requests.get(s.url + "/readyz", timeout=10), 503, "unavailable")
    assert requests.get(s.url + "/healthz").status_code == 200  # the process itself is up
    sock = os.path.join(env["PGTEST_DIR"], "sock")
    _pg_ctl(env["PGTEST_DIR"], "-l", os.path.join(env["PGTEST_DIR"], "log"), "-w",
            "-o", f"-k {sock} -p {port} -c listen_addresses=''", "start")
    deadline = time.time() + 15
    while time.time() < deadline:
        if requests.get(s.url + "/readyz", timeout=10).status_code == 200:
            break
        time.sleep(0.2)
    assert requests.get(s.url + "/personal/me", headers=c.bearer()).status_code == 200


def test_sigterm_finishes_in_flight_then_exits_zero(make_server):
    # About 0.3 s per hash on 2 workers: four signins are all in the server at once, two hashing
    # and two queued, when SIGTERM comes (the hash pool's gauges say so).
    s = make_server(env={"STRONGROOM_ARGON2_MEMORY_KIB": "65536", "STRONGROOM_ARGON2_PASSES": "4"})
    c = Client(s)
    c.signup()
    results, errors = {}, {}

    def slow_signin(i):
        try:
            r = requests.post(s.url + "/auth/signin", json={"username": c.username, "password": c.password}, timeout=30)
            results[i] = r.status_code
        except Exception as e:  # a dropped connection must fail the test, not vanish with its thread
            errors[i] = repr(e)
    threads = [threading.Thread(target=slow_signin, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: metric(s, "strongroom_hash_running") + metric(s, "strongroom_hash_queue") == 4,
               "four signins hashing or queued", timeout=10, interval=0.005)
    assert s.stop() == 0
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == {0: 200, 1: 200, 2: 200, 3: 200}, results
    with pytest.raises(requests.ConnectionError):
        requests.get(s.url + "/healthz", timeout=2)
