"""Several instances behind nginx (SPEC 18), on loopback: the suite's PostgreSQL (SR_TEST_PG_URL),
a Redis of its own, three strongroom instances in the production profile, and nginx running the
site file of deploy/nginx/ (TLS there, a self-signed certificate made here). Everything a client does
must hold whichever instance answers, through nginx and directly; a rolling restart (SIGTERM one
instance at a time) under load loses no request."""
import base64
import hashlib
import hmac
import os
import re
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

if not os.environ.get("SR_TEST_PG_URL"):
    pytest.skip("the cluster test needs SR_TEST_PG_URL (run it through scripts/run-tests.sh)",
                allow_module_level=True)

from conftest import PG_URL, STRONG, Server, uname  # noqa: E402
from test_ratelimit import Redis, free_port  # noqa: E402

SITE = os.path.join(ROOT, "deploy", "nginx", "strongroom.conf")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
VAULT_PW = "a vault password for the cluster 5"


def instance_env(port, redis_port, keys):
    return {
        "STRONGROOM_LISTEN": f"127.0.0.1:{port}",
        "STRONGROOM_DATABASE_URL": PG_URL,
        "STRONGROOM_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "STRONGROOM_JWT_SECRET": keys["jwt"],
        "STRONGROOM_VAULT_SESSION_KEY": keys["vault"],
        "STRONGROOM_TOTP_KEY": keys["totp"],
        "STRONGROOM_BEHIND_TLS_PROXY": "true",
        "STRONGROOM_TRUSTED_PROXIES": "127.0.0.1",
        # The production defaults but for the per-IP rows: every request of this test comes from
        # 127.0.0.1. The per-account signin row (signin_user, 5 per minute) stays as it is.
        "STRONGROOM_RATE_LIMIT_SCALE": "1",
        "STRONGROOM_RATE_LIMITS": "signin=100000/60,signup=100000/3600,refresh=100000/60,"
                                  "vault_unlock=100000/300,anonymous=1000000/60,authenticated=1000000/60",
    }


class Nginx:
    """nginx in the foreground with its own prefix, running deploy/nginx/strongroom.conf with this
    test's ports, certificate and log paths in place of the values marked EDIT."""

    def __init__(self, upstream_ports):
        self.prefix = tempfile.mkdtemp(prefix="sr-nginx-")
        os.chmod(self.prefix, 0o755)
        self.https_port, self.http_port = free_port(), free_port()
        self.cert = os.path.join(self.prefix, "cert.pem")
        self.key = os.path.join(self.prefix, "key.pem")
        self.access_log = os.path.join(self.prefix, "access.log")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", self.key, "-out", self.cert,
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        site = open(SITE).read()
        subs = [("listen 80;", f"listen 127.0.0.1:{self.http_port};", 1),
                ("    listen [::]:80;\n", "", 1),
                ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;", 1),
                ("    listen [::]:443 ssl http2;\n", "", 1),
                ("server_name strongroom.example.org;", "server_name localhost;", 2),
                ("/etc/ssl/strongroom/fullchain.pem", self.cert, 1),
                ("/etc/ssl/strongroom/privkey.pem", self.key, 1),
                ("/var/log/nginx/strongroom.access.log", self.access_log, 1),
                ("/var/log/nginx/strongroom.error.log", os.path.join(self.prefix, "site-error.log"), 1)]
        subs += [(f"server 127.0.0.1:{808 * 10 + i + 1} ", f"server 127.0.0.1:{p} ", 1)
                 for i, p in enumerate(upstream_ports)]
        for old, new, count in subs:
            # The deploy file changed shape: this test must follow it, not test something else.
            assert site.count(old) == count, f"deploy/nginx/strongroom.conf: expected {count}x {old!r}"
            site = site.replace(old, new)
        with open(os.path.join(self.prefix, "strongroom.conf"), "w") as f:
            f.write(site)
        temp = os.path.join(self.prefix, "tmp")
        with open(os.path.join(self.prefix, "nginx.conf"), "w") as f:
            f.write(f"""daemon off;
worker_processes 1;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {self.prefix}/strongroom.conf;
}}
""")
        os.mkdir(temp)
        self.args = [NGINX, "-p", self.prefix, "-e", os.path.join(self.prefix, "error.log"),
                     "-c", os.path.join(self.prefix, "nginx.conf")]
        self.proc = None

    def start(self):
        t = subprocess.run([*self.args, "-t"], capture_output=True, text=True)
        assert t.returncode == 0, t.stderr
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/healthz", verify=self.cert, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            assert self.proc.poll() is None, open(os.path.join(self.prefix, "error.log")).read()
            time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    @property
    def url(self):
        return f"https://127.0.0.1:{self.https_port}"

    def log_size(self):
        return os.path.getsize(self.access_log) if os.path.exists(self.access_log) else 0

    def upstreams_since(self, offset):
        """The upstream address of each request logged after `offset` bytes, with its status."""
        with open(self.access_log) as f:
            f.seek(offset)
            return re.findall(r"upstream=(\S+?)/(\d{3})", f.read())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        shutil.rmtree(self.prefix, ignore_errors=True)


