"""Issue 14, items 3, 4, 6 and 7 (SPEC 14): each attack of the review, reproduced against the real
server, now failing. docs/SECURITY.md has a row for each."""
import http.client
import json
import threading

import requests

from conftest import STRONG, VAULT_PW, Client, assert_error, raw_request, signed_in, unlocked


def call(server, method, path, body=None, source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    out = (r.status, {k: v for k, v in r.getheaders()}, r.read())
    conn.close()
    return out


# --- item 3: the account password cannot become the vault password ---------------------------------

def test_change_password_refuses_the_vault_password(server):
    c = unlocked(server)
    # Without the current password: 401, as for any other new password (no vault-password oracle).
    r = c.post("/auth/change-password", {"current_password": "not the password at all", "new_password": VAULT_PW})
    assert_error(r, 401, "invalid_credentials")
    r = c.post("/auth/change-password", {"current_password": c.password, "new_password": VAULT_PW})
    body = assert_error(r, 400, "validation_failed")
    assert set(body["fields"]) == {"new_password"} and "vault password" in body["fields"]["new_password"]
    assert VAULT_PW not in r.text
    # Nothing changed: the old password still signs in, the vault still opens.
    c.signin()
    assert c.post("/vault/unlock-vault", {"vault_password": VAULT_PW}).status_code == 200
    # Any other new password is taken.
    r = c.post("/auth/change-password", {"current_password": c.password, "new_password": VAULT_PW + " but more"})
    assert r.status_code == 200, r.text


def test_change_password_without_a_vault_is_unaffected(server):
    c = signed_in(server)
    r = c.post("/auth/change-password", {"current_password": c.password, "new_password": VAULT_PW})
    assert r.status_code == 200, r.text


# --- item 4: vault setup is no account-password oracle --------------------------------------------

def test_vault_setup_is_limited_before_any_password_comparison(make_server):
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1"})
    c = signed_in(s)
    for i in range(5):  # the account password, guessed right: 400 while within the limit
        r = c.post("/vault/setup", {"vault_password": c.password})
        assert_error(r, 400, "validation_failed")
        assert r.headers["RateLimit-Limit"] == "5" and r.headers["RateLimit-Remaining"] == str(4 - i)
    # The sixth is refused before the comparison: the right guess answers as any other would.
    for guess in (c.password, "a wrong guess of the password"):
        r = c.post("/vault/setup", {"vault_password": guess})
        assert_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
    assert c.get("/vault/status").json()["initialized"] is False
    # Its own bucket: the other password routes of the user are not spent by it.
    r = c.post("/auth/change-password", {"current_password": "not the password!", "new_password": "a fresh long passphrase 9"})
    assert_error(r, 401, "invalid_credentials")


def test_concurrent_setups_exactly_one_wins(server):
    c = signed_in(server)
    passwords = [f"vault words number {i} of many" for i in range(8)]
    results = [None] * len(passwords)
    barrier = threading.Barrier(len(passwords))

    def setup(i):
        s = requests.Session()
        s.cookies.update(c.s.cookies)
        barrier.wait()
        results[i] = s.post(c.url("/vault/setup"), json={"vault_password": passwords[i]},
                            headers={"X-CSRF-TOKEN": c.csrf}, timeout=60)

    threads = [threading.Thread(target=setup, args=(i,)) for i in range(len(passwords))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = [r.status_code for r in results]
    assert sorted(codes) == [201] + [409] * (len(passwords) - 1), [r.text for r in results]
    for r in results:
        if r.status_code == 409:
            assert_error(r, 409, "conflict")
    winner = passwords[codes.index(201)]
    # The stored vault is the winner's, whole: it opens with that password and no other.
    for pw in passwords:
        r = c.post("/vault/unlock-vault", {"vault_password": pw})
        assert r.status_code == (200 if pw == winner else 401), (pw == winner, r.text)


# --- item 6: signin's headers show only the per-IP counter -----------------------------------------

def test_signin_ratelimit_headers_do_not_link_email_and_username(make_server):
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1"})
    victim = Client(s)
    victim.signup()
    email = f"{victim.username}@example.org"
    # The attacker tries the username three times from one address...
    for i in range(3):
        status, h, _ = call(s, "POST", "/auth/signin", {"username": victim.username, "password": "wrong password here"},
                            source="127.0.8.1")
        assert status == 401 and h["RateLimit-Remaining"] == str(4 - i)
    # ...then the email from another: the headers are that address's own counter (4 left), not the
    # account's (1 left), which would tell that the email is that username's.
    status, h, _ = call(s, "POST", "/auth/signin", {"username": email, "password": "wrong password here"},
                        source="127.0.8.2")
    assert status == 401 and h["RateLimit-Limit"] == "5" and h["RateLimit-Remaining"] == "4", h
    # The account counter is still enforced: one more, then 429 from fresh addresses; the 429's
    # headers are still the address's.
    status, h, _ = call(s, "POST", "/auth/signin", {"username": email, "password": "wrong password here"},
                        source="127.0.8.3")
    assert status == 401 and h["RateLimit-Remaining"] == "4", h
    status, h, body = call(s, "POST", "/auth/signin", {"username": victim.username, "password": STRONG},
                           source="127.0.8.4")
    assert status == 429 and json.loads(body)["code"] == "rate_limited"
    assert h["RateLimit-Remaining"] == "4" and int(h["Retry-After"]) >= 1, h


# --- item 7: a credential cookie sent twice -------------------------------------------------------

def cookie_get(server, path, cookie, extra=None):
    return requests.get(server.url + path, headers={"Cookie": cookie, **(extra or {})}, timeout=10)


def test_a_credential_cookie_twice_is_401(server):
    victim, attacker = signed_in(server), signed_in(server)
    jar = {k.name: k.value for k in victim.s.cookies}
    mine = {k.name: k.value for k in attacker.s.cookies}
    # The attack: the attacker's access cookie tossed in first (from a sibling subdomain): once the
    # first copy won and the victim worked in the attacker's account.
    for cookies in (f"access_token_cookie={mine['access_token_cookie']}; access_token_cookie={jar['access_token_cookie']}",
                    f"access_token_cookie={jar['access_token_cookie']}; access_token_cookie={jar['access_token_cookie']}"):
        r = cookie_get(server, "/personal/me", cookies)
        body = assert_error(r, 401, "unauthorized")
        assert attacker.username not in r.text and victim.username not in r.text and body["error"]
    # Each credential name, on the route that reads it and on others; the lone cookie still works.
    assert cookie_get(server, "/personal/me", f"access_token_cookie={jar['access_token_cookie']}").status_code == 200
    for name in ("refresh_token_cookie", "csrf_refresh_token", "csrf_access_token"):
        twice = f"access_token_cookie={jar['access_token_cookie']}; {name}=a; {name}=b"
        assert_error(cookie_get(server, "/personal/me", twice), 401, "unauthorized")
    r = requests.post(server.url + "/auth/refresh", timeout=10, headers={
        "Cookie": f"refresh_token_cookie={mine['refresh_token_cookie']}; refresh_token_cookie={jar['refresh_token_cookie']}",
        "X-CSRF-TOKEN": jar["csrf_refresh_token"]})
    assert_error(r, 401, "unauthorized")
    r = cookie_get(server, "/auth/csrf", f"refresh_token_cookie={jar['refresh_token_cookie']}; refresh_token_cookie=x")
    assert_error(r, 401, "unauthorized")
    # Even with a Bearer token, and even on an anonymous route.
    r = cookie_get(server, "/personal/me", "csrf_access_token=a; csrf_access_token=b", victim.bearer())
    assert_error(r, 401, "unauthorized")
    r = requests.post(server.url + "/auth/signin", json={"username": victim.username, "password": STRONG},
                      headers={"Cookie": "refresh_token_cookie=a; refresh_token_cookie=b"}, timeout=10)
    assert_error(r, 401, "unauthorized")
    # Other cookies may repeat, and the victim's session was not harmed by any of this.
    assert cookie_get(server, "/personal/me", f"theme=a; theme=b; access_token_cookie={jar['access_token_cookie']}").status_code == 200
    assert victim.get("/personal/me").json()["username"] == victim.username


def test_the_vault_cookie_twice_is_401(server):
    c = unlocked(server)
    jar = {k.name: k.value for k in c.s.cookies}
    vault = jar["vault_session"]
    r = requests.get(server.url + "/vault/entries", timeout=10, headers={
        "Cookie": f"access_token_cookie={jar['access_token_cookie']}; vault_session={vault}; vault_session={vault}"})
    assert_error(r, 401, "unauthorized")
    r = requests.get(server.url + "/vault/entries", timeout=10, headers={
        "Cookie": f"access_token_cookie={jar['access_token_cookie']}; vault_session={vault}"})
    assert r.status_code == 200, r.text


def test_a_credential_cookie_split_over_two_cookie_lines_is_401(server):
    c = signed_in(server)
    token = next(k.value for k in c.s.cookies if k.name == "access_token_cookie")
    other = signed_in(server)
    theirs = next(k.value for k in other.s.cookies if k.name == "access_token_cookie")
    req = (f"GET /personal/me HTTP/1.1\r\nHost: x\r\nCookie: access_token_cookie={theirs}\r\n"
           f"Cookie: access_token_cookie={token}\r\nConnection: close\r\n\r\n").encode()
    out = raw_request(server.port, req).decode()
    assert out.startswith("HTTP/1.1 401"), out[:200]
    assert '"code":"unauthorized"' in out.replace(" ", "")
    # Two lines, each name once: one list, accepted.
    req = (f"GET /personal/me HTTP/1.1\r\nHost: x\r\nCookie: theme=dark\r\n"
           f"Cookie: access_token_cookie={token}\r\nConnection: close\r\n\r\n").encode()
    out = raw_request(server.port, req).decode()
    assert out.startswith("HTTP/1.1 200"), out[:200]
    assert c.username in out
