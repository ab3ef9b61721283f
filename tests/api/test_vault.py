"""The vault (SPEC 7 and 12): envelope, sealed sessions, entries, ownership, encryption at rest."""
import calendar
import time

import pytest
import requests

from conftest import STRONG, Client, assert_error, in_server_second, unlocked, VAULT_PW

VAULT_PW2 = "and later these other words 5"


def test_status_setup_unlock_lock(client):
    assert client.get("/vault/status").json() == {"initialized": False, "unlocked": False, "expires_at": None}
    for m, p, body in [("POST", "/vault/unlock-vault", {"vault_password": VAULT_PW}), ("POST", "/vault/lock", None),
                       ("GET", "/vault/entries", None), ("GET", "/vault/entries/1", None),
                       ("POST", "/vault/add", {"domain": "d", "account_name": "a", "pin_or_password": "p"})]:
        assert_error(client.req(m, p, body), 409, "vault_not_initialized")
    r = client.post("/vault/setup", {"vault_password": VAULT_PW})
    assert r.status_code == 201, r.text
    assert_error(client.post("/vault/setup", {"vault_password": VAULT_PW}), 409, "conflict")
    assert client.get("/vault/status").json()["unlocked"] is False
    assert_error(client.get("/vault/entries"), 403, "vault_locked")
    assert_error(client.post("/vault/unlock-vault", {"vault_password": "wrong vault password!"}), 401, "invalid_vault_password")
    r = client.post("/vault/unlock-vault", {"vault_password": VAULT_PW})
    assert r.status_code == 200
    b = r.json()
    assert b["message"] == "Vault unlocked" and b["expires_in"] == 300 and b["vault_token"]
    sc = [v for k, v in r.raw.headers.items() if k.lower() == "set-cookie"]
    vc = [v for v in sc if v.startswith("vault_session=")]
    assert vc and "HttpOnly" in vc[0] and "Path=/vault" in vc[0] and "SameSite=Strict" in vc[0]
    st = client.get("/vault/status").json()
    assert st["initialized"] and st["unlocked"] and st["expires_at"].endswith("Z")
    assert client.get("/vault/entries").status_code == 200
    assert client.post("/vault/lock").status_code == 200
    assert client.post("/vault/lock").status_code == 200  # idempotent
    assert_error(client.get("/vault/entries"), 403, "vault_locked")
    # The old token is dead too, not only the cookie.
    assert_error(client.get("/vault/entries", headers={"X-Vault-Token": b["vault_token"]}), 403, "vault_locked")


def test_setup_policy(client):
    err = assert_error(client.post("/vault/setup", {"vault_password": "short"}), 400, "validation_failed")
    assert "vault_password" in err["fields"]
    err = assert_error(client.post("/vault/setup", {"vault_password": STRONG}), 400, "validation_failed")
    assert "differ" in err["fields"]["vault_password"]


def test_entries_crud(server):
    c = unlocked(server)
    entry = {"domain": "bank.example", "account_name": "ada", "pin_or_password": "s3cr3t-PIN", "url": "https://bank.example/login", "notes": "line1\nline2"}
    r = c.post("/vault/add", entry)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert r.json()["message"] == "Entry added"
    lst = c.get("/vault/entries").json()["entries"]
    assert len(lst) == 1 and "pin_or_password" not in lst[0]
    assert lst[0]["domain"] == "bank.example" and lst[0]["notes"] == "line1\nline2"
    got = c.get(f"/vault/entries/{eid}").json()
    for k, v in entry.items():
        assert got[k] == v
    entry2 = dict(entry, pin_or_password="n3w", url=None, notes=None)
    r = c.put(f"/vault/entries/{eid}", entry2)
    assert r.status_code == 200, r.text
    assert r.json()["pin_or_password"] == "n3w" and r.json()["url"] is None
    assert c.delete(f"/vault/entries/{eid}").status_code == 204
    assert_error(c.get(f"/vault/entries/{eid}"), 404, "not_found")


def test_entries_with_bearer_and_vault_token(server):
    c = unlocked(server)
    h = dict(c.bearer(), **{"X-Vault-Token": c.vault_token})
    r = requests.post(c.url("/vault/add"), json={"domain": "d", "account_name": "a", "pin_or_password": "p"}, headers=h)
    assert r.status_code == 201, r.text
    assert requests.get(c.url("/vault/entries"), headers=c.bearer()).status_code == 403  # no vault token


@pytest.mark.parametrize("field,bad", [
    ("domain", ""), ("domain", "d" * 256), ("account_name", ""), ("account_name", "a" * 256),
    ("pin_or_password", ""), ("pin_or_password", "p" * 1025), ("url", "javascript:alert(1)"),
    ("url", "https://u:p@x.example"), ("notes", "n" * 10001), ("notes", "nul\u0000"), ("domain", "new\nline"),
])
def test_entry_validation(server, field, bad):
    c = unlocked(server)
    body = {"domain": "d", "account_name": "a", "pin_or_password": "p"}
    body[field] = bad
    assert field in assert_error(c.post("/vault/add", body), 400, "validation_failed")["fields"]
    assert c.get("/vault/entries").json()["entries"] == []


