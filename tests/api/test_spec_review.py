"""Review of the API layer against SPEC 2, 4-8 and 12: regressions for the bugs found (each test
names what it guards), plus sweeps of hostile inputs and of the order of checks."""
import base64
import calendar
import hashlib
import hmac
import json
import secrets
import threading
import time

import pytest
import requests

from conftest import (STRONG, Client, Server, assert_error, in_server_second, metric, uname, unlocked, VAULT_PW,
                      wait_for_event, wait_until)



def set_cookies(r):
    return [v for k, v in r.raw.headers.items() if k.lower() == "set-cookie"]


def header_values(r, name):
    return [v for k, v in r.raw.headers.items() if k.lower() == name.lower()]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def resign(token, key, **changes):
    """The token with claims changed, signed again with key (the server's own secret)."""
    h, p, _ = token.split(".")
    claims = json.loads(unb64(p))
    claims.update(changes)
    p2 = b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(key, f"{h}.{p2}".encode(), hashlib.sha256).digest()
    return f"{h}.{p2}.{b64(sig)}"


def rfc3339_to_unix(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def no_internal_errors(server):
    """No request so far logged an internal error or an unavailable dependency. Those lines are
    warn/error level, handed to the logger before their answer is sent; a marker request's access
    line, queued after them, shows they have all been written."""
    rid = "marker-" + secrets.token_hex(6)
    requests.get(server.url + "/healthz", headers={"X-Request-ID": rid})
    wait_for_event(server, "access", rid)
    bad = [e for e in server.log_events() if e.get("event") in ("internal.error", "dependency.unavailable")]
    assert not bad, bad[:3]


# --- rate-limit headers (SPEC 8, 12) -------------------------------------------------------------

def test_signin_sends_one_set_of_ratelimit_headers_most_restrictive(make_server):
    # Bug: signin checks two rows (IP and username) and sent both sets of RateLimit-* headers,
    # contradicting each other ("RateLimit-Remaining: 2" and "RateLimit-Remaining: 4").
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1"})
    for i in range(3):
        r = requests.post(s.url + "/auth/signin", json={"username": uname(), "password": "wrong password here"})
        assert_error(r, 401, "invalid_credentials")
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
            assert len(header_values(r, name)) == 1, (name, r.raw.headers.items())
        # Fresh usernames: the IP bucket is the more restrictive one.
        assert r.headers["RateLimit-Remaining"] == str(4 - i)
        assert r.headers["RateLimit-Limit"] == "5"


# --- refresh (SPEC 4, 12) ------------------------------------------------------------------------

@pytest.fixture
def keyed(make_server):
    key = secrets.token_bytes(32)
    s = make_server(env={"STRONGROOM_JWT_SECRET": key.hex()})
    return s, key


def test_refresh_rejects_partially_numeric_sub(keyed):
    # Bug: refresh() ignored the result of from_chars on `sub`: "12abc" was taken as user 12.
    s, key = keyed
    c = Client(s)
    c.signup()
    c.signin()
    forged = resign(c.refresh, key, sub=f"{c.user_id}abc")
    assert_error(requests.post(s.url + "/auth/refresh", json={"refresh_token": forged}), 401, "unauthorized")
    # The genuine token was not spent by the attempt.
    assert requests.post(s.url + "/auth/refresh", json={"refresh_token": c.refresh}).status_code == 200


def test_refresh_checks_session_owner(keyed):
    # Bug: rotation only matched session id and jti; a refresh token naming another user for this
    # session rotated it and issued tokens for that other user.
    s, key = keyed
    a, b = Client(s), Client(s)
    a.signup()
    a.signin()
    b.signup()
    forged = resign(a.refresh, key, sub=str(b.user_id))
    r = requests.post(s.url + "/auth/refresh", json={"refresh_token": forged})
    assert r.status_code == 401, r.text
    assert r.json()["code"] in ("token_revoked", "unauthorized")
    assert "access_token" not in r.json()


def test_refresh_does_not_revive_an_expired_session(make_server):
    # Bug: rotate_refresh does not look at the session's expiry; within the JWT leeway (30 s) a
    # refresh token outlived its session and the rotation extended the expired session again.
    s = make_server(env={"STRONGROOM_REFRESH_TTL": "2", "STRONGROOM_ACCESS_TTL": "2"})
    c = Client(s)
    c.signup()
    c.signin()
    time.sleep(3.2)
    r = requests.post(s.url + "/auth/refresh", json={"refresh_token": c.refresh})
    assert_error(r, 401, "token_expired")


def test_refresh_reuse_clears_cookies_and_carries_ratelimit_headers(server):
    c = Client(server)
    c.signup()
    c.signin()
    first = c.refresh
    assert requests.post(server.url + "/auth/refresh", json={"refresh_token": first}).status_code == 200
    r = requests.post(server.url + "/auth/refresh", json={"refresh_token": first})
    assert_error(r, 401, "token_reused")
    assert "RateLimit-Limit" in r.headers
    cleared = {v.split("=", 1)[0]: v for v in set_cookies(r)}
    for name in ("access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token", "vault_session"):
        assert "Max-Age=0" in cleared[name], name


# --- a user deleted between authentication and a write ------------------------------------------

# About 0.3 s per hash on ONE worker: the hash pool's queue (FIFO) orders the racing requests, and
# its gauges (/metrics) tell the test when each request has reached it.
SLOW_HASH = {"STRONGROOM_ARGON2_MEMORY_KIB": "65536", "STRONGROOM_ARGON2_PASSES": "4", "STRONGROOM_HASH_WORKERS": "1"}


def two_sessions(s):
    a = Client(s)
    a.signup()
    a.signin()
    b = a.another_session()
    return a, b


def in_background(fn):
    out = {}

    def run():
        try:
            out["r"] = fn()
        except Exception as e:  # surfaces in the test instead of dying with the thread
            out["error"] = repr(e)
    t = threading.Thread(target=run)
    t.start()
    return t, out


def hash_pool_is(s, running, queued):
    wait_until(lambda: metric(s, "strongroom_hash_running") == running and metric(s, "strongroom_hash_queue") == queued,
               f"hash pool running={running} queued={queued}", timeout=10, interval=0.005)


def test_write_after_concurrent_account_deletion_is_401_not_409(make_server):
    # Bug: a write whose user was deleted meanwhile (delete-account on another session) hit the
    # foreign key and answered 409 `conflict`; the session is gone, so it is 401 token_revoked.
    # Order forced through the one hash worker: setup authenticates and hashes (is the vault
    # password the account password?); delete-account authenticates and queues its hash; setup's
    # second hash (the vault key) queues behind it. So the deletion commits while setup's second
    # hash runs, after setup was authenticated and before it inserts.
    s = make_server(env=SLOW_HASH)
    a, b = two_sessions(s)
    setup_t, setup = in_background(lambda: a.post("/vault/setup", {"vault_password": VAULT_PW}))
    hash_pool_is(s, running=1, queued=0)
    delete_t, delete = in_background(lambda: b.post("/auth/delete-account", {"password": STRONG}))
    hash_pool_is(s, running=1, queued=1)
    delete_t.join()
    setup_t.join()
    assert "error" not in delete and "error" not in setup, (delete, setup)
    assert delete["r"].status_code == 200, delete["r"].text
    assert_error(setup["r"], 401, "token_revoked")
    no_internal_errors(s)


def test_signin_racing_account_deletion_is_invalid_credentials(make_server):
    # Bug: signin of a user deleted while its password was being checked failed creating the
    # session (foreign key) and answered 409 `conflict`.
    # Order forced through the one hash worker: delete-account's hash runs; the signin finds the
    # user and queues its hash behind it; the deletion commits while the signin's hash runs.
    s = make_server(env=SLOW_HASH)
    a = Client(s)
    a.signup()
    a.signin()
    delete_t, delete = in_background(lambda: a.post("/auth/delete-account", {"password": STRONG}))
    hash_pool_is(s, running=1, queued=0)
    signin_t, signin = in_background(
        lambda: requests.post(s.url + "/auth/signin", json={"username": a.username, "password": STRONG}))
    hash_pool_is(s, running=1, queued=1)
    delete_t.join()
    signin_t.join()
    assert "error" not in delete and "error" not in signin, (delete, signin)
    assert delete["r"].status_code == 200, delete["r"].text
    assert_error(signin["r"], 401, "invalid_credentials")


# --- vault sliding sessions (SPEC 7, 12) ---------------------------------------------------------

def vault_unlocked_at(c, ttl):
    """The server second of the unlock (expires_at is unlock + ttl until a renewal)."""
    return rfc3339_to_unix(c.get("/vault/status").json()["expires_at"]) - ttl


def test_vault_renewal_only_after_half_the_session(make_server):
    # Bug: (expires - issued) / 2 in integer arithmetic renewed a 3 s session after 1 s (a third).
    # Each request is judged only if it was answered within the server second it was meant for.
    s = make_server(env={"STRONGROOM_VAULT_TTL": "3"})
    c = unlocked(s)
    for attempts_left in reversed(range(3)):
        if attempts_left < 2:  # a fresh vault session for another try
            r = c.post("/vault/unlock-vault", {"vault_password": VAULT_PW})
            assert r.status_code == 200, r.text
            c.vault_token = r.json()["vault_token"]
        issued = vault_unlocked_at(c, 3)
        h = {"X-Vault-Token": c.vault_token}
        r = in_server_second(issued + 1, lambda: c.get("/vault/entries", headers=h), attempts_left)  # a third gone
        if r is None:
            continue
        assert r.status_code == 200
        assert "X-Vault-Token" not in r.headers, "renewed with less than half of the session gone"
        r = in_server_second(issued + 2, lambda: c.get("/vault/entries", headers=h), attempts_left)  # two thirds
        if r is None:
            continue
        assert r.status_code == 200 and r.headers.get("X-Vault-Token")
        assert any(v.startswith("vault_session=") and "Path=/vault" in v and "HttpOnly" in v for v in set_cookies(r))
        # A renewal on an error answer sends the cookie with the header (it used to send the header only).
        h = {"X-Vault-Token": r.headers["X-Vault-Token"]}
        r = in_server_second(issued + 4, lambda: c.get("/vault/entries/999999", headers=h), attempts_left)  # renewed at +2 for 3 s
        if r is None:
            continue
        assert_error(r, 404, "not_found")
        assert r.headers.get("X-Vault-Token")
        assert any(v.startswith("vault_session=") and "Max-Age=" in v and "Max-Age=0" not in v for v in set_cookies(r))
        return


def test_vault_renewal_capped_at_max_ttl(make_server):
    # vault_ttl 2, vault_max_ttl 3: at unlock + 1 the session renews only up to the cap (+3), at +2
    # it is at the cap and does not renew, at +3 it is over whatever token is shown.
    s = make_server(env={"STRONGROOM_VAULT_TTL": "2", "STRONGROOM_VAULT_MAX_TTL": "3"})
    c = unlocked(s)
    for attempts_left in reversed(range(3)):
        if attempts_left < 2:
            r = c.post("/vault/unlock-vault", {"vault_password": VAULT_PW})
            assert r.status_code == 200, r.text
            c.vault_token = r.json()["vault_token"]
        unlocked_at = vault_unlocked_at(c, 2)
        token = c.vault_token
        r = in_server_second(unlocked_at + 1, lambda: c.get("/vault/entries", headers={"X-Vault-Token": token}), attempts_left)
        if r is None:
            continue
        assert r.status_code == 200 and r.headers.get("X-Vault-Token")
        token = r.headers["X-Vault-Token"]
        st = c.get("/vault/status", headers={"X-Vault-Token": token}).json()
        assert rfc3339_to_unix(st["expires_at"]) == unlocked_at + 3  # min(now + 2, cap)
        r = in_server_second(unlocked_at + 2, lambda: c.get("/vault/entries", headers={"X-Vault-Token": token}), attempts_left)
        if r is None:
            continue
        assert r.status_code == 200 and "X-Vault-Token" not in r.headers  # at the cap: no renewal
        r = in_server_second(unlocked_at + 3, lambda: c.get("/vault/entries", headers={"X-Vault-Token": token}), attempts_left)
        if r is None:
            continue
        assert_error(r, 403, "vault_locked")
        return


# --- order of checks (SPEC 12) -------------------------------------------------------------------

BODY_ROUTES = [
    ("POST", "/auth/change-password"), ("POST", "/auth/delete-account"), ("PUT", "/personal/handbook"),
    ("POST", "/social/links"), ("PUT", "/social/links/1"), ("POST", "/vault/setup"),
    ("POST", "/vault/unlock-vault"), ("POST", "/vault/add"), ("PUT", "/vault/entries/1"),
    ("POST", "/vault/change-password"),
]


def test_order_auth_csrf_vault_state_content_type(server):
    c = Client(server)
    c.signup()
    c.signin()
    assert c.post("/vault/setup", {"vault_password": VAULT_PW}).status_code == 201
    needs_unlock = {"/vault/add", "/vault/entries/1", "/vault/change-password"}
    for method, path in BODY_ROUTES:
        text = {"Content-Type": "text/plain"}
        # 401 before anything else (no credentials, wrong content type, bad body).
        r = requests.request(method, server.url + path, data="x", headers=text)
        assert_error(r, 401, "unauthorized")
        # 403 CSRF before 415.
        r = c.s.request(method, c.url(path), data="x", headers=text)
        assert_error(r, 403, "csrf_failed")
        r = c.s.request(method, c.url(path), data="x", headers=dict(text, **{"X-CSRF-TOKEN": c.csrf}))
        if path in needs_unlock:
            assert_error(r, 403, "vault_locked")  # locked is like authentication: before 415
        else:
            assert_error(r, 415, "unsupported_media_type")
        # Valid media type, invalid JSON: 400.
        if path not in needs_unlock:
            r = c.s.request(method, c.url(path), data="{", headers={"Content-Type": "application/json", "X-CSRF-TOKEN": c.csrf})
            assert_error(r, 400, "invalid_json")
    no_internal_errors(server)


# --- cookies with cookie_secure (SPEC 4, 7, 12) --------------------------------------------------

def test_secure_cookie_names_and_attributes(make_server):
    s = make_server(env={"STRONGROOM_COOKIE_SECURE": "true"})
    c = Client(s)
    c.signup()
    r = requests.post(s.url + "/auth/signin", json={"username": c.username, "password": STRONG, "return_tokens": True})
    assert r.status_code == 200
    access = r.json()["access_token"]
    got = {v.split("=", 1)[0]: v for v in set_cookies(r)}
    assert set(got) == {"__Host-access_token_cookie", "__Host-csrf_access_token",
                        "__Secure-refresh_token_cookie", "__Host-csrf_refresh_token"}
    for name, v in got.items():
        assert "; Secure" in v and "Domain=" not in v, v
        assert ("Path=/;" in v) == name.startswith("__Host-"), v
    assert "Strict-Transport-Security" in r.headers
    # A secure cookie authenticates under its prefixed name only.
    csrf = r.json()["csrf_token"]
    cookie = got["__Host-access_token_cookie"].split(";")[0]
    assert requests.get(s.url + "/personal/me", headers={"Cookie": cookie}).status_code == 200
    assert requests.get(s.url + "/personal/me", headers={"Cookie": "access_token_cookie=" + access}).status_code == 401
    bearer = {"Authorization": "Bearer " + access}
    assert requests.post(s.url + "/vault/setup", json={"vault_password": VAULT_PW}, headers=bearer).status_code == 201
    r = requests.post(s.url + "/vault/unlock-vault", json={"vault_password": VAULT_PW}, headers=bearer)
    vc = [v for v in set_cookies(r) if v.startswith("__Secure-vault_session=")]
    assert vc and "Path=/vault" in vc[0] and "HttpOnly" in vc[0] and "Secure" in vc[0] and "SameSite=Strict" in vc[0]
    r = requests.post(s.url + "/auth/logout", headers={"Cookie": cookie, "X-CSRF-TOKEN": csrf})
    assert r.status_code == 200
    cleared = {v.split("=", 1)[0] for v in set_cookies(r) if "Max-Age=0" in v}
    assert cleared == set(got) | {"__Secure-vault_session"}


# --- hostile inputs: clear 4xx, never 500 --------------------------------------------------------

def test_hostile_headers_and_ids_never_500(server):
    c = Client(server)
    c.signup()
    c.signin()
    tok = c.access
    header_sets = [
        {"Authorization": "Bearer"}, {"Authorization": "Bearer "}, {"Authorization": "Bearer  " + tok},
        {"Authorization": "bearer " + tok + "x"}, {"Authorization": "Bearer " + "A" * 9000},
        {"Authorization": "Bearer " + tok.replace(".", "..")}, {"Authorization": "Basic " + tok},
        {"Cookie": "access_token_cookie=" + "A" * 12000}, {"Cookie": ";;;===;;"},
        {"Cookie": 'access_token_cookie=""'}, {"Cookie": "access_token_cookie=" + tok + "; access_token_cookie=x"},
        {"X-Vault-Token": "A" * 12000}, {"X-CSRF-TOKEN": "A" * 12000},
        {"Content-Type": "application/json; charset=" + "x" * 5000},
    ]
    for h in header_sets:
        for method, path in [("GET", "/personal/me"), ("GET", "/vault/entries"), ("POST", "/auth/refresh"),
                             ("DELETE", "/auth/sessions/x")]:
            r = requests.request(method, server.url + path, headers=h, timeout=30)
            assert 400 <= r.status_code < 500 or r.status_code == 200, (h.keys(), path, r.status_code)
            if r.status_code != 200:
                assert r.json()["code"]
    for junk in ["0", "-1", "00", "1e3", "9" * 19, "9223372036854775807", "%20", "1%00", "١"]:
        for method, path in [("PUT", "/social/links/"), ("DELETE", "/social/links/"), ("GET", "/vault/entries/"),
                             ("DELETE", "/auth/sessions/")]:
            r = c.req(method, path + junk, {"platform": "x", "url": "https://x.example"})
            assert r.status_code in (403, 404, 409), (method, path, junk, r.status_code, r.text)
    no_internal_errors(server)
