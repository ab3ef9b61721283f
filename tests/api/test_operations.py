"""SPEC 9 rows that had no black-box test: the security events and the access line of the real
binary, the request id on every line of a request, the /metrics series, the idle keep-alive
timeout and the rotating log file (10 MB x 10)."""
import json
import os
import socket
import sqlite3
import stat
import threading
import time

import requests

from conftest import (STRONG, Client, assert_error, metric, request_lines, uname, unlocked, wait_for_event,
                      wait_until)


def rid():
    return "ops-" + uname()


# --- events and the access line -------------------------------------------------------------------

def test_security_events_carry_the_request_id(make_server):
    """Each event is logged by the request that caused it, with that request's id, before its
    access line (so every line of the request carries the id)."""
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1"})
    c = Client(s)
    c.signup()
    ids = {}

    ids["auth.signin.success"] = rid()
    r = c.s.post(s.url + "/auth/signin", json={"username": c.username, "password": c.password},
                 headers={"X-Request-ID": ids["auth.signin.success"]})
    assert r.status_code == 200
    c.csrf = r.json()["csrf_token"]

    ids["auth.signin.failure"] = rid()
    r = requests.post(s.url + "/auth/signin", json={"username": c.username, "password": "wrong password 123"},
                      headers={"X-Request-ID": ids["auth.signin.failure"]})
    assert_error(r, 401, "invalid_credentials")

    ids["auth.csrf.failure"] = rid()
    r = c.post("/social/links", {"platform": "x", "url": "https://x.example"}, csrf=False,
               headers={"X-Request-ID": ids["auth.csrf.failure"]})
    assert_error(r, 403, "csrf_failed")

    for _ in range(3):  # the 5-per-minute signin row: the 5th attempt so far, then the 6th is refused
        requests.post(s.url + "/auth/signin", json={"username": uname(), "password": "wrong password 123"})
    ids["ratelimit.exceeded"] = rid()
    r = requests.post(s.url + "/auth/signin", json={"username": uname(), "password": "wrong password 123"},
                      headers={"X-Request-ID": ids["ratelimit.exceeded"]})
    assert_error(r, 429, "rate_limited")

    for event, request_id in ids.items():
        lines = request_lines(s, request_id)
        names = [e["event"] for e in lines]
        assert names[-1] == "access" and event in names, (event, names)
        ev = lines[names.index(event)]
        assert ev.get("security") is True and ev.get("ip") == "127.0.0.1", ev
    assert request_lines(s, ids["auth.signin.success"])[0].get("user_id") == c.user_id
    csrf = next(e for e in request_lines(s, ids["auth.csrf.failure"]) if e["event"] == "auth.csrf.failure")
    assert csrf["user_id"] == c.user_id and csrf["route"] == "/social/links"
    limited = next(e for e in request_lines(s, ids["ratelimit.exceeded"]) if e["event"] == "ratelimit.exceeded")
    assert limited["rule"] == "signin" and limited["route"] == "/auth/signin"


def test_access_line_fields(server):
    c = Client(server)
    c.signup()
    c.signin()
    link = c.post("/social/links", {"platform": "x", "url": "https://x.example"}).json()["id"]
    request_id = rid()
    r = c.put(f"/social/links/{link}", {"platform": "y", "url": "https://y.example"}, headers={"X-Request-ID": request_id})
    assert r.status_code == 200
    line = wait_for_event(server, "access", request_id)
    assert {k: line[k] for k in ("method", "route", "status", "user_id", "ip")} == {
        "method": "PUT", "route": "/social/links/{id}", "status": 200, "user_id": c.user_id, "ip": "127.0.0.1"}
    assert isinstance(line["latency_ms"], (int, float)) and 0 <= line["latency_ms"] < 60000
    assert line["ts"].endswith("Z") and line["level"] == "info"
    # Anonymous and unmatched requests: no user id, the route as the router saw it.
    request_id = rid()
    requests.get(server.url + "/no/such/thing", headers={"X-Request-ID": request_id})
    line = wait_for_event(server, "access", request_id)
    assert line["status"] == 404 and line["route"] == "unmatched" and "user_id" not in line


# --- /metrics -------------------------------------------------------------------------------------