class Cluster:
    def __init__(self):
        self.keys = {k: secrets.token_urlsafe(32) for k in ("jwt", "vault", "totp")}
        self.redis = Redis().start()
        self.ports = [free_port() for _ in range(3)]
        self.dirs = [tempfile.mkdtemp(prefix="sr-cluster-") for _ in self.ports]
        self.instances = [self.start_instance(i) for i in range(3)]
        self.nginx = Nginx(self.ports).start()

    def start_instance(self, i):
        s = Server(backend="postgresql", profile="production", data_dir=self.dirs[i],
                   env=instance_env(self.ports[i], self.redis.port, self.keys))
        return s.start()

    def restart(self, i):
        assert self.instances[i].stop() == 0
        self.instances[i] = self.start_instance(i)

    def urls(self):
        """Each instance directly, and nginx."""
        return [s.url for s in self.instances] + [self.nginx.url]

    def stop(self):
        self.nginx.stop()
        for s in self.instances:
            s.stop()
            s.cleanup()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.redis.cleanup()


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.stop()


def session(cluster):
    """A requests session that trusts the test's certificate (and no CA bundle named by the
    environment: requests would let REQUESTS_CA_BUNDLE override the session's own setting)."""
    s = requests.Session()
    s.trust_env = False
    s.verify = cluster.nginx.cert
    return s


def call(cluster, url, method, path, body=None, token=None, vault=None, timeout=30):
    h = {}
    if token:
        h["Authorization"] = f"Bearer {token}"
    if vault:
        h["X-Vault-Token"] = vault
    verify = cluster.nginx.cert if url.startswith("https:") else True
    return requests.request(method, url + path, json=body, headers=h, verify=verify, timeout=timeout)


def new_user(cluster, url):
    name = uname("c")
    r = call(cluster, url, "POST", "/auth/signup", {"username": name, "email": f"{name}@example.org", "password": STRONG})
    assert r.status_code == 201, r.text
    return name


def signin(cluster, url, name, password=STRONG):
    r = call(cluster, url, "POST", "/auth/signin", {"username": name, "password": password, "return_tokens": True})
    assert r.status_code == 200, r.text
    return r.json()


def code(r):
    return r.status_code, r.json().get("code") if r.content else None


def test_signin_on_one_instance_use_on_every_other(cluster):
    a, b, c, proxy = cluster.urls()
    name = new_user(cluster, proxy)
    tok = signin(cluster, a, name)["access_token"]
    for url in (b, c, proxy, proxy, proxy):
        r = call(cluster, url, "GET", "/personal/me", token=tok)
        assert r.status_code == 200 and r.json()["username"] == name, r.text

    # The browser's way through nginx: Secure __Host- cookies over TLS and the CSRF header, each
    # request of the session answered by whichever instance nginx picks.
    offset = cluster.nginx.log_size()
    s = session(cluster)
    r = s.post(proxy + "/auth/signin", json={"username": name, "password": STRONG})
    assert r.status_code == 200, r.text
    assert "__Host-access_token_cookie" in s.cookies.get_dict()
    csrf = r.json()["csrf_token"]
    for i in range(6):
        r = s.put(proxy + "/personal/handbook", json={"bio": f"line {i}"}, headers={"X-CSRF-TOKEN": csrf})
        assert r.status_code == 200, r.text
        assert s.get(proxy + "/personal/handbook").json()["bio"] == f"line {i}"
    served = {addr for addr, status in cluster.nginx.upstreams_since(offset)}
    assert served == {f"127.0.0.1:{p}" for p in cluster.ports}, served
    # nginx's own answers keep strongroom's error shape.
    r = s.post(proxy + "/social/links", data=b"x" * 200_000, headers={"Content-Type": "application/json"})
    assert code(r) == (413, "payload_too_large")
    assert code(s.get(proxy + "/metrics")) == (403, "forbidden")


