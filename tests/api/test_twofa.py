"""Two-step sign-in (SPEC 13) against the real binary, on SQLite and PostgreSQL. Codes are computed
by independent implementations: python3-pyotp, and Debian's oathtool for the first one.

Covered: status, set-up (secret, otpauth URI, QR code), confirmation (recovery codes, other
sessions revoked), signin answering mfa_required, the second step (cookie flow and return_tokens),
wrong / malformed / replayed codes, exhausted / expired / spent / forged / voided mfa_tokens, a
token of one user with another user's codes, the per-user brute-force limit, recovery codes (use,
reuse, a new set), turning it off, delete-account needing the code, a wrong password that looks
the same with and without 2FA, and no secret, code or token in the log, the data files or a
pg_dump."""
import base64
import os
import sqlite3
import subprocess
import time

import pyotp
import pytest
import requests

import conftest
from conftest import STRONG, STRONG2, Client, assert_error, timing_alike, uname

STEP = 30


def b32(secret):
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def code_at(secret, offset_steps=0):
    return pyotp.TOTP(secret).at(time.time() + STEP * offset_steps)


def accepted(secret, code):
    return any(code_at(secret, d) == code for d in (-1, 0, 1))


def wrong_code(secret):
    return next(c for c in ("000000", "111111", "222222", "333333", "444444")
                if not any(code_at(secret, d) == c for d in (-2, -1, 0, 1, 2)))


def oathtool(secret):
    return subprocess.run(["oathtool", "--totp", "-b", secret], capture_output=True, text=True,
                          check=True).stdout.strip()


class Enrolled:
    def __init__(self, client, secret, codes, used):
        self.c, self.secret, self.codes, self.used = client, secret, codes, used


def enroll(server, use_oathtool=False):
    """A signed-in client with 2FA on: its secret, recovery codes and the code the confirm spent."""
    c = Client(server)
    c.signup()
    c.signin()
    r = c.post("/auth/2fa/totp/setup", {"password": STRONG})
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    code = oathtool(secret) if use_oathtool else code_at(secret)
    r = c.post("/auth/2fa/totp/confirm", {"code": code})
    assert r.status_code == 200, r.text
    return Enrolled(c, secret, r.json()["recovery_codes"], code)


def signin(server, username, password=STRONG, **extra):
    return requests.post(server.url + "/auth/signin",
                         json={"username": username, "password": password, **extra}, timeout=30)


def first_step(server, username):
    r = signin(server, username)
    assert r.status_code == 200, r.text
    assert r.json()["mfa_required"] is True
    return r.json()["mfa_token"]


def second_step(server, token, code, session=None, **extra):
    return (session or requests).post(server.url + "/auth/signin/2fa",
                                      json={"mfa_token": token, "code": code, **extra}, timeout=30)


def test_status_setup_and_confirm(server):
    c = Client(server)
    c.signup()
    c.signin()
    other = c.another_session()
    assert c.get("/auth/2fa").json() == {"totp_enabled": False, "recovery_codes_left": 0}
    assert_error(c.post("/auth/2fa/totp/setup", {"password": "not the password at all"}), 401,
                 "invalid_credentials")
    assert_error(c.post("/auth/2fa/totp/confirm", {"code": "123456"}), 409, "conflict")

    first = c.post("/auth/2fa/totp/setup", {"password": STRONG}).json()
    r = c.post("/auth/2fa/totp/setup", {"password": STRONG})  # replaces the pending secret
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    secret = body["secret"]
    assert secret != first["secret"]
    assert "=" not in secret and len(b32(secret)) == 20
    assert body["otpauth_uri"] == (f"otpauth://totp/strongroom:{c.username}?secret={secret}"
                                   "&issuer=strongroom&algorithm=SHA1&digits=6&period=30")
    assert body["qr_svg"].startswith("<svg") and secret not in body["qr_svg"]
    assert c.get("/auth/2fa").json()["totp_enabled"] is False

    body = assert_error(c.post("/auth/2fa/totp/confirm", {"code": wrong_code(secret)}), 401, "invalid_code")
    assert wrong_code(secret) not in str(body)
    if not accepted(secret, code_at(first["secret"])):
        assert_error(c.post("/auth/2fa/totp/confirm", {"code": code_at(first["secret"])}), 401, "invalid_code")
    r = c.post("/auth/2fa/totp/confirm", {"code": oathtool(secret)})
    assert r.status_code == 200, r.text
    codes = r.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert c.get("/auth/2fa").json() == {"totp_enabled": True, "recovery_codes_left": 10}
    # Every other session is revoked; this one lives on.
    assert_error(other.get("/personal/me"), 401, "token_revoked")
    assert c.get("/personal/me").status_code == 200

    assert_error(c.post("/auth/2fa/totp/setup", {"password": STRONG}), 409, "conflict")
    assert_error(c.post("/auth/2fa/totp/confirm", {"code": code_at(secret, 1)}), 409, "conflict")


