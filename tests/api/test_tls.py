"""Native TLS (SPEC 15) against the real binary: HTTPS only on the TLS port, TLS 1.2/1.3 with
forward-secret AEAD suites, ALPN http/1.1, Secure cookies with prefixes and HSTS, SIGHUP reload of
certificate and key without dropping connections, and the listen_redirect listener. Certificates
are made here with the openssl command line."""
import os
import shutil
import signal
import socket
import ssl
import tempfile
import time

import pytest
import requests

from conftest import Client, Server, make_test_cert


@pytest.fixture
def certs():
    d = tempfile.mkdtemp(prefix="sr-tls-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tls_server(make_server, certs, names="IP:127.0.0.1,DNS:one.test", env=None):
    """A server whose tls_cert/tls_key are live.crt/live.key in certs (so tests can replace them)."""
    cert, key = make_test_cert(certs, names, stem="first")
    live_cert, live_key = os.path.join(certs, "live.crt"), os.path.join(certs, "live.key")
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    e = {"STRONGROOM_TLS_CERT": live_cert, "STRONGROOM_TLS_KEY": live_key}
    e.update(env or {})
    s = make_server(env=e)
    s.ca = [cert]
    return s


def context(server, **kw):
    """A client context trusting every certificate the test made for this server."""
    ctx = ssl.create_default_context()
    for ca in server.ca:
        ctx.load_verify_locations(ca)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def connect(server, ctx=None, port=None):
    raw = socket.create_connection(("127.0.0.1", port or server.port), timeout=5)
    return (ctx or context(server)).wrap_socket(raw, server_hostname="127.0.0.1")


def get(sock, path="/healthz"):
    """One GET on an open (TLS) socket; returns (status, headers dict lower-case, body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a response"
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    n = int(headers.get("content-length", 0))
    while len(body) < n:
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def san_of(sock):
    return [v for k, v in sock.getpeercert()["subjectAltName"] if k == "DNS"]


def wait_for_event(server, name, after=0, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        events = [e for e in server.log_events() if e.get("event") == name]
        if len(events) > after:
            return events[-1]
        time.sleep(0.05)
    raise AssertionError(f"no {name} event within {timeout} s")


@pytest.mark.transport_answers
def test_https_works_and_plain_http_fails_cleanly(make_server, certs):
    s = tls_server(make_server, certs)
    assert s.url.startswith("https://")
    r = requests.get(s.url + "/healthz", verify=s.ca[0])
    assert r.status_code == 200 and r.json()["status"] == "ok"
    # Plain HTTP to the TLS port: a readable 400 saying to use https, then the connection closes.
    r = requests.get(f"http://127.0.0.1:{s.port}/healthz", timeout=5)
    assert r.status_code == 400
    assert r.json()["code"] == "validation_failed" and "https" in r.json()["error"]
    assert r.headers["Connection"] == "close"
    # Garbage that is not HTTP either: refused, the server keeps serving.
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
        c.sendall(b"\x00\x01\x02 hello\r\n\r\n")
        assert c.recv(100).startswith(b"HTTP/1.1 400")
    assert requests.get(s.url + "/healthz", verify=s.ca[0]).status_code == 200


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_tls_below_1_2_is_refused(make_server, certs):
    s = tls_server(make_server, certs)
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx = context(s)
        ctx.set_ciphers("ALL:@SECLEVEL=0")  # the client may offer anything; the server decides
        ctx.minimum_version = version
        ctx.maximum_version = version
        with pytest.raises(ssl.SSLError) as err:
            connect(s, ctx)
        # Refused by the server's alert (not by this client declining to try).
        assert "ALERT_PROTOCOL_VERSION" in str(err.value) or "PROTOCOL_VERSION" in str(err.value), err.value
    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        ctx = context(s)
        ctx.minimum_version = ctx.maximum_version = version
        with connect(s, ctx) as c:
            assert c.version() == name
            assert get(c)[0] == 200


def test_only_forward_secret_aead_suites(make_server, certs):
    s = tls_server(make_server, certs)
    for suite in ("AES128-GCM-SHA256", "AES256-SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"):
        ctx = context(s)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(suite + ":@SECLEVEL=0")
        with pytest.raises(ssl.SSLError):
            connect(s, ctx)
    ctx = context(s)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with connect(s, ctx) as c:
        name, _, _ = c.cipher()
        assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name), name


def test_alpn_http11(make_server, certs):
    s = tls_server(make_server, certs)
    ctx = context(s)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with connect(s, ctx) as c:
        assert c.selected_alpn_protocol() == "http/1.1"
        assert get(c)[0] == 200
    ctx = context(s)
    ctx.set_alpn_protocols(["h2"])  # a client that only speaks HTTP/2 is told so, not misled
    with pytest.raises(ssl.SSLError):
        connect(s, ctx)


def test_cookies_secure_with_prefixes_and_hsts(make_server, certs, monkeypatch):
    s = tls_server(make_server, certs)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", s.ca[0])  # wins over a session's verify
    c = Client(s)
    c.signup()
    r = c.signin()
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookies = [v for k, v in r.raw.headers.items() if k.lower() == "set-cookie"]
    names = sorted(v.split("=", 1)[0] for v in cookies)
    assert names == sorted(["__Host-access_token_cookie", "__Secure-refresh_token_cookie",
                            "__Host-csrf_access_token", "__Secure-csrf_refresh_token"])
    assert all("; Secure" in v for v in cookies), cookies
    # The browser-like client sends them back over HTTPS and is signed in.
    assert c.get("/personal/me").status_code == 200


def test_sighup_reloads_without_dropping_connections(make_server, certs):
    s = tls_server(make_server, certs)
    second_cert, second_key = make_test_cert(certs, "IP:127.0.0.1,DNS:two.test", stem="second")
    s.ca.append(second_cert)
    live = connect(s)
    assert get(live)[0] == 200
    assert san_of(live) == ["one.test"]

    shutil.copy(second_cert, os.path.join(certs, "live.crt"))
    shutil.copy(second_key, os.path.join(certs, "live.key"))
    s.proc.send_signal(signal.SIGHUP)
    ev = wait_for_event(s, "tls.reloaded")
    assert "two.test" in ev["names"]
    assert get(live)[0] == 200  # the open keep-alive connection survived the reload
    with connect(s) as fresh:
        assert san_of(fresh) == ["two.test"]
        assert get(fresh)[0] == 200

    # A broken pair: the key of another certificate. Refused, logged, the last good pair kept.
    third_cert, third_key = make_test_cert(certs, "IP:127.0.0.1,DNS:three.test", stem="third")
    shutil.copy(third_key, os.path.join(certs, "live.key"))
    s.proc.send_signal(signal.SIGHUP)
    ev = wait_for_event(s, "tls.reload_failed")
    assert ev["level"] == "error" and "does not match" in ev["detail"]
    with connect(s) as after:
        assert san_of(after) == ["two.test"]
        assert get(after)[0] == 200
    # Garbage in place of the certificate: the same.
    with open(os.path.join(certs, "live.crt"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
    s.proc.send_signal(signal.SIGHUP)
    wait_for_event(s, "tls.reload_failed", after=1)
    with connect(s) as after:
        assert san_of(after) == ["two.test"]
    assert get(live)[0] == 200
    live.close()
    assert s.proc.poll() is None  # SIGHUP never stops the server



def test_sighup_without_tls_is_logged_and_keeps_serving(make_server):
    # The systemd units' ExecReload sends SIGHUP whether or not TLS is native.
    s = make_server()
    keep = requests.Session()
    assert keep.get(s.url + "/healthz", timeout=10).status_code == 200
    s.proc.send_signal(signal.SIGHUP)
    assert wait_for_event(s, "reload")["signal"] == signal.SIGHUP
    assert keep.get(s.url + "/healthz", timeout=10).status_code == 200  # the same connection
    assert requests.get(s.url + "/healthz", timeout=10).status_code == 200
    assert s.proc.poll() is None
    assert not [e for e in s.log_events() if e.get("event", "").startswith("tls.")]

def redirect_port(server):
    for e in server.log_events():
        if e.get("event") == "listening":
            return e["redirect_port"]
    raise AssertionError("no listening event")


@pytest.mark.transport_answers
def test_listen_redirect_308_to_https(make_server, certs):
    s = tls_server(make_server, certs, names="DNS:one.test,IP:127.0.0.1",
                   env={"STRONGROOM_LISTEN_REDIRECT": "127.0.0.1:0"})
    rp = redirect_port(s)
    assert rp and rp != s.port
    r = requests.post(f"http://127.0.0.1:{rp}/auth/signin?next=1", json={"a": 1}, allow_redirects=False, timeout=5)
    assert r.status_code == 308
    assert r.headers["Location"] == f"https://127.0.0.1:{s.port}/auth/signin?next=1"
    assert r.headers["Connection"] == "close"
    # A Host the certificate does not cover is never reflected (no open redirect, nothing to
    # poison in a cache): the certificate's first name is used instead.
    r = requests.get(f"http://127.0.0.1:{rp}/x", headers={"Host": "evil.example"}, allow_redirects=False, timeout=5)
    assert r.status_code == 308 and r.headers["Location"] == f"https://one.test:{s.port}/x"
    # Nothing else is served there: a route of the API is redirected too.
    r = requests.get(f"http://127.0.0.1:{rp}/healthz", allow_redirects=False, timeout=5)
    assert r.status_code == 308 and not r.content
    # A client that follows arrives on HTTPS.
    r = requests.get(f"http://127.0.0.1:{rp}/healthz", verify=s.ca[0], timeout=5)
    assert r.status_code == 200 and r.url.startswith("https://")
    # The same limits as the API listener: an oversized header is refused with 431.
    with socket.create_connection(("127.0.0.1", rp), timeout=5) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (17 * 1024) + b"\r\n\r\n")
        assert c.recv(100).startswith(b"HTTP/1.1 431")


def test_broken_pair_refuses_to_start(certs):
    a_cert, _ = make_test_cert(certs, "DNS:a.test", stem="a")
    _, b_key = make_test_cert(certs, "DNS:b.test", stem="b")
    s = Server(env={"STRONGROOM_TLS_CERT": a_cert, "STRONGROOM_TLS_KEY": b_key})
    with pytest.raises(RuntimeError) as err:
        s.start()
    assert "does not match" in str(err.value)
    # Exit 4 (cannot listen), on its own: not killed hanging on the way out (the log's flusher
    # thread once outlived serve() into static destruction).
    assert "strongroom exited with 4:" in str(err.value)
    s.cleanup()