def test_vault_cross_user_is_404(server):
    a, b = unlocked(server), unlocked(server)
    eid = a.post("/vault/add", {"domain": "d", "account_name": "a", "pin_or_password": "p"}).json()["id"]
    assert_error(b.get(f"/vault/entries/{eid}"), 404, "not_found")
    assert_error(b.put(f"/vault/entries/{eid}", {"domain": "x", "account_name": "y", "pin_or_password": "z"}), 404, "not_found")
    assert_error(b.delete(f"/vault/entries/{eid}"), 404, "not_found")
    # b's vault token is useless with a's session and the reverse.
    r = a.get("/vault/entries", headers={"X-Vault-Token": b.vault_token})
    assert_error(r, 403, "vault_locked")
    assert a.get(f"/vault/entries/{eid}").json()["pin_or_password"] == "p"


def test_change_vault_password(server):
    c = unlocked(server)
    eid = c.post("/vault/add", {"domain": "d", "account_name": "a", "pin_or_password": "keep me"}).json()["id"]
    old_token = c.vault_token
    assert_error(c.post("/vault/change-password", {"current_vault_password": "not the vault pw!", "new_vault_password": VAULT_PW2}), 401, "invalid_vault_password")
    r = c.post("/vault/change-password", {"current_vault_password": VAULT_PW, "new_vault_password": VAULT_PW2})
    assert r.status_code == 200, r.text
    assert_error(c.get("/vault/entries", headers={"X-Vault-Token": old_token}), 403, "vault_locked")
    assert_error(c.post("/vault/unlock-vault", {"vault_password": VAULT_PW}), 401, "invalid_vault_password")
    r = c.post("/vault/unlock-vault", {"vault_password": VAULT_PW2})
    assert r.status_code == 200
    assert c.get(f"/vault/entries/{eid}").json()["pin_or_password"] == "keep me"


def test_logout_ends_vault_session(server):
    c = unlocked(server)
    token = c.vault_token
    bearer = c.bearer()
    assert c.post("/auth/logout").status_code == 200
    c2 = c.another_session()
    assert_error(c2.get("/vault/entries", headers={"X-Vault-Token": token}), 403, "vault_locked")
    assert requests.get(c.url("/vault/entries"), headers=dict(bearer, **{"X-Vault-Token": token})).status_code == 401


def test_vault_token_tampering(server):
    c = unlocked(server)
    t = c.vault_token
    for bad in [t[:-2] + ("AA" if not t.endswith("AA") else "BB"), t[1:], "x", "A" * 2000, t + "A"]:
        assert_error(c.get("/vault/entries", headers={"X-Vault-Token": bad}), 403, "vault_locked")


def test_sliding_renewal(make_server):
    """vault_ttl 4: a request at unlock + 2 renews (new token in X-Vault-Token, until + 6); at
    unlock + 4 the old token is over and the new one still works. Each request is judged only if
    answered within the server second it was meant for."""
    s = make_server(env={"STRONGROOM_VAULT_TTL": "4"})
    c = unlocked(s)
    for attempts_left in reversed(range(3)):
        if attempts_left < 2:
            r = c.post("/vault/unlock-vault", {"vault_password": VAULT_PW})
            assert r.status_code == 200, r.text
            c.vault_token = r.json()["vault_token"]
        st = c.get("/vault/status").json()
        issued = calendar.timegm(time.strptime(st["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - 4
        old = c.vault_token
        r = in_server_second(issued + 2, lambda: c.get("/vault/entries", headers={"X-Vault-Token": old}), attempts_left)
        if r is None:
            continue
        assert r.status_code == 200
        new = r.headers.get("X-Vault-Token")
        assert new and new != old
        r = in_server_second(issued + 4, lambda: c.get("/vault/entries", headers={"X-Vault-Token": old}), attempts_left)
        if r is None:
            continue
        assert_error(r, 403, "vault_locked")
        assert c.get("/vault/entries", headers={"X-Vault-Token": new}).status_code == 200
        return


# Nothing plain at rest (SQLite file, pg_dump): tests/api/test_vault_index.py, with several
# entries, updates and a delete, so that the entries and the list index chunks are both scanned.


def test_unlock_rate_limited(make_server):
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1"})
    c = Client(s)
    c.signup()
    c.signin()
    c.post("/vault/setup", {"vault_password": VAULT_PW})
    codes = []
    for _ in range(4):
        r = c.post("/vault/unlock-vault", {"vault_password": "wrong vault password!"})
        codes.append(r.status_code)
        assert "RateLimit-Limit" in r.headers
    assert codes[:3] == [401, 401, 401] and codes[3] == 429, codes
    assert int(r.headers["Retry-After"]) >= 1