def test_signin_in_two_steps_with_tokens_and_with_cookies(server):
    e = enroll(server, use_oathtool=True)
    r = signin(server, e.c.username, return_tokens=True)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"message", "mfa_required", "mfa_token"}
    assert r.json()["message"] == "Second factor required"
    assert "set-cookie" not in {k.lower() for k in r.headers}
    token = r.json()["mfa_token"]

    assert_error(second_step(server, token, wrong_code(e.secret)), 401, "invalid_code")
    # The code the confirmation spent may not be replayed.
    assert_error(second_step(server, token, e.used), 401, "invalid_code")
    nxt = code_at(e.secret, 1)
    r = second_step(server, token, nxt, return_tokens=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"message", "user_id", "csrf_token", "access_token", "refresh_token"}
    assert body["message"] == "Signed in" and body["user_id"] == e.c.user_id
    assert requests.get(server.url + "/personal/me", timeout=30,
                        headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 200
    # Spent by its first success.
    assert_error(second_step(server, token, nxt), 401, "unauthorized")
    # The same step once more, with a fresh token: refused.
    assert_error(second_step(server, first_step(server, e.c.username), nxt), 401, "invalid_code")

    # The cookie flow, with a recovery code.
    s = requests.Session()
    r = second_step(server, first_step(server, e.c.username), e.codes[0], session=s)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"message", "user_id", "csrf_token"}
    assert {"access_token_cookie", "refresh_token_cookie", "csrf_access_token"} <= set(s.cookies.keys())
    assert s.get(server.url + "/personal/me", timeout=30).status_code == 200


def test_wrong_password_looks_the_same_with_and_without_2fa(server):
    e = enroll(server)
    plain = Client(server)
    plain.signup()
    r1 = signin(server, e.c.username, "wrong password here!")
    r2 = signin(server, plain.username, "wrong password here!")
    assert assert_error(r1, 401, "invalid_credentials") == assert_error(r2, 401, "invalid_credentials")
    assert "set-cookie" not in {k.lower() for k in r1.headers}
    s = requests.Session()

    def t(user):
        t0 = time.perf_counter()
        assert s.post(server.url + "/auth/signin", json={"username": user, "password": "not the password!"},
                      timeout=30).status_code == 401
        return time.perf_counter() - t0
    assert timing_alike(lambda: t(e.c.username), lambda: t(plain.username))


def test_mfa_token_allows_five_attempts(server):
    e = enroll(server)
    token = first_step(server, e.c.username)
    for _ in range(5):
        assert_error(second_step(server, token, wrong_code(e.secret)), 401, "invalid_code")
    assert_error(second_step(server, token, code_at(e.secret, 1)), 401, "unauthorized")


def test_forged_and_malformed_input(server):
    e = enroll(server)
    token = first_step(server, e.c.username)
    for forged in ("x", "A" * 43, token[:-1] + ("A" if token[-1] != "A" else "B"), "../../etc/passwd",
                   "' OR 1=1 --"):
        assert_error(second_step(server, forged, code_at(e.secret, 1)), 401, "unauthorized")
    for bad in ("12345", "1234567", "12 3456", "abcdef", "１２３４５６", "0" * 64, "7KQM-V2XA-9HTD-C4NO"):
        body = assert_error(second_step(server, token, bad), 400, "validation_failed")
        assert "code" in body["fields"] and bad not in str(body)
    for body in ({"mfa_token": token}, {"code": "123456"}, {"mfa_token": token, "code": 123456},
                 {"mfa_token": token, "code": "123456", "user_id": 1},
                 {"mfa_token": token, "code": "123\u0000456"}, {"mfa_token": "x" * 300, "code": "123456"},
                 {"mfa_token": token, "code": "123456", "return_tokens": "yes"}):
        assert_error(requests.post(server.url + "/auth/signin/2fa", json=body, timeout=30), 400,
                     "validation_failed")
    r = requests.post(server.url + "/auth/signin/2fa", data="{", headers={"Content-Type": "application/json"},
                      timeout=30)
    assert_error(r, 400, "invalid_json")
    # None of that spent an attempt: the token still works.
    assert second_step(server, token, code_at(e.secret, 1)).status_code == 200


