"""HTTP conventions of SPEC sections 2, 3 and 9 against the real binary, including hostile raw
requests over sockets (smuggling, oversize headers, bad versions, slow clients)."""
import json
import socket
import ssl
import time

import requests

from conftest import TLS, TLS_CERT, assert_error, raw_request, signed_in, uname, wait_for_event

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-XSS-Protection": "0",
}


def check_security_headers(r):
    for k, v in SECURITY_HEADERS.items():
        assert r.headers.get(k) == v, (k, r.headers.get(k))
    assert "Server" not in r.headers
    # HSTS only with TLS (SR_TEST_TLS run: native TLS makes cookies Secure); never over plain HTTP.
    assert ("Strict-Transport-Security" in r.headers) == TLS


def status_of(raw):
    line = raw.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def healthy(server):
    r = requests.get(server.url + "/healthz", timeout=5)
    return r.status_code == 200 and r.json() == {"status": "ok"}


def test_healthz_and_headers(server):
    r = requests.get(server.url + "/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    check_security_headers(r)
    assert len(r.headers["X-Request-ID"]) > 0


def test_readyz(server):
    r = requests.get(server.url + "/readyz")
    assert r.status_code == 200, r.text
    check_security_headers(r)


def test_unknown_route_404_json(server):
    r = requests.get(server.url + "/nope")
    body = assert_error(r, 404, "not_found")
    assert set(body) == {"error", "code"}
    check_security_headers(r)


def test_wrong_method_405_with_allow(server):
    r = requests.delete(server.url + "/auth/signup")
    assert_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]
    check_security_headers(r)
    r = requests.post(server.url + "/healthz")
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"]


def test_request_id_echo_and_replace(server):
    r = requests.get(server.url + "/healthz", headers={"X-Request-ID": "abc-123_X.y"})
    assert r.headers["X-Request-ID"] == "abc-123_X.y"
    for bad in ["a" * 65, "has space", "semi;colon", "<script>", ""]:
        r = requests.get(server.url + "/healthz", headers={"X-Request-ID": bad})
        rid = r.headers["X-Request-ID"]
        assert rid != bad and 0 < len(rid) <= 64
        assert all(c.isalnum() or c in "._-" for c in rid)


def test_request_id_in_access_log(server):
    rid = "trace-me-" + uname()
    requests.get(server.url + "/healthz", headers={"X-Request-ID": rid})
    assert wait_for_event(server, "access", rid)["status"] == 200


def _header(raw, name):
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower():
            return v.strip().decode()
    return None


def test_refusals_carry_the_request_id_and_method(server):
    """A request refused while it is read (413 from its Content-Length, 400 for its framing)
    answers with the client's X-Request-ID once the header was parsed, and its access line has
    the method and status; a header that could not be parsed (431, 505 for another HTTP version)
    gets an id of our own and the method OTHER."""
    tag = uname()
    cases = [
        (b"POST /no/such/route HTTP/1.1\r\nHost: x\r\nX-Request-ID: r413-%s\r\n"
         b"Content-Length: 100000000\r\n\r\n", 413, "POST"),
        (b"DELETE /healthz HTTP/1.1\r\nX-Request-ID: r400-%s\r\n\r\n", 400, "DELETE"),  # no Host
    ]
    for raw_req, status, method in cases:
        raw = raw_request(server.port, raw_req % tag.encode(), timeout=3)
        assert status_of(raw) == status, raw[:200]
        rid = f"r{status}-{tag}"
        assert _header(raw, b"X-Request-ID") == rid, raw[:300]
        line = wait_for_event(server, "access", rid)
        assert (line["status"], line["method"]) == (status, method), line
    unparsed = [
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: r-%s\r\nX-Big: " + b"a" * (17 * 1024) +
         b"\r\n\r\n", 431),
        (b"GET /healthz HTTP/1.2\r\nHost: x\r\nX-Request-ID: r-%s\r\n\r\n", 505),
    ]
    for raw_req, status in unparsed:
        raw = raw_request(server.port, raw_req % tag.encode(), timeout=3)
        assert status_of(raw) == status, raw[:200]
        rid = _header(raw, b"X-Request-ID")
        assert rid and rid != f"r-{tag}", raw[:300]
        line = wait_for_event(server, "access", rid)
        assert (line["status"], line["method"]) == (status, "OTHER"), line


