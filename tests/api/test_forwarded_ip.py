"""Behind a trusted proxy the logs name the client, not the proxy (issue 14 item 8, SPEC 9, 14):
the access line and the security events carry the address X-Forwarded-For gives when the request
came from an address in trusted_proxies, and the socket's peer otherwise (a client that is not a
proxy cannot choose what the log says about it)."""
import http.client
import json

import pytest

from conftest import uname, wait_for_event

PROXY = "127.0.7.1"      # inside trusted_proxies
STRANGER = "127.0.8.1"   # not a proxy
CLIENT = "198.51.100.23"


def send(server, method, path, source, headers, body=None):
    """One request from `source` with an X-Request-ID of our own; returns (status, request id)."""
    rid = "fwd-" + uname("r")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
    h = {"X-Request-ID": rid, "Content-Type": "application/json"}
    h.update(headers)
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status, rid


@pytest.fixture
def proxied(make_server):
    return make_server(env={"STRONGROOM_TRUSTED_PROXIES": "127.0.7.0/24"})


@pytest.mark.parametrize("path", ["/healthz", "/no/such/route"])
def test_access_line_names_the_forwarded_client(proxied, path):
    status, rid = send(proxied, "GET", path, PROXY, {"X-Forwarded-For": CLIENT})
    assert status in (200, 404)
    assert wait_for_event(proxied, "access", rid)["ip"] == CLIENT


def test_access_line_walks_the_chain_from_the_right(proxied):
    # The left-most entry is whatever the client wrote: the right-most untrusted hop is the client.
    _, rid = send(proxied, "GET", "/healthz", PROXY, {"X-Forwarded-For": f"1.2.3.4, {CLIENT}, 127.0.7.9"})
    assert wait_for_event(proxied, "access", rid)["ip"] == CLIENT


def test_untrusted_sender_cannot_choose_its_logged_address(proxied):
    _, rid = send(proxied, "GET", "/healthz", STRANGER, {"X-Forwarded-For": CLIENT})
    assert wait_for_event(proxied, "access", rid)["ip"] == STRANGER


def test_garbage_forwarded_for_logs_the_proxy(proxied):
    _, rid = send(proxied, "GET", "/healthz", PROXY, {"X-Forwarded-For": 'nonsense", "ip":"6.6.6.6'})
    line = wait_for_event(proxied, "access", rid)
    assert line["ip"] == PROXY


def test_no_forwarded_for_logs_the_peer(proxied):
    _, rid = send(proxied, "GET", "/healthz", PROXY, {})
    assert wait_for_event(proxied, "access", rid)["ip"] == PROXY


def test_security_event_names_the_forwarded_client(proxied):
    body = {"username": uname(), "password": "definitely wrong pw"}
    status, rid = send(proxied, "POST", "/auth/signin", PROXY, {"X-Forwarded-For": CLIENT}, body)
    assert status == 401
    event = wait_for_event(proxied, "auth.signin.failure", rid)
    assert event["security"] is True and event["ip"] == CLIENT
    assert wait_for_event(proxied, "access", rid)["ip"] == CLIENT


def test_without_trusted_proxies_the_header_is_ignored(make_server):
    s = make_server()
    status, rid = send(s, "POST", "/auth/signin", PROXY, {"X-Forwarded-For": CLIENT},
                       {"username": uname(), "password": "definitely wrong pw"})
    assert status == 401
    assert wait_for_event(s, "auth.signin.failure", rid)["ip"] == PROXY
    assert wait_for_event(s, "access", rid)["ip"] == PROXY