def test_a_token_takes_only_its_own_users_codes(server):
    a, b = enroll(server), enroll(server)
    token = first_step(server, a.c.username)
    theirs = code_at(b.secret, 1)
    if not accepted(a.secret, theirs):
        assert_error(second_step(server, token, theirs), 401, "invalid_code")
    assert_error(second_step(server, token, b.codes[0]), 401, "invalid_code")
    # b's recovery code was not spent by that.
    assert second_step(server, first_step(server, b.c.username), b.codes[0]).status_code == 200


def test_a_password_change_voids_a_pending_token(server):
    e = enroll(server)
    token = first_step(server, e.c.username)
    r = e.c.post("/auth/change-password", {"current_password": STRONG, "new_password": STRONG2})
    assert r.status_code == 200, r.text
    assert_error(second_step(server, token, code_at(e.secret, 1)), 401, "unauthorized")
    assert_error(signin(server, e.c.username), 401, "invalid_credentials")
    r = signin(server, e.c.username, STRONG2)
    assert r.json()["mfa_required"] is True
    assert second_step(server, r.json()["mfa_token"], code_at(e.secret, 1)).status_code == 200


def test_an_expired_token_is_refused(make_server):
    # The 5 minutes are spent by moving the challenge's expiry into the past, in the database.
    s = make_server(backend="sqlite", env={"STRONGROOM_SQLITE_EXCLUSIVE": "false"})
    e = enroll(s)
    token = first_step(s, e.c.username)
    db = sqlite3.connect(os.path.join(s.data_dir, "strongroom.db"), timeout=10)
    with db:
        rows = db.execute("SELECT created_at, expires_at FROM mfa_challenges").fetchall()
        assert len(rows) == 1 and rows[0][1] - rows[0][0] == 300
        db.execute("UPDATE mfa_challenges SET expires_at = ?", (int(time.time()) - 1,))
    db.close()
    assert_error(second_step(s, token, code_at(e.secret, 1)), 401, "unauthorized")


def test_brute_force_is_limited_per_user(make_server):
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1", "STRONGROOM_RATE_LIMITS":
                         "signin_2fa=3/300,signin=100000/60,signin_user=100000/60,signup=100000/3600,"
                         "sensitive=100000/3600,anonymous=100000/60,authenticated=100000/60"})
    e = enroll(s)
    for _ in range(3):
        assert_error(second_step(s, first_step(s, e.c.username), wrong_code(e.secret)), 401, "invalid_code")
    # A fresh token does not reset the user's counter; the right code waits too.
    r = second_step(s, first_step(s, e.c.username), code_at(e.secret, 1))
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    # Another user is not affected.
    other = enroll(s)
    assert second_step(s, first_step(s, other.c.username), code_at(other.secret, 1)).status_code == 200


def test_recovery_codes_regenerate_and_disable(server):
    e = enroll(server)
    c = e.c
    # Lower case and without hyphens still counts, once.
    typed = e.codes[0].replace("-", "").lower()
    assert second_step(server, first_step(server, c.username), typed).status_code == 200
    assert c.get("/auth/2fa").json() == {"totp_enabled": True, "recovery_codes_left": 9}
    assert_error(second_step(server, first_step(server, c.username), e.codes[0]), 401, "invalid_code")

    assert_error(c.post("/auth/2fa/recovery-codes", {"password": "not the password at all", "code": e.codes[1]}),
                 401, "invalid_credentials")
    assert_error(c.post("/auth/2fa/recovery-codes", {"password": STRONG}), 400, "validation_failed")
    assert_error(c.post("/auth/2fa/recovery-codes", {"password": STRONG, "code": e.codes[0]}), 401, "invalid_code")
    r = c.post("/auth/2fa/recovery-codes", {"password": STRONG, "code": e.codes[1]})
    assert r.status_code == 200, r.text
    fresh = r.json()["recovery_codes"]
    assert len(fresh) == 10 and not set(fresh) & set(e.codes)
    assert c.get("/auth/2fa").json()["recovery_codes_left"] == 10
    assert_error(second_step(server, first_step(server, c.username), e.codes[2]), 401, "invalid_code")

    pending = first_step(server, c.username)
    assert_error(c.post("/auth/2fa/disable", {"password": STRONG, "code": e.codes[3]}), 401, "invalid_code")
    assert_error(c.post("/auth/2fa/disable", {"password": "not the password at all", "code": fresh[0]}),
                 401, "invalid_credentials")
    r = c.post("/auth/2fa/disable", {"password": STRONG, "code": fresh[0]})
    assert r.status_code == 200, r.text
    assert c.get("/auth/2fa").json() == {"totp_enabled": False, "recovery_codes_left": 0}
    assert_error(c.post("/auth/2fa/disable", {"password": STRONG, "code": fresh[1]}), 409, "conflict")
    assert_error(second_step(server, pending, fresh[1]), 401, "unauthorized")
    r = signin(server, c.username)
    assert r.status_code == 200 and "mfa_required" not in r.json()