def test_revocation_is_seen_at_once_everywhere(cluster):
    a, b, c, proxy = cluster.urls()
    name = new_user(cluster, a)
    tok = signin(cluster, a, name)["access_token"]
    other = signin(cluster, c, name)["access_token"]
    assert call(cluster, b, "POST", "/auth/logout", token=tok).status_code == 200
    for url in (a, b, c, proxy):
        assert code(call(cluster, url, "GET", "/personal/me", token=tok)) == (401, "token_revoked")
    assert call(cluster, proxy, "GET", "/personal/me", token=other).status_code == 200
    # logout-all on one instance ends the other session on every instance.
    assert call(cluster, a, "POST", "/auth/logout-all", token=other).status_code == 200
    for url in (a, b, c, proxy):
        assert code(call(cluster, url, "GET", "/personal/me", token=other)) == (401, "token_revoked")


def test_refresh_reuse_is_detected_across_instances(cluster):
    a, b, c, proxy = cluster.urls()
    name = new_user(cluster, b)
    first = signin(cluster, a, name)
    r = call(cluster, b, "POST", "/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert call(cluster, c, "GET", "/personal/me", token=second["access_token"]).status_code == 200
    # The rotated-out token, replayed on another instance: the whole session ends everywhere.
    assert code(call(cluster, c, "POST", "/auth/refresh", {"refresh_token": first["refresh_token"]})) == \
        (401, "token_reused")
    for url in (a, b, c, proxy):
        assert call(cluster, url, "GET", "/personal/me", token=second["access_token"]).status_code == 401
    assert call(cluster, proxy, "POST", "/auth/refresh", {"refresh_token": second["refresh_token"]}).status_code == 401


def test_a_vault_session_works_on_any_instance(cluster):
    a, b, c, proxy = cluster.urls()
    name = new_user(cluster, c)
    tok = signin(cluster, a, name)["access_token"]
    assert call(cluster, b, "POST", "/vault/setup", {"vault_password": VAULT_PW}, token=tok).status_code == 201
    r = call(cluster, c, "POST", "/vault/unlock-vault", {"vault_password": VAULT_PW}, token=tok)
    assert r.status_code == 200, r.text
    vt = r.json()["vault_token"]
    r = call(cluster, a, "POST", "/vault/add", {"domain": "example.org", "account_name": name,
                                                 "pin_or_password": "s3cret-in-the-vault"}, token=tok, vault=vt)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    for url in (b, c, proxy):
        r = call(cluster, url, "GET", f"/vault/entries/{eid}", token=tok, vault=vt)
        assert r.status_code == 200 and r.json()["pin_or_password"] == "s3cret-in-the-vault"
    # Locking on one instance ends the vault session on all of them.
    assert call(cluster, proxy, "POST", "/vault/lock", token=tok, vault=vt).status_code == 200
    for url in (a, b, c):
        assert code(call(cluster, url, "GET", "/vault/entries", token=tok, vault=vt)) == (403, "vault_locked")


def totp(secret_b32, at):
    """RFC 6238 (SHA-1, 6 digits, 30 s) for the time `at`."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    h = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    o = h[-1] & 0x0F
    return f"{(struct.unpack('>I', h[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def test_mfa_token_is_usable_on_any_instance(cluster):
    # Two-step sign-in (SPEC 13) across instances: the password on one instance, the codes on
    # others, the token's single success seen by all of them.
    a, b, c, proxy = cluster.urls()
    assert code(call(cluster, a, "POST", "/auth/signin/2fa", {"mfa_token": "x", "code": "000000"})) == \
        (401, "unauthorized")
    name = new_user(cluster, proxy)
    tok = signin(cluster, a, name)["access_token"]
    r = call(cluster, b, "POST", "/auth/2fa/totp/setup", {"password": STRONG}, token=tok)
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    now = time.time()
    r = call(cluster, c, "POST", "/auth/2fa/totp/confirm", {"code": totp(secret, now)}, token=tok)
    assert r.status_code == 200, r.text
    # The password on one instance, the second step on others.
    r = call(cluster, a, "POST", "/auth/signin", {"username": name, "password": STRONG, "return_tokens": True})
    assert r.status_code == 200 and r.json().get("mfa_required") is True, r.text
    mfa = r.json()["mfa_token"]
    valid = {totp(secret, now + d) for d in (-30, 0, 30, 60)}
    wrong = next(w for w in ("000000", "111111", "222222", "333333", "444444") if w not in valid)
    assert code(call(cluster, c, "POST", "/auth/signin/2fa", {"mfa_token": mfa, "code": wrong})) == \
        (401, "invalid_code")
    # The next step's code (the one just used for confirm may not be replayed).
    r = call(cluster, b, "POST", "/auth/signin/2fa", {"mfa_token": mfa, "code": totp(secret, now + 30),
                                                      "return_tokens": True})
    assert r.status_code == 200, r.text
    assert call(cluster, proxy, "GET", "/personal/me", token=r.json()["access_token"]).status_code == 200
    # Spent by its first success, on every instance.
    assert code(call(cluster, proxy, "POST", "/auth/signin/2fa", {"mfa_token": mfa, "code": totp(secret, now + 60)})) == \
        (401, "unauthorized")


def test_one_signin_limit_shared_by_every_instance(cluster):
    a, b, c, proxy = cluster.urls()
    name = new_user(cluster, proxy)
    codes = []
    for url in (a, b, c, proxy, a, b):
        r = call(cluster, url, "POST", "/auth/signin", {"username": name, "password": "wrong password 123"})
        codes.append(r.status_code)
    # signin_user: 5 per minute per account, counted in Redis: per instance it would be 2 each.
    assert codes == [401] * 5 + [429], codes
    assert "Retry-After" in r.headers


def test_rolling_restart_under_load_loses_no_request(cluster):
    proxy = cluster.nginx.url
    name = new_user(cluster, proxy)
    tok = signin(cluster, proxy, name)["access_token"]
    results = {"ok": 0, "failed": []}
    lock = threading.Lock()
    stop = threading.Event()

    def loop(k):
        s = session(cluster)
        s.headers["Authorization"] = f"Bearer {tok}"
        i = 0
        deadline = time.time() + 90
        while not stop.is_set() and time.time() < deadline:
            i += 1
            try:
                if i % 3 == 0:
                    r = s.put(proxy + "/personal/handbook", json={"bio": f"{k}/{i}"}, timeout=30)
                elif i % 3 == 1:
                    r = s.get(proxy + "/personal/me", timeout=30)
                else:
                    r = s.get(proxy + "/readyz", timeout=30)
                ok = r.status_code == 200
                what = f"{r.request.method} {r.request.path_url} -> {r.status_code} {r.text[:120]}"
            except requests.RequestException as e:
                ok, what = False, repr(e)
            with lock:
                if ok:
                    results["ok"] += 1
                else:
                    results["failed"].append(what)

    def answered():
        with lock:
            return results["ok"]

    def wait_until(pred, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    threads = [threading.Thread(target=loop, args=(k,), daemon=True) for k in range(2)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: answered() >= 50, "the first answers")
        for i in range(3):
            port = cluster.ports[i]
            cluster.restart(i)  # SIGTERM, exit 0, a new process on the same port
            offset = cluster.nginx.log_size()
            # nginx takes the instance back by itself (fail_timeout): wait until it serves again.
            wait_until(lambda: (f"127.0.0.1:{port}", "200") in cluster.nginx.upstreams_since(offset),
                       f"instance {i} serving again through nginx")
        before = answered()
        wait_until(lambda: answered() >= before + 50, "answers after the last restart")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert results["failed"] == [], results["failed"][:5]
    assert results["ok"] >= 150
