"""Rate limits (SPEC 8, 12) with real source addresses on loopback, trusted proxies and a real
Redis shared by two instances."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import STRONG, Client, assert_error, uname, wait_until


class Resp:
    def __init__(self, status, headers, body):
        self.status_code, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def call(server, method, path, body=None, source="127.0.0.1", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = conn.getresponse()
    out = Resp(r.status, {k: v for k, v in r.getheaders()}, r.read())
    conn.close()
    return out


def signin(server, user, source="127.0.0.1", headers=None):
    return call(server, "POST", "/auth/signin", {"username": user, "password": "definitely wrong pw"}, source, headers)


@pytest.fixture
def limited(make_server):
    return make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1"})


def test_signin_limited_per_ip_with_headers(limited):
    codes = []
    for i in range(6):
        r = signin(limited, uname(), source="127.0.0.2")
        codes.append(r.status_code)
        assert r.headers["RateLimit-Limit"] == "5"
        assert int(r.headers["RateLimit-Reset"]) >= 0
    assert codes == [401] * 5 + [429], codes
    assert int(r.headers["Retry-After"]) >= 1 and r.headers["RateLimit-Remaining"] == "0"
    assert r.json()["code"] == "rate_limited"
    # Another address is not affected.
    assert signin(limited, uname(), source="127.0.0.3").status_code == 401


def test_signin_limited_per_username_across_addresses(limited):
    victim = uname("victim")
    codes = [signin(limited, victim, source=f"127.0.1.{i}").status_code for i in range(1, 7)]
    assert codes == [401] * 5 + [429], codes
    # Case and surrounding variants of the same name share the bucket.
    assert signin(limited, victim.upper(), source="127.0.1.50").status_code == 429


def test_signup_limited_per_ip(limited):
    codes = []
    for _ in range(4):
        n = uname()
        codes.append(call(limited, "POST", "/auth/signup", {"username": n, "email": n + "@example.org", "password": STRONG}, source="127.0.2.1").status_code)
    assert codes == [201, 201, 201, 429], codes


def test_general_anonymous_limit_counts_failed_auth(limited):
    # 120 per minute: a burst of 120, then one more per 0.5 s (GCRA), so the count of 401s before
    # the first 429 is 120 plus the slots that came back while sending.
    t0, codes = time.monotonic(), []
    while not codes or codes[-1] != 429:
        codes.append(call(limited, "GET", "/personal/me", source="127.0.3.1").status_code)
        assert len(codes) <= 360, "never limited"
    assert set(codes[:-1]) == {401}, codes[-3:]
    assert 120 <= len(codes) - 1 <= 120 + int((time.monotonic() - t0) * 2) + 1, len(codes)


def test_xff_ignored_from_untrusted_peer(limited):
    codes = [signin(limited, uname(), source="127.0.4.1", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(6)]
    assert codes[-1] == 429, codes


def test_xff_used_from_trusted_proxy(make_server):
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1", "STRONGROOM_TRUSTED_PROXIES": "127.0.5.0/24"})
    codes = [signin(s, uname(), source="127.0.5.1", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(8)]
    assert 429 not in codes, codes
    same = [signin(s, uname(), source="127.0.5.1", headers={"X-Forwarded-For": "198.51.100.7"}).status_code for _ in range(6)]
    assert same[-1] == 429, same
    # Spoofed left-most entries do not help: the right-most untrusted address is the client.
    spoof = signin(s, uname(), source="127.0.5.1", headers={"X-Forwarded-For": "1.2.3.4, 198.51.100.7"})
    assert spoof.status_code == 429


def raw_signin(server, source, header_lines):
    """A signin sent as raw bytes (http.client refuses to send some hostile headers at all)."""
    body = json.dumps({"username": uname(), "password": "definitely wrong pw"}).encode()
    req = (b"POST /auth/signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + header_lines
           + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    c = socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=(source, 0))
    try:
        c.sendall(req)
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
    finally:
        c.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(payload)


# X-Forwarded-For values a client could get a trusted proxy to pass on, or send itself.
HOSTILE_XFF = [b"\r\nInjected: 1", b"a" * 8000, b"::ffff:1.2.3.4, ,,,", b"999.1.1.1", b"1.2.3.4:80", b"[::1]",
               "1.2.3.\u0664".encode(), b"1.2.3.4/8", b"1.2.3.4\x00", b"1.2.3.4\rInjected: 1",
               b"1.2.3.4\r\n Injected: 1", b"-1", b"1.2.3.4 5.6.7.8"]


def test_hostile_keys(make_server):
    """From a trusted proxy, an X-Forwarded-For that does not parse is not believed: every such
    request counts against the proxy's own address, so garbage cannot mint fresh buckets. Each
    answer is a JSON 400/401/429, never a 500."""
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1", "STRONGROOM_TRUSTED_PROXIES": "127.0.6.0/24"})
    counted = []
    for value in HOSTILE_XFF:
        status, body = raw_signin(s, "127.0.6.1", b"X-Forwarded-For: " + value + b"\r\n")
        assert status in (400, 401, 429), (value[:40], status, body)
        assert body["code"] in ("validation_failed", "invalid_credentials", "rate_limited"), body
        if status != 400:
            counted.append(status)
    assert len(counted) >= 7, counted
    assert counted == [401] * 5 + [429] * (len(counted) - 5), counted
    r = call(s, "POST", "/auth/signin", {"username": "é" * 254, "password": "x"}, source="127.0.6.2")
    assert r.status_code == 401
    r = call(s, "POST", "/auth/signin", {"username": "u" * 300, "password": "x"}, source="127.0.6.3")
    assert r.status_code == 400


# --- Redis ---------------------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Redis:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sr-redis-")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def redis():
    r = Redis().start()
    yield r
    r.cleanup()


def test_two_instances_share_one_limit(make_server, redis):
    env = {"STRONGROOM_RATE_LIMIT_SCALE": "1", "STRONGROOM_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0"}
    a, b = make_server(env=env), make_server(env=env)
    codes = []
    for i in range(6):
        codes.append(signin(a if i % 2 == 0 else b, uname(), source="127.0.7.1").status_code)
    assert codes == [401] * 5 + [429], codes


def test_redis_down_does_not_fail_open(make_server, redis):
    env = {"STRONGROOM_RATE_LIMIT_SCALE": "1", "STRONGROOM_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0"}
    s = make_server(env=env)
    assert signin(s, uname(), source="127.0.8.1").status_code == 401
    redis.kill()
    codes = [signin(s, uname(), source="127.0.8.2").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429], codes  # the local fallback still limits
    wait_until(lambda: any(e.get("event") == "ratelimit.redis" for e in s.log_events()), "the ratelimit.redis warning")


def test_repeated_xff_lines_use_the_proxys_line(make_server):
    """A client-sent X-Forwarded-For line before the proxy's own line must not pick the bucket."""
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1", "STRONGROOM_TRUSTED_PROXIES": "127.0.9.0/24"})
    codes = [raw_signin(s, "127.0.9.1", b"X-Forwarded-For: 10.9.9.%d\r\nX-Forwarded-For: 198.51.100.9\r\n" % i)[0]
             for i in range(6)]
    assert codes == [401] * 5 + [429], codes


def test_username_and_email_share_one_account_bucket(limited):
    from conftest import Client
    c = Client(limited)
    c.signup()
    logins = [c.username, c.username + "@example.org"] * 3
    codes = [call(limited, "POST", "/auth/signin", {"username": login, "password": "definitely wrong pw"},
                  source=f"127.0.10.{i + 1}").status_code for i, login in enumerate(logins)]
    assert codes == [401] * 5 + [429], codes


def test_log_file_is_private(make_server):
    import stat as _stat
    s = make_server(env={"STRONGROOM_LOG_FILE": "strongroom.log"})
    import requests as _r
    _r.get(s.url + "/healthz", headers={"X-Request-ID": "private-log"})
    path = os.path.join(s.data_dir, "strongroom.log")
    wait_until(lambda: b'"request_id":"private-log"' in open(path, "rb").read(), "the access line in the log file")
    assert _stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