def test_delete_account_needs_the_code(server):
    e = enroll(server)
    c = e.c
    body = assert_error(c.post("/auth/delete-account", {"password": STRONG}), 400, "validation_failed")
    assert "code" in body["fields"]
    assert_error(c.post("/auth/delete-account", {"password": STRONG, "code": wrong_code(e.secret)}), 401,
                 "invalid_code")
    assert_error(c.post("/auth/delete-account", {"password": "not the password at all", "code": e.codes[0]}),
                 401, "invalid_credentials")
    assert c.get("/auth/2fa").json()["recovery_codes_left"] == 10
    r = c.post("/auth/delete-account", {"password": STRONG, "code": e.codes[0]})
    assert r.status_code == 200, r.text
    assert_error(signin(server, c.username), 401, "invalid_credentials")
    # Without 2FA, the password alone still deletes (and a code is not asked for).
    plain = Client(server)
    plain.signup()
    plain.signin()
    assert plain.post("/auth/delete-account", {"password": STRONG}).status_code == 200


def test_routes_need_a_session_and_csrf(server):
    for method, path in (("GET", "/auth/2fa"), ("POST", "/auth/2fa/totp/setup"), ("POST", "/auth/2fa/totp/confirm"),
                         ("POST", "/auth/2fa/disable"), ("POST", "/auth/2fa/recovery-codes")):
        assert_error(requests.request(method, server.url + path, json={}, timeout=30), 401, "unauthorized")
    c = Client(server)
    c.signup()
    c.signin()
    for path, body in (("/auth/2fa/totp/setup", {"password": STRONG}), ("/auth/2fa/totp/confirm", {"code": "123456"}),
                       ("/auth/2fa/disable", {"password": STRONG, "code": "123456"}),
                       ("/auth/2fa/recovery-codes", {"password": STRONG, "code": "123456"})):
        assert_error(c.post(path, body, csrf=False), 403, "csrf_failed")


@pytest.mark.parametrize("backend", conftest.backends())
def test_no_secret_code_or_token_at_rest_or_in_the_log(make_server, backend):
    s = make_server(backend=backend)
    e = enroll(s)
    token = first_step(s, e.c.username)
    assert_error(second_step(s, token, wrong_code(e.secret)), 401, "invalid_code")
    assert second_step(s, token, e.codes[0]).status_code == 200
    regen = e.c.post("/auth/2fa/recovery-codes", {"password": STRONG, "code": e.codes[1]}).json()["recovery_codes"]
    raw = b32(e.secret)
    # (Six-digit codes are left out: any six digits may occur in a log or a database file.)
    needles = [e.secret.encode(), raw, token.encode()]
    needles += [c.encode() for c in e.codes + regen] + [c.replace("-", "").encode() for c in e.codes + regen]
    s.stop()
    log = s.read_log().encode()
    assert b'"event":"auth.2fa.enabled"' in log and b'"event":"auth.2fa.failure"' in log
    assert b'"event":"auth.2fa.recovery_used"' in log and b'"event":"auth.2fa.recovery_regenerated"' in log
    blobs = {"log": log}
    for name in os.listdir(s.data_dir):
        with open(os.path.join(s.data_dir, name), "rb") as f:
            blobs[name] = f.read()
    if backend == "postgresql":
        blobs["pg_dump"] = subprocess.run(["pg_dump", "--data-only", conftest.PG_URL], capture_output=True,
                                          check=True).stdout
    found = [f"needle #{i} in {where}" for where, blob in blobs.items() for i, n in enumerate(needles) if n in blob]
    assert not found, found