def test_metrics_series_move_with_what_they_count(make_server):
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1"})
    count = lambda: metric(s, "http_request_duration_seconds_count", {"route": "/healthz", "method": "GET"})
    before = count()
    for _ in range(3):
        requests.get(s.url + "/healthz")
    wait_until(lambda: count() == before + 3, "three latency observations of /healthz")
    text = requests.get(s.url + "/metrics").text
    assert 'http_request_duration_seconds_bucket{route="/healthz",method="GET",le="+Inf"}' in text
    assert metric(s, "http_requests_total", {"route": "/healthz", "method": "GET", "status": "200"}) >= 3
    for name in ("strongroom_hash_queue", "strongroom_hash_running", "strongroom_db_connections_in_use"):
        assert f"# TYPE {name} gauge" in text, name

    failures = lambda: metric(s, "auth_failures_total", {"reason": "invalid_credentials"})
    rejections = lambda: metric(s, "ratelimit_rejections_total", {"rule": "signin"})
    f0, r0 = failures(), rejections()
    codes = [requests.post(s.url + "/auth/signin", json={"username": uname(), "password": "wrong password 123"}).status_code
             for _ in range(6)]
    assert codes == [401] * 5 + [429]
    wait_until(lambda: failures() == f0 + 5 and rejections() == r0 + 1, "5 auth failures and 1 rejection counted")


def test_hash_and_db_gauges_show_work_in_progress(make_server):
    """The hash pool gauges while a slow signin hashes; the database pool gauge while a write waits
    for a lock this test holds on the SQLite file."""
    s = make_server(backend="sqlite", env={"STRONGROOM_SQLITE_EXCLUSIVE": "false", "STRONGROOM_HASH_WORKERS": "1",
                                           "STRONGROOM_ARGON2_MEMORY_KIB": "65536", "STRONGROOM_ARGON2_PASSES": "6"})
    c = Client(s)
    c.signup()
    c.signin()
    assert metric(s, "strongroom_db_connections_in_use") == 0
    t = threading.Thread(target=lambda: requests.post(s.url + "/auth/signin", json={"username": c.username, "password": STRONG}))
    t.start()
    wait_until(lambda: metric(s, "strongroom_hash_running") == 1, "the signin's hash running")
    t.join()
    wait_until(lambda: metric(s, "strongroom_hash_running") == 0, "the hash pool idle again")

    db = sqlite3.connect(os.path.join(s.data_dir, "strongroom.db"), timeout=10, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")  # the writer's next transaction waits for this lock
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", requests.put(
        c.url("/personal/handbook"), json={"full_name": "Waits"}, headers=c.bearer(), timeout=30)))
    t.start()
    try:
        wait_until(lambda: metric(s, "strongroom_db_connections_in_use") >= 1, "a connection busy with the write")
    finally:
        db.execute("COMMIT")
        db.close()
    t.join()
    assert out["r"].status_code == 200, out["r"].text
    wait_until(lambda: metric(s, "strongroom_db_connections_in_use") == 0, "the connection free again")


# --- connections ----------------------------------------------------------------------------------

def test_idle_keep_alive_connection_is_closed(make_server):
    s = make_server(env={"STRONGROOM_IDLE_TIMEOUT": "1"})
    conn = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        for _ in range(3):  # activity keeps it open past the idle timeout...
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(0.6)
        idle_from = time.time()
        assert conn.recv(65536) == b""  # ...idleness closes it: the server ends the connection
        idle = time.time() - idle_from
        assert 0.3 <= idle < 5, idle  # 1 s after the last answer (0.6 s of it already slept)
    finally:
        conn.close()


# --- the rotating log file ------------------------------------------------------------------------

def test_log_file_rotates_at_10_mb(make_server):
    """Over 10 MiB of lines: the file rotates (to strongroom.1.log: spdlog puts the number before the
    extension), no file exceeds 10 MiB, every line is whole JSON, no line is lost, and the files
    are private."""
    s = make_server(env={"STRONGROOM_LOG_FILE": "strongroom.log"})
    rotated = os.path.join(s.data_dir, "strongroom.1.log")
    tag = uname()  # 14 characters: with the counter and padding a request id of exactly 64
    n, batch, marker = 0, 1000, b"HTTP/1.1 200"
    conn = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    try:
        while not os.path.exists(rotated):  # ~45,000 access lines
            assert n < 150000, "no rotation after 150,000 requests"
            conn.sendall(b"".join(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: %s-%08d-%s\r\n\r\n"
                                  % (tag.encode(), n + i, b"r" * 40) for i in range(batch)))
            got, carry = 0, b""
            while got < batch:
                chunk = conn.recv(1 << 20)
                assert chunk, "connection closed"
                data = carry + chunk
                got += data.count(marker)
                carry = data[-(len(marker) - 1):]
            n += batch
    finally:
        conn.close()
    assert s.stop() == 0  # every line written out
    files = sorted(f for f in os.listdir(s.data_dir) if f.startswith("strongroom") and f.endswith(".log"))
    assert files == ["strongroom.1.log", "strongroom.log"], files
    seen = 0
    for f in files:
        path = os.path.join(s.data_dir, f)
        assert os.path.getsize(path) <= 10 * 1024 * 1024, (f, os.path.getsize(path))
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, f
        with open(path, "rb") as fh:
            for line in fh:
                e = json.loads(line)
                seen += e.get("event") == "access" and e.get("request_id", "").startswith(tag)
    assert seen == n, (seen, n)
