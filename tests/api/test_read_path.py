"""The authenticated GET path (docs/architecture.md, "One trip per authenticated GET"): the session
row is read together with the route's rows, and nothing read is shown before the session is
checked. Each test revokes a session in a different way and asserts that every GET route answers
401 at once, that the order of SPEC 12 still holds (401 before 404), and that requests with a dead
session never spend the user's own general limit."""
import pytest

from conftest import VAULT_PW, Client, assert_error, unlocked

GET_ROUTES = ["/personal/me", "/personal/handbook", "/social/links", "/vault/status", "/vault/entries",
              "/auth/sessions"]


def _entry(c):
    r = c.post("/vault/add", {"domain": "bank.example", "account_name": "me", "pin_or_password": "s3cret-pin"},
               headers={"X-Vault-Token": c.vault_token})
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.mark.parametrize("how", ["logout", "session_delete", "logout_all"])
def test_every_get_refuses_a_revoked_session_at_once(server, how):
    c = unlocked(server)
    eid = _entry(c)
    assert c.put("/personal/handbook", {"full_name": "Ada"}).status_code == 200
    other = c.another_session()
    routes = GET_ROUTES + [f"/vault/entries/{eid}"]
    for path in routes:  # all good before
        assert c.get(path, headers={"X-Vault-Token": c.vault_token}).status_code == 200, path
    token, sid = c.access, None
    if how == "logout":
        assert c.post("/auth/logout").status_code == 200
    elif how == "session_delete":
        sid = [s for s in c.get("/auth/sessions").json()["sessions"] if s["current"]][0]["id"]
        assert other.delete(f"/auth/sessions/{sid}").status_code == 204
    else:
        assert other.post("/auth/logout-all").status_code == 200
    for path in routes:
        r = c.s.get(c.url(path), headers={"Authorization": f"Bearer {token}", "X-Vault-Token": c.vault_token},
                    timeout=30)
        assert_error(r, 401, "token_revoked")
        assert "s3cret-pin" not in r.text and "bank.example" not in r.text and "Ada" not in r.text


def test_revoked_session_gets_401_before_a_malformed_id_404(server):
    c = unlocked(server)
    token = c.access
    assert_error(c.get("/vault/entries/abc", headers={"X-Vault-Token": c.vault_token}), 404, "not_found")
    assert c.post("/auth/logout").status_code == 200
    for path in ["/vault/entries/abc", "/vault/entries/-1", "/vault/entries/99999999999999999999"]:
        r = c.s.get(c.url(path), headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert_error(r, 401, "token_revoked")


def test_current_session_is_marked_in_the_session_list(server):
    c = Client(server)
    c.signup()
    c.signin()
    other = c.another_session()
    mine = [s for s in c.get("/auth/sessions").json()["sessions"] if s["current"]]
    theirs = [s for s in other.get("/auth/sessions").json()["sessions"] if s["current"]]
    assert len(mine) == 1 and len(theirs) == 1 and mine[0]["id"] != theirs[0]["id"]


def test_dead_session_requests_do_not_spend_the_users_limit(make_server):
    s = make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1", "STRONGROOM_RATE_LIMITS": "authenticated=5/60"})
    c = Client(s)
    c.signup()
    c.signin()
    dead = c.access
    assert c.post("/auth/logout").status_code == 200
    c.signin()  # a new, live session of the same user
    for _ in range(6):
        r = c.s.get(c.url("/personal/me"), headers={"Authorization": f"Bearer {dead}"}, timeout=30)
        assert_error(r, 401, "token_revoked")
    # The user's own bucket (5 a minute, one spent by the logout) is untouched by the six
    # refused requests.
    codes = [c.get("/personal/me", headers=c.bearer()).status_code for _ in range(5)]
    assert codes == [200] * 4 + [429], codes


def test_locked_vault_reads_nothing_out(server):
    c = unlocked(server)
    eid = _entry(c)
    assert c.post("/vault/lock").status_code == 200
    for path in ["/vault/entries", f"/vault/entries/{eid}"]:
        r = c.get(path, headers={"X-Vault-Token": c.vault_token})
        assert_error(r, 403, "vault_locked")
        assert "bank.example" not in r.text and "s3cret-pin" not in r.text
    assert c.get("/vault/status").json()["unlocked"] is False
    # Unlock again: the entry reads back whole.
    r = c.post("/vault/unlock-vault", {"vault_password": VAULT_PW})
    vt = r.json()["vault_token"]
    got = c.get(f"/vault/entries/{eid}", headers={"X-Vault-Token": vt}).json()
    assert got["pin_or_password"] == "s3cret-pin" and got["domain"] == "bank.example"
