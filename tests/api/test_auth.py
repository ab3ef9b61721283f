"""Accounts and sessions (SPEC 4 and 12) on SQLite and PostgreSQL."""
import base64
import re
import json
import sqlite3
import time

import pytest
import requests

from conftest import STRONG, STRONG2, Client, Server, assert_error, timing_alike, uname, wait_for_event


def cookie_headers(r):
    return [v for k, v in r.raw.headers.items() if k.lower() == "set-cookie"]


def parse_set_cookie(v):
    parts = [p.strip() for p in v.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, _, val = p.partition("=")
        attrs[k.lower()] = val
    return name, value, attrs


# --- signup -------------------------------------------------------------------------------------

def test_signup_created(server):
    name = uname()
    r = requests.post(server.url + "/auth/signup", json={"username": name, "email": f"{name}@Example.ORG", "password": STRONG})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["message"] == "User created!" and isinstance(body["user_id"], int)


def test_signup_conflicts_case_insensitive(server):
    c = Client(server)
    c.signup()
    r = requests.post(server.url + "/auth/signup", json={"username": c.username.upper(), "email": "other-" + c.username + "@example.org", "password": STRONG})
    assert_error(r, 409, "conflict")
    r = requests.post(server.url + "/auth/signup", json={"username": uname(), "email": (c.username + "@EXAMPLE.org").upper(), "password": STRONG})
    assert_error(r, 409, "conflict")


@pytest.mark.parametrize("field,value", [
    ("username", "ab"), ("username", "a" * 51), ("username", "bad name"), ("username", "x<script>"),
    ("username", "ünïcode"), ("username", "nul\u0000byte"), ("username", 12345), ("username", None),
    ("email", "no-at-sign"), ("email", "two@@example.org"), ("email", "a@nodot"), ("email", "a@" + "b" * 250 + ".org"),
    ("email", "a b@example.org"), ("email", "x@example.org\r\nBcc: y"),
    ("password", "short"), ("password", "x" * 129), ("password", "password1234"), ("password", "a" * 11),
])
def test_signup_validation(server, field, value):
    body = {"username": uname(), "email": uname() + "@example.org", "password": STRONG}
    body[field] = value
    r = requests.post(server.url + "/auth/signup", json=body)
    err = assert_error(r, 400, "validation_failed")
    assert field in err["fields"], err


def test_password_containing_username_refused(server):
    name = uname("longname")
    r = requests.post(server.url + "/auth/signup", json={"username": name, "email": name + "@example.org", "password": "xx" + name.upper() + "yy!"})
    assert "password" in assert_error(r, 400, "validation_failed")["fields"]


def test_password_length_in_code_points(server):
    ok = "é" * 12  # 12 code points, 24 bytes
    name = uname()
    r = requests.post(server.url + "/auth/signup", json={"username": name, "email": name + "@example.org", "password": ok + "z"})
    assert r.status_code == 201, r.text
    name = uname()
    r = requests.post(server.url + "/auth/signup", json={"username": name, "email": name + "@example.org", "password": "é" * 129})
    assert_error(r, 400, "validation_failed")


def test_signup_reports_all_problems_at_once(server):
    r = requests.post(server.url + "/auth/signup", json={"username": "a", "email": "bad", "password": "x"})
    err = assert_error(r, 400, "validation_failed")
    assert {"username", "email", "password"} <= set(err["fields"])


# --- signin -------------------------------------------------------------------------------------

def test_signin_sets_cookies(server):
    c = Client(server)
    c.signup()
    r = c.signin(return_tokens=False)
    body = r.json()
    assert body["message"] == "Signed in" and body["user_id"] == c.user_id and body["csrf_token"]
    assert "access_token" not in body and "refresh_token" not in body
    cookies = {parse_set_cookie(v)[0]: parse_set_cookie(v) for v in cookie_headers(r)}
    expect = {
        "access_token_cookie": ("/", True, 900),
        "refresh_token_cookie": ("/auth", True, 604800),
        "csrf_access_token": ("/", False, 900),
        "csrf_refresh_token": ("/auth", False, 604800),
    }
    assert set(cookies) == set(expect), cookies.keys()
    for name, (path, http_only, max_age) in expect.items():
        _, value, attrs = cookies[name]
        assert value
        assert attrs["path"] == path, name
        assert ("httponly" in attrs) == http_only, name
        assert attrs["samesite"] == "Strict"
        assert "secure" not in attrs  # plain-HTTP test profile
        assert int(attrs["max-age"]) == max_age
    assert cookies["csrf_access_token"][1] == body["csrf_token"]


def test_signin_with_email_and_tokens(server):
    c = Client(server)
    c.signup()
    r = requests.post(server.url + "/auth/signin", json={"username": f"{c.username}@EXAMPLE.org", "password": STRONG, "return_tokens": True})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["access_token"].count(".") == 2 and b["refresh_token"].count(".") == 2
    header = json.loads(base64.urlsafe_b64decode(b["access_token"].split(".")[0] + "=="))
    assert header["alg"] == "HS256"
    payload = json.loads(base64.urlsafe_b64decode(b["access_token"].split(".")[1] + "==="))
    assert payload["sub"] == str(c.user_id) and payload["type"] == "access"
    assert payload["iss"] == "strongroom" and payload["aud"] == "strongroom"
    assert payload["exp"] - payload["iat"] == 900
    assert len(base64.urlsafe_b64decode(payload["jti"] + "==")) >= 16


def test_signin_failures_indistinguishable(server):
    c = Client(server)
    c.signup()
    r1 = requests.post(server.url + "/auth/signin", json={"username": c.username, "password": "wrong password here"})
    r2 = requests.post(server.url + "/auth/signin", json={"username": uname("ghost"), "password": "wrong password here"})
    b1 = assert_error(r1, 401, "invalid_credentials")
    b2 = assert_error(r2, 401, "invalid_credentials")
    assert b1 == b2
    assert "set-cookie" not in {k.lower() for k in r1.headers}


def test_signin_timing_unknown_vs_wrong(server):
    c = Client(server)
    c.signup()
    s = requests.Session()

    def t(user):
        t0 = time.perf_counter()
        r = s.post(server.url + "/auth/signin", json={"username": user, "password": "not the password!"})
        assert r.status_code == 401
        return time.perf_counter() - t0
    assert timing_alike(lambda: t(c.username), lambda: t(uname("nobody")))


def test_signin_bad_inputs(server):
    for body in [{}, {"username": "x"}, {"password": "x"}, {"username": "x", "password": 5},
                 {"username": ["a"], "password": "x"}, {"username": "x", "password": "y", "return_tokens": "yes"}]:
        r = requests.post(server.url + "/auth/signin", json=body)
        assert_error(r, 400, "validation_failed")


# --- authenticated requests, CSRF, bearer --------------------------------------------------------

def test_me_with_cookie_and_bearer(client):
    r = client.get("/personal/me")
    assert r.status_code == 200, r.text
    assert r.json()["username"] == client.username
    r = requests.get(client.url("/personal/me"), headers=client.bearer())
    assert r.status_code == 200 and r.json()["id"] == client.user_id


def test_unauthenticated(server):
    assert_error(requests.get(server.url + "/personal/me"), 401, "unauthorized")
    assert_error(requests.get(server.url + "/personal/me", headers={"Authorization": "Bearer abc.def.ghi"}), 401, "unauthorized")
    assert_error(requests.get(server.url + "/personal/me", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401, "unauthorized")
    assert_error(requests.get(server.url + "/personal/me", headers={"Cookie": "access_token_cookie=" + "A" * 5000}), 401, "unauthorized")


def test_csrf_required_for_cookie_writes(client):
    r = client.post("/auth/logout", csrf=False)
    assert_error(r, 403, "csrf_failed")
    r = client.post("/auth/logout", csrf=False, headers={"X-CSRF-TOKEN": "forged"})
    assert_error(r, 403, "csrf_failed")
    # The refresh token's csrf is not the access token's.
    refresh_csrf = client.s.cookies.get("csrf_refresh_token")
    r = client.post("/auth/logout", csrf=False, headers={"X-CSRF-TOKEN": refresh_csrf})
    assert_error(r, 403, "csrf_failed")
    assert client.get("/personal/me").status_code == 200  # still signed in


@pytest.mark.parametrize("method,path", [
    ("POST", "/auth/logout-all"), ("DELETE", "/auth/sessions/abc"), ("POST", "/auth/change-password"),
    ("POST", "/auth/delete-account"), ("PUT", "/personal/handbook"), ("POST", "/social/links"),
    ("PUT", "/social/links/1"), ("DELETE", "/social/links/1"), ("POST", "/vault/setup"),
    ("POST", "/vault/unlock-vault"), ("POST", "/vault/lock"), ("POST", "/vault/add"),
    ("PUT", "/vault/entries/1"), ("DELETE", "/vault/entries/1"), ("POST", "/vault/change-password"),
])
def test_csrf_on_every_unsafe_cookie_route(client, method, path):
    r = client.req(method, path, {}, csrf=False)
    assert_error(r, 403, "csrf_failed")


def test_bearer_needs_no_csrf(client):
    r = requests.put(client.url("/personal/handbook"), json={"full_name": "B"}, headers=client.bearer())
    assert r.status_code == 200, r.text


def test_refresh_token_is_not_an_access_token(client):
    r = requests.get(client.url("/personal/me"), headers={"Authorization": f"Bearer {client.refresh}"})
    assert_error(r, 401, "unauthorized")
    r = requests.post(client.url("/auth/refresh"), json={"refresh_token": client.access})
    assert_error(r, 401, "unauthorized")


def test_tampered_tokens(client):
    h, p, s = client.access.split(".")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = json.loads(base64.urlsafe_b64decode(p + "==="))
    payload["sub"] = str(client.user_id + 1)
    p2 = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    hs384 = base64.urlsafe_b64encode(b'{"alg":"HS384","typ":"JWT"}').rstrip(b"=").decode()
    variants = [f"{none_header}.{p}.", f"{none_header}.{p}.{s}", f"{h}.{p2}.{s}", f"{hs384}.{p}.{s}",
                f"{h}.{p}.{s[:-2]}{'AA' if not s.endswith('AA') else 'BA'}", f"{h}.{p}", "", "...", "a.b.c.d"]
    for tok in variants:
        r = requests.get(client.url("/personal/me"), headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 401, f"tampered variant #{variants.index(tok)} accepted"  # no token in output


# --- refresh, rotation, reuse --------------------------------------------------------------------

def test_refresh_by_cookie_rotates(client):
    old_refresh = client.s.cookies.get("refresh_token_cookie", path="/auth")
    r = client.post("/auth/refresh", csrf=False, headers={"X-CSRF-TOKEN": client.s.cookies.get("csrf_refresh_token", path="/auth")})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["message"] == "Token refreshed" and b["user_id"] == client.user_id and b["csrf_token"]
    assert "access_token" not in b
    new_refresh = client.s.cookies.get("refresh_token_cookie", path="/auth")
    assert new_refresh and new_refresh != old_refresh
    client.csrf = b["csrf_token"]
    assert client.get("/personal/me").status_code == 200


def test_refresh_cookie_needs_csrf(client):
    r = client.post("/auth/refresh", csrf=False)
    assert_error(r, 403, "csrf_failed")


def test_refresh_reuse_revokes_session(server):
    c = Client(server)
    c.signup()
    c.signin()
    first = c.refresh
    r = requests.post(server.url + "/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200, r.text
    second_access, second_refresh = r.json()["access_token"], r.json()["refresh_token"]
    assert requests.get(server.url + "/personal/me", headers={"Authorization": f"Bearer {second_access}"}).status_code == 200
    rid = "reuse-" + uname()
    r = requests.post(server.url + "/auth/refresh", json={"refresh_token": first}, headers={"X-Request-ID": rid})  # replay
    assert_error(r, 401, "token_reused")
    # The whole session is gone: the legitimately rotated tokens stop working at once.
    assert_error(requests.get(server.url + "/personal/me", headers={"Authorization": f"Bearer {second_access}"}), 401, "token_revoked")
    assert requests.post(server.url + "/auth/refresh", json={"refresh_token": second_refresh}).status_code == 401
    # The security event, logged by the replay's own request (before its access line).
    wait_for_event(server, "access", rid)
    assert [e for e in server.log_events() if e.get("event") == "auth.token.reuse" and e.get("request_id") == rid]


def test_concurrent_refresh_exactly_one_wins(server):
    """Eight presentations of one refresh token released at once: one rotation, the rest refused."""
    import concurrent.futures
    import threading
    c = Client(server)
    c.signup()
    c.signin()
    gate = threading.Barrier(8)

    def attempt(_):
        s = requests.Session()
        s.get(server.url + "/healthz")  # connect first, so the barrier releases the requests only
        gate.wait(timeout=30)
        return s.post(server.url + "/auth/refresh", json={"refresh_token": c.refresh})
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        answers = list(ex.map(attempt, range(8)))
    codes = [r.status_code for r in answers]
    assert codes.count(200) == 1, codes
    for r in answers:
        if r.status_code != 200:
            assert_error(r, 401, r.json()["code"])
            assert r.json()["code"] in ("token_reused", "token_revoked"), r.text


def test_refresh_garbage(server):
    for body in [{"refresh_token": "x"}, {"refresh_token": ""}, {"refresh_token": "a.b.c"}, {"nope": 1}]:
        r = requests.post(server.url + "/auth/refresh", json=body)
        assert r.status_code in (400, 401), r.text
    assert_error(requests.post(server.url + "/auth/refresh"), 401, "unauthorized")


# --- logout, sessions ----------------------------------------------------------------------------

def test_logout_revokes_immediately_and_clears_cookies(client):
    bearer = client.bearer()
    r = client.post("/auth/logout")
    assert r.status_code == 200, r.text
    cleared = {parse_set_cookie(v)[0]: parse_set_cookie(v)[2] for v in cookie_headers(r)}
    for name in ["access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token"]:
        assert cleared[name]["max-age"] == "0", name
    assert_error(requests.get(client.url("/personal/me"), headers=bearer), 401, "token_revoked")
    assert requests.post(client.url("/auth/refresh"), json={"refresh_token": client.refresh}).status_code == 401


def test_sessions_list_and_delete(server):
    a = Client(server)
    a.signup()
    a.signin()
    b = a.another_session()
    r = a.get("/auth/sessions")
    assert r.status_code == 200
    sessions = r.json()["sessions"]
    assert len(sessions) == 2
    assert sum(1 for s in sessions if s["current"]) == 1
    for s in sessions:
        assert set(s) == {"id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current"}
        assert s["created_at"].endswith("Z") and s["ip"] == "127.0.0.1"
    other = next(s["id"] for s in sessions if not s["current"])
    assert a.delete(f"/auth/sessions/{other}").status_code == 204
    assert_error(b.get("/personal/me"), 401, "token_revoked")
    assert_error(a.delete(f"/auth/sessions/{other}"), 404, "not_found")
    # Another user's session is not found, not forbidden.
    x = Client(server)
    x.signup()
    x.signin()
    mine = next(s["id"] for s in a.get("/auth/sessions").json()["sessions"] if s["current"])
    assert_error(x.delete(f"/auth/sessions/{mine}"), 404, "not_found")
    assert a.get("/personal/me").status_code == 200
    for junk in ["..%2F..", "%00", "a" * 200, "' OR 1=1 --"]:
        r = a.delete(f"/auth/sessions/{junk}")
        assert r.status_code == 404, junk


def test_logout_all(server):
    a = Client(server)
    a.signup()
    a.signin()
    b = a.another_session()
    bearer_a, bearer_b = a.bearer(), b.bearer()
    r = a.post("/auth/logout-all")
    assert r.status_code == 200 and r.json()["revoked"] == 2
    assert_error(requests.get(a.url("/personal/me"), headers=bearer_a), 401, "token_revoked")
    assert_error(requests.get(b.url("/personal/me"), headers=bearer_b), 401, "token_revoked")


# --- change password, delete account -------------------------------------------------------------

def test_change_password(server):
    a = Client(server)
    a.signup()
    a.signin()
    b = a.another_session()
    assert_error(a.post("/auth/change-password", {"current_password": "wrong wrong wrong", "new_password": STRONG2}), 401, "invalid_credentials")
    err = assert_error(a.post("/auth/change-password", {"current_password": STRONG, "new_password": "short"}), 400, "validation_failed")
    assert "new_password" in err["fields"]
    r = a.post("/auth/change-password", {"current_password": STRONG, "new_password": STRONG2})
    assert r.status_code == 200, r.text
    assert a.get("/personal/me").status_code == 200  # this session stays
    assert_error(b.get("/personal/me"), 401, "token_revoked")  # others end
    assert requests.post(server.url + "/auth/signin", json={"username": a.username, "password": STRONG}).status_code == 401
    assert requests.post(server.url + "/auth/signin", json={"username": a.username, "password": STRONG2}).status_code == 200


def test_delete_account(server):
    a = Client(server)
    a.signup()
    a.signin()
    a.put("/personal/handbook", {"full_name": "Gone Soon"})
    a.post("/social/links", {"platform": "x", "url": "https://x.example/me"})
    assert_error(a.post("/auth/delete-account", {"password": "not it at all"}), 401, "invalid_credentials")
    r = a.post("/auth/delete-account", {"password": STRONG})
    assert r.status_code == 200, r.text
    assert_error(requests.get(a.url("/personal/me"), headers=a.bearer()), 401, "token_revoked")
    assert requests.post(server.url + "/auth/signin", json={"username": a.username, "password": STRONG}).status_code == 401
    # The name is free again: every row went with the user.
    r = requests.post(server.url + "/auth/signup", json={"username": a.username, "email": a.username + "@example.org", "password": STRONG})
    assert r.status_code == 201


# --- legacy hashes -------------------------------------------------------------------------------

def test_legacy_werkzeug_hash_verifies_and_is_rehashed(make_server):
    from werkzeug import security as werkzeug  # Debian python3-werkzeug (make deps)
    # The test edits the database from this process while the server runs: shared mode.
    s = make_server(backend="sqlite", env={"STRONGROOM_SQLITE_EXCLUSIVE": "false"})
    c = Client(s)
    c.signup()
    db = sqlite3.connect(s.data_dir + "/strongroom.db")
    legacy = werkzeug.generate_password_hash(STRONG2, method="pbkdf2:sha256:1000")
    db.execute("UPDATE users SET password_hash=? WHERE id=?", (legacy, c.user_id))
    db.commit()
    c.password = STRONG2
    c.signin()
    stored = db.execute("SELECT password_hash FROM users WHERE id=?", (c.user_id,)).fetchone()[0]
    assert stored.startswith("$argon2id$"), stored[:20]
    db.close()
    c2 = c.another_session(STRONG2)


# --- revocation across instances -----------------------------------------------------------------

def test_revocation_across_two_instances(make_server):
    import conftest
    if not conftest.PG_URL:
        pytest.skip("needs PostgreSQL")
    import secrets as _s
    env = {"STRONGROOM_JWT_SECRET": _s.token_urlsafe(32), "STRONGROOM_VAULT_SESSION_KEY": _s.token_urlsafe(32)}
    a = make_server(backend="postgresql", env=env)
    b = make_server(backend="postgresql", env=env)
    c = Client(a)
    c.signup()
    c.signin()
    bearer = c.bearer()
    assert requests.get(b.url + "/personal/me", headers=bearer).status_code == 200
    assert requests.post(a.url + "/auth/logout", headers=bearer).status_code == 200
    assert_error(requests.get(b.url + "/personal/me", headers=bearer), 401, "token_revoked")


def jwt_claims(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))


def sleep_until(t):
    if t > time.time():
        time.sleep(t - time.time())


def test_refresh_never_extends_past_session_max_ttl(make_server):
    """session_max_ttl caps the whole session: a rotation late in the session gets a refresh token
    (and cookie) ending at signin + session_max_ttl, not at now + refresh_ttl; after that the
    session is over although the last refresh token's own exp is still within the JWT leeway."""
    s = make_server(env={"STRONGROOM_REFRESH_TTL": "3", "STRONGROOM_ACCESS_TTL": "2", "STRONGROOM_SESSION_MAX_TTL": "4"})
    c = Client(s)
    c.signup()
    c.signin()
    created = jwt_claims(c.refresh)["iat"]  # server clock, whole seconds
    sleep_until(created + 2.05)  # from here now + refresh_ttl > created + session_max_ttl
    r = requests.post(s.url + "/auth/refresh", json={"refresh_token": c.refresh})
    assert r.status_code == 200, r.text
    claims = jwt_claims(r.json()["refresh_token"])
    assert claims["iat"] >= created + 2
    assert claims["exp"] == created + 4, (claims["iat"], claims["exp"], created)  # uncapped: iat + 3
    cookie = [v for k, v in r.raw.headers.items() if k.lower() == "set-cookie" and v.startswith("refresh_token_cookie=")][0]
    assert int(re.search(r"Max-Age=(\d+)", cookie).group(1)) == claims["exp"] - claims["iat"]
    sleep_until(created + 4.05)  # the session is over; uncapped it would last until iat + 3
    r2 = requests.post(s.url + "/auth/refresh", json={"refresh_token": r.json()["refresh_token"]})
    assert_error(r2, 401, "token_expired")
