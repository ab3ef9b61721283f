"""GET /auth/csrf (docs/api.md): the refresh token's CSRF value, for pages that cannot read the
csrf_refresh_token cookie (Path /auth, SPEC 4). The refresh cookie is the only credential it takes,
checked as POST /auth/refresh checks it."""
import base64
import json
import secrets

from conftest import Client, assert_error, signed_in, wait_for_event


def refresh_cookie(c):
    return next(k for k in c.s.cookies if k.name == "refresh_token_cookie")


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_refresh_cookie_gets_its_csrf_claim_which_refreshes(server):
    c = signed_in(server)
    jar = {k.name: k for k in c.s.cookies}
    assert jar["csrf_refresh_token"].path == "/auth", "SPEC 4: the cookie keeps Path /auth"
    r = c.get("/auth/csrf")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert set(body) == {"csrf_token"}
    assert body["csrf_token"] == claims(c.refresh)["csrf"] == jar["csrf_refresh_token"].value
    assert body["csrf_token"] != c.csrf, "the refresh token's value, not the access token's"
    # Asking spends nothing: asked again, the same; and the value refreshes by cookie.
    assert c.get("/auth/csrf").json() == body
    r = c.s.post(c.url("/auth/refresh"), headers={"X-CSRF-TOKEN": body["csrf_token"]}, timeout=10)
    assert r.status_code == 200, r.text
    # After the rotation: the new token's value.
    new = c.get("/auth/csrf").json()["csrf_token"]
    assert new != body["csrf_token"]
    assert new == next(k for k in c.s.cookies if k.name == "csrf_refresh_token").value


def test_no_refresh_cookie_is_401(server):
    c = signed_in(server)
    jar = c.s.cookies
    plain = Client(server)
    assert_error(plain.get("/auth/csrf"), 401, "unauthorized")
    # Every other cookie of the session, but not the refresh token: still 401.
    others = "; ".join(f"{k.name}={k.value}" for k in jar if k.name != "refresh_token_cookie")
    r = plain.s.get(c.url("/auth/csrf"), headers={"Cookie": others}, timeout=10)
    assert_error(r, 401, "unauthorized")
    r = plain.s.get(c.url("/auth/csrf"), headers={"Cookie": "refresh_token_cookie="}, timeout=10)
    assert_error(r, 401, "unauthorized")


def test_a_tampered_or_foreign_token_is_401(server):
    c = signed_in(server)
    token = c.refresh
    head, payload, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    body = claims(token)
    body["sub"] = str(int(body["sub"]) + 1)
    forged_payload = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    for bad in (f"{head}.{payload}.{flipped}", f"{head}.{forged_payload}.{sig}", "x" * 40,
                secrets.token_urlsafe(300)):
        r = Client(server).s.get(c.url("/auth/csrf"), headers={"Cookie": f"refresh_token_cookie={bad}"},
                                 timeout=10)
        body = assert_error(r, 401, "unauthorized")
        assert bad not in r.text and body["error"]
    # The genuine one still works: none of that touched the session.
    assert c.get("/auth/csrf").status_code == 200


def test_an_access_token_is_not_taken_for_the_refresh_cookie(server):
    c = signed_in(server)
    plain = Client(server)
    # As a Bearer token: no refresh cookie, so 401.
    r = plain.s.get(c.url("/auth/csrf"), headers={"Authorization": f"Bearer {c.access}"}, timeout=10)
    assert_error(r, 401, "unauthorized")
    assert "csrf_token" not in r.text
    # Nor with the access cookie, nor the access token put in the refresh cookie's place.
    r = plain.s.get(c.url("/auth/csrf"), headers={"Cookie": f"access_token_cookie={c.access}"}, timeout=10)
    assert_error(r, 401, "unauthorized")
    r = plain.s.get(c.url("/auth/csrf"), headers={"Cookie": f"refresh_token_cookie={c.access}"}, timeout=10)
    assert_error(r, 401, "unauthorized")
    # And a Bearer access token next to the real refresh cookie changes nothing: the cookie decides.
    r = c.get("/auth/csrf", headers={"Authorization": f"Bearer {c.access}"})
    assert r.status_code == 200 and r.json()["csrf_token"] == claims(c.refresh)["csrf"]


def test_a_revoked_session_is_401_token_revoked(server):
    c = signed_in(server)
    other = c.another_session()
    assert other.post("/auth/logout-all").status_code == 200
    assert_error(c.get("/auth/csrf"), 401, "token_revoked")

    c = signed_in(server)
    assert c.post("/auth/logout").status_code == 200
    # Logout cleared the cookies; the browser that kept a copy of the refresh token still gets 401.
    r = Client(server).s.get(c.url("/auth/csrf"), headers={"Cookie": f"refresh_token_cookie={c.refresh}"},
                             timeout=10)
    assert_error(r, 401, "token_revoked")


def test_a_rotated_token_is_reuse_and_ends_the_session(server):
    c = signed_in(server)
    old = c.refresh
    r = c.s.post(c.url("/auth/refresh"), json={"refresh_token": old}, timeout=10)
    assert r.status_code == 200, r.text
    new = r.json()["refresh_token"]
    thief = Client(server)
    rid = "csrf-reuse-" + secrets.token_hex(4)
    r = thief.s.get(c.url("/auth/csrf"), timeout=10,
                    headers={"Cookie": f"refresh_token_cookie={old}", "X-Request-ID": rid})
    body = assert_error(r, 401, "token_reused")
    assert "csrf_token" not in body and claims(old)["csrf"] not in r.text
    event = wait_for_event(server, "auth.token.reuse", rid)
    assert event["user_id"] == c.user_id
    # The whole session is over, for the current token too.
    r = Client(server).s.get(c.url("/auth/csrf"), headers={"Cookie": f"refresh_token_cookie={new}"}, timeout=10)
    assert_error(r, 401, "token_revoked")
    r = c.s.post(c.url("/auth/refresh"), json={"refresh_token": new}, timeout=10)
    assert_error(r, 401, "token_revoked")


def test_only_get(server):
    c = signed_in(server)
    for method in ("POST", "PUT", "DELETE"):
        r = c.s.request(method, c.url("/auth/csrf"), timeout=10)
        assert_error(r, 405, "method_not_allowed")