def test_unsupported_media_type(server):
    r = requests.post(server.url + "/auth/signup", data="username=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 415, "unsupported_media_type")
    r = requests.post(server.url + "/auth/signup", data='{"username":"x"}')  # no Content-Type
    assert_error(r, 415, "unsupported_media_type")


def test_invalid_json_variants(server):
    bad_bodies = [
        b"{", b"[]", b"null", b"", b'{"a":1}garbage', b'{"username":"a","username":"b"}',
        b'{"username":"\xff\xfe"}', b"[" * 40 + b"]" * 40, b'{"x":' + b"[" * 33 + b"]" * 33 + b"}",
    ]
    for body in bad_bodies:
        r = requests.post(server.url + "/auth/signup", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (body[:40], r.status_code, r.text)
        assert r.json()["code"] in ("invalid_json",), (body[:40], r.text)


def test_unknown_fields_rejected(server):
    r = requests.post(server.url + "/auth/signup", json={"username": "abcdef", "email": "a@b.co",
                                                        "password": "x" * 20, "is_admin": True})
    body = assert_error(r, 400, "validation_failed")
    assert "is_admin" in body["fields"]


def test_payload_too_large_before_unknown_route(server):
    """SPEC 12: size limits (413) come while reading, before the route is looked up (404/405)."""
    big = "{" + '"a":"' + "x" * (70 * 1024) + '"}'
    for method, path in [("POST", "/no/such/route"), ("PUT", "/healthz")]:
        r = requests.request(method, server.url + path, data=big, headers={"Content-Type": "application/json"})
        assert_error(r, 413, "payload_too_large")
    raw = raw_request(server.port, b"POST /no/such/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 100000000\r\n\r\n", timeout=3)
    assert status_of(raw) == 413, raw[:200]


def test_payload_too_large(server):
    big = '{"username":"' + "a" * (70 * 1024) + '"}'
    r = requests.post(server.url + "/auth/signup", data=big, headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    check_security_headers(r)
    assert healthy(server)


def test_content_length_too_large_refused_before_body(server):
    raw = raw_request(server.port, b"POST /auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 100000000\r\n\r\n", timeout=3)
    assert status_of(raw) == 413, raw[:200]


def test_chunked_body_limit(server):
    chunk = b"a" * 8192
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(10)) + b"0\r\n\r\n"
    raw = raw_request(server.port, b"POST /auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n" + body, timeout=3)
    assert status_of(raw) == 413, raw[:200]
    assert healthy(server)


def test_header_block_too_large(server):
    raw = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (17 * 1024) + b"\r\n\r\n")
    assert status_of(raw) == 431, raw[:200]
    assert b"X-Content-Type-Options: nosniff" in raw
    assert healthy(server)


def test_smuggling_cl_and_te_refused(server):
    raw = raw_request(server.port, b"POST /auth/signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert status_of(raw) == 400, raw[:200]


def test_smuggling_double_content_length_refused(server):
    raw = raw_request(server.port, b"POST /auth/signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
    assert status_of(raw) == 400, raw[:200]


def test_smuggling_bad_transfer_encoding_refused(server):
    for te in [b"gzip", b"chunked, gzip", b"identity", b" chunked", b"xchunked"]:
        raw = raw_request(server.port, b"POST /auth/signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                       b"Transfer-Encoding: " + te + b"\r\n\r\n0\r\n\r\n")
        assert status_of(raw) in (400, 501), (te, raw[:200])


def test_malformed_content_length(server):
    for cl in [b"-1", b"abc", b"1 2", b"0x10", b"99999999999999999999999"]:
        raw = raw_request(server.port, b"POST /auth/signin HTTP/1.1\r\nHost: x\r\nContent-Length: " + cl + b"\r\n\r\n")
        assert status_of(raw) in (400, 413), (cl, raw[:200])
    assert healthy(server)


def test_bad_http_versions(server):
    for line in [b"GET /healthz HTTP/2.0", b"GET /healthz HTTP/0.9", b"GET /healthz HTTP/1.2", b"GET /healthz FOO/1.1"]:
        raw = raw_request(server.port, line + b"\r\nHost: x\r\n\r\n")
        assert status_of(raw) in (400, 505) or raw == b"", (line, raw[:200])
    assert healthy(server)


def test_garbage_request(server):
    for junk in [b"\x00\x01\x02\x03\r\n\r\n", b"GET\r\n\r\n", b"HELLO WORLD\r\n\r\n", b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"]:
        raw = raw_request(server.port, junk)
        assert raw == b"" or status_of(raw) == 400, (junk, raw[:200])
    assert healthy(server)


def test_pipelined_requests_answered_in_order(server):
    reqs = b"".join(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: p%d\r\n\r\n" % i for i in range(5))
    reqs += b"GET /nope HTTP/1.1\r\nHost: x\r\nX-Request-ID: p5\r\nConnection: close\r\n\r\n"
    raw = raw_request(server.port, reqs)
    ids = [l.split(b": ")[1] for l in raw.split(b"\r\n") if l.lower().startswith(b"x-request-id:")]
    assert ids == [b"p%d" % i for i in range(6)], ids
    assert raw.count(b"HTTP/1.1 200") == 5 and raw.count(b"HTTP/1.1 404") == 1


def _answers(raw):
    """(status, X-Request-ID, body) of each response in a raw keep-alive exchange."""
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        fields = {l.split(b":", 1)[0].lower(): l.split(b":", 1)[1].strip() for l in lines[1:]}
        n = int(fields.get(b"content-length", b"0"))
        out.append((status_of(head), fields.get(b"x-request-id"), rest[:n]))
        raw = rest[n:]
    return out


def full_parser_count(server):
    """http_heads_full_parser_total: request heads read by Beast's parser, not in place."""
    text = requests.get(server.url + "/metrics", timeout=5).text
    return sum(int(float(l.split()[-1])) for l in text.splitlines()
               if l.startswith("http_heads_full_parser_total"))


def test_both_request_readers_answer_alike(server):
    """A complete bodiless head is read in place (http/head.cpp); anything else by Beast's parser
    (a Content-Length, a byte beyond ASCII, a Connection list, a head split over two reads). The
    same authenticated request gets the same answer either way, pipelined in one connection."""
    c = signed_in(server)
    auth = f"Authorization: Bearer {c.access}\r\n".encode()
    full = full_parser_count(server)
    shapes = [
        b"",                                   # ours
        b"Content-Length: 0\r\n",              # Beast: a body length
        b"X-Note: caf\xc3\xa9\r\n",              # Beast: not ASCII
        b"Connection: keep-alive, TE\r\nTE: trailers\r\n",  # Beast: a list
        b"X-Pad:\t \t\r\nx-request-id: second\r\n",  # ours: empty value; the first id is echoed
    ]
    reqs = b"".join(b"GET /personal/me HTTP/1.1\r\nHost: x\r\nX-Request-ID: shape%d\r\n" % i + auth + extra
                    + b"\r\n" for i, extra in enumerate(shapes))
    reqs += b"GET /personal/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-ID: noauth\r\n\r\n"
    got = _answers(raw_request(server.port, reqs))
    assert [(s, i) for s, i, _ in got] == [(200, b"shape%d" % i) for i in range(len(shapes))] + [(401, b"noauth")], got
    bodies = {b for _, _, b in got[:-1]}
    assert len(bodies) == 1 and json.loads(bodies.pop())["username"] == c.username
    if not TLS:  # over TLS the first read is one byte: the first head always goes to Beast
        # Exactly the three shapes meant for Beast went there; the others were read in place.
        assert full_parser_count(server) - full == 3
    # A head that arrives in two pieces (Beast reads on) and one in a single piece (ours, on
    # plain HTTP).
    one = b"GET /personal/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth + b"\r\n"
    for pieces in ([one[:30], one[30:]], [one]):
        before = full_parser_count(server)
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        if TLS:
            s = ssl.create_default_context(cafile=TLS_CERT).wrap_socket(s, server_hostname="127.0.0.1")
        try:
            for p in pieces:
                s.sendall(p)
                time.sleep(0.1)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        finally:
            s.close()
        (status, _, body), = _answers(data)
        assert status == 200 and json.loads(body)["username"] == c.username
        if not TLS:
            # (No request bytes in the message: they hold the token.)
            assert full_parser_count(server) - before == (len(pieces) == 2), f"{len(pieces)} piece(s)"


def test_keep_alive_reuses_connection(server):
    s = requests.Session()
    for _ in range(20):
        assert s.get(server.url + "/healthz").status_code == 200


def test_slow_client_does_not_block_others(server):
    slow = socket.create_connection(("127.0.0.1", server.port))
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHo")  # never finishes its header
    t0 = time.time()
    assert healthy(server)
    assert time.time() - t0 < 2
    slow.close()


def test_http10_supported(server):
    raw = raw_request(server.port, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.0 200") or raw.startswith(b"HTTP/1.1 200"), raw[:100]


def test_head_like_get_without_body(server):
    r = requests.head(server.url + "/healthz")
    assert r.status_code == 200 and r.content == b""


def test_cors_allowed_origin(make_server):
    s = make_server(env={"STRONGROOM_CORS_ORIGINS": "http://app.example:5173"})
    r = requests.get(s.url + "/healthz", headers={"Origin": "http://app.example:5173"})
    assert r.headers["Access-Control-Allow-Origin"] == "http://app.example:5173"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in r.headers.get("Vary", "")
    pre = requests.options(s.url + "/social/links/5", headers={
        "Origin": "http://app.example:5173", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type, X-CSRF-TOKEN"})
    assert pre.status_code in (200, 204)
    methods = [m.strip() for m in pre.headers["Access-Control-Allow-Methods"].split(",")]
    assert "PUT" in methods and "DELETE" in methods and "GET" not in methods
    allow_h = pre.headers["Access-Control-Allow-Headers"].lower()
    for h in ["content-type", "x-csrf-token", "x-request-id", "authorization", "x-vault-token"]:
        assert h in allow_h
    assert pre.headers["Access-Control-Max-Age"] == "3600"
    assert pre.headers["Access-Control-Allow-Origin"] == "http://app.example:5173"


def test_cors_other_origin_gets_nothing(make_server):
    s = make_server(env={"STRONGROOM_CORS_ORIGINS": "http://app.example:5173"})
    for origin in ["http://evil.example", "http://app.example:5173.evil.example", "null", "*"]:
        r = requests.get(s.url + "/healthz", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in r.headers, origin
        assert "Access-Control-Allow-Credentials" not in r.headers
        pre = requests.options(s.url + "/auth/signin", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert "Access-Control-Allow-Origin" not in pre.headers


def test_test_profile_has_no_default_cors(server):
    r = requests.get(server.url + "/healthz", headers={"Origin": "http://localhost:5173"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_metrics_from_loopback(server):
    requests.get(server.url + "/healthz")
    r = requests.get(server.url + "/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE" in r.text
    assert "/healthz" in r.text


def test_metrics_forbidden_outside_allowlist(make_server):
    s = make_server(env={"STRONGROOM_METRICS_ALLOW": "10.1.2.3"})
    r = requests.get(s.url + "/metrics")
    assert_error(r, 403, "forbidden")


def test_server_healthy_after_hostile_barrage(server):
    for junk in [b"\r\n" * 1000, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"]:
        try:
            raw_request(server.port, junk, timeout=2)
        except OSError:
            pass
    assert healthy(server)
