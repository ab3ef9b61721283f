"""Vault list pages, the vault size bound, and /metrics behind a proxy (SPEC 14; issue 14 items 1, 5).

Pages: GET /vault/entries?limit=N&after=ID walks every entry exactly once, in id order, whatever
happens between two pages; every hostile query is a 400 validation_failed, never a 500.
Size bound: vault_max_bytes counts each entry as its JSON rendering -- the compact JSON object of
the fields it was given -- and refuses (409 conflict) the add or update that would pass it, even
when many adds race.
"""
import json
import threading

import pytest
import requests

from conftest import Server, assert_error, backends, raw_request, unlocked

MIN_BOUND = 65536  # the smallest vault_max_bytes the configuration accepts


def entry(tag, notes=""):
    return {"domain": f"{tag}.example", "account_name": f"acct-{tag}", "pin_or_password": f"pw-{tag}",
            "url": f"https://{tag}.example/", "notes": notes}


def rendering(fields):
    """What SPEC 14 counts: the entry's JSON rendering (plain ASCII here, so no escapes)."""
    return len(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode())


def add(c, fields):
    return c.post("/vault/add", fields)


def add_ok(c, fields):
    r = add(c, fields)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def walk(c, limit, between=None):
    """Every page from the start; between(page_number, body) runs before the next page."""
    ids, after, pages = [], None, 0
    while True:
        q = f"?limit={limit}" + (f"&after={after}" if after is not None else "")
        r = c.get("/vault/entries" + q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"entries", "next_after"}
        assert len(body["entries"]) <= limit
        ids += [e["id"] for e in body["entries"]]
        pages += 1
        assert pages < 1000
        if body["next_after"] is None:
            return ids
        assert body["next_after"] == body["entries"][-1]["id"]
        if between:
            between(pages, body)
        after = body["next_after"]


# --- pages -------------------------------------------------------------------------------------

def test_pages_cover_every_entry_once_in_order(server):
    c = unlocked(server)
    ids = [add_ok(c, entry(f"e{i}", "n" * i)) for i in range(25)]
    whole = c.get("/vault/entries").json()
    assert set(whole) == {"entries"}  # without limit: the whole list, as in SPEC 7
    assert [e["id"] for e in whole["entries"]] == ids
    for limit in (1, 7, 24, 25, 26, 500):
        assert walk(c, limit) == ids, limit
    # The pages show exactly what the whole list shows, item by item.
    first = c.get("/vault/entries?limit=3").json()
    assert first["entries"] == whole["entries"][:3] and first["next_after"] == ids[2]
    assert all("pin_or_password" not in e for e in first["entries"])
    # after alone: the rest of the list; after the last id: nothing more.
    rest = c.get(f"/vault/entries?after={ids[20]}").json()
    assert [e["id"] for e in rest["entries"]] == ids[21:] and rest["next_after"] is None
    assert c.get(f"/vault/entries?limit=5&after={ids[-1]}").json() == {"entries": [], "next_after": None}
    assert c.get("/vault/entries?after=0&limit=500").json()["entries"] == whole["entries"]


def test_large_entries_make_shorter_pages_of_bounded_size(server):
    """A page also ends once its body holds 1 MiB (docs/api.md): fewer than limit items, next_after set."""
    c = unlocked(server)
    ids = [add_ok(c, entry(f"big{i}", "n" * 10000)) for i in range(130)]
    seen, after, short = [], None, 0
    while True:
        r = c.get("/vault/entries?limit=500" + (f"&after={after}" if after is not None else ""))
        assert r.status_code == 200
        assert len(r.content) <= (1 << 20) + 11000
        body = r.json()
        seen += [e["id"] for e in body["entries"]]
        if body["next_after"] is None:
            break
        short += len(body["entries"]) < 500
        after = body["next_after"]
    assert seen == ids and short >= 1


def chunked_body(raw):
    """The body of a raw HTTP/1.1 chunked answer, checked chunk by chunk down to its last chunk."""
    body, rest = b"", raw
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            assert rest == b"\r\n", "the body ends with the last chunk and nothing after it"
            return body
        assert rest[size:size + 2] == b"\r\n"
        body, rest = body + rest[:size], rest[size + 2:]


def test_a_whole_list_larger_than_one_read_is_sent_in_chunks(server):
    """SPEC 14: a large list is streamed -- read and opened a part at a time while it is sent -- and
    arrives whole and in order on HTTP/1.1 (chunked), HTTP/1.0 (ended by the close) and as HEAD."""
    c = unlocked(server)
    first = add_ok(c, entry("small"))
    r = c.get("/vault/entries")
    assert r.headers.get("Content-Length") == str(len(r.content)) and "Transfer-Encoding" not in r.headers
    ids = [first] + [add_ok(c, entry(f"big{i}", "n" * 10000)) for i in range(140)]
    r = c.get("/vault/entries")
    assert r.status_code == 200
    assert r.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in r.headers
    whole = r.json()
    assert set(whole) == {"entries"} and [e["id"] for e in whole["entries"]] == ids
    assert all("pin_or_password" not in e for e in whole["entries"])
    # The pages show the same items.
    assert c.get("/vault/entries?limit=2").json()["entries"] == whole["entries"][:2]

    auth = (f"Authorization: Bearer {c.access}\r\nX-Vault-Token: {c.vault_token}\r\n"
            "Host: 127.0.0.1\r\n").encode()
    raw = raw_request(server.port, b"GET /vault/entries HTTP/1.1\r\n" + auth + b"Connection: close\r\n\r\n",
                      timeout=30)
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head
    assert json.loads(chunked_body(rest)) == whole

    raw = raw_request(server.port, b"GET /vault/entries HTTP/1.0\r\n" + auth + b"\r\n", timeout=30)
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200")
    assert b"Transfer-Encoding" not in head and b"Content-Length" not in head  # ended by the close
    assert json.loads(rest) == whole

    raw = raw_request(server.port, b"HEAD /vault/entries HTTP/1.1\r\n" + auth + b"Connection: close\r\n\r\n",
                      timeout=30)
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and rest == b""


def test_empty_vault_page(server):
    c = unlocked(server)
    assert c.get("/vault/entries?limit=10").json() == {"entries": [], "next_after": None}


def test_inserts_between_pages_are_neither_lost_nor_repeated(server):
    c = unlocked(server)
    ids = [add_ok(c, entry(f"e{i}")) for i in range(12)]
    added = []

    def insert(page, body):
        added.append(add_ok(c, entry(f"late{page}")))

    seen = walk(c, 5, between=insert)
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    assert seen == ids + added  # new entries have higher ids: the walk reaches each of them once


def test_a_deleted_cursor_entry_still_continues(server):
    c = unlocked(server)
    ids = [add_ok(c, entry(f"e{i}")) for i in range(6)]
    body = c.get("/vault/entries?limit=2").json()
    assert body["next_after"] == ids[1]
    assert c.delete(f"/vault/entries/{ids[1]}").status_code == 204
    nxt = c.get(f"/vault/entries?limit=2&after={ids[1]}").json()
    assert [e["id"] for e in nxt["entries"]] == ids[2:4] and nxt["next_after"] == ids[3]


def test_another_users_ids_show_nothing_of_theirs(server):
    mine, theirs = unlocked(server), unlocked(server)
    my_ids = [add_ok(mine, entry(f"m{i}")) for i in range(3)]
    their_ids = [add_ok(theirs, entry(f"t{i}")) for i in range(3)]
    for after in (their_ids[0], their_ids[-1], 0):
        got = [e["id"] for e in mine.get(f"/vault/entries?limit=500&after={after}").json()["entries"]]
        assert got == [i for i in my_ids if i > after]
        assert not set(got) & set(their_ids)


HOSTILE = [
    "limit=0", "limit=-1", "limit=501", "limit=99999999999999999999", "limit=" + "9" * 5000, "limit=abc",
    "limit=1e3", "limit=1.0", "limit=", "limit", "limit=%2B5", "limit=+5", "limit=05", "limit=5%00",
    "limit= 5", "limit=5&limit=5", "limit=5&limit=6", "after=-1", "after=abc", "after=", "after=1&after=2",
    "after=" + "1" * 19, "after=0x10", "foo=1", "limit=5&foo=1", "LIMIT=5", "&", "limit=5&", "&limit=5",
    "limit=5&&after=1", "=5", "limit==5", "limit=5;after=1", "limit[]=5", "after=\u0661",
]


@pytest.fixture(scope="module")
def one_vault(server):
    c = unlocked(server)
    add_ok(c, entry("only"))
    return c


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_are_400(one_vault, query):
    r = one_vault.get("/vault/entries?" + query)
    assert_error(r, 400, "validation_failed")
    assert r.json().get("fields"), r.text
    assert "9" * 50 not in r.text and "foo" not in r.text  # the query is not echoed


def test_a_bare_question_mark_is_400(one_vault, server):
    r = raw_request(server.port, (f"GET /vault/entries? HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                  f"Authorization: Bearer {one_vault.access}\r\n"
                                  f"X-Vault-Token: {one_vault.vault_token}\r\n\r\n").encode())
    assert r.startswith(b"HTTP/1.1 400") and b"validation_failed" in r, r[:300]


def test_a_locked_vault_is_refused_before_the_query(server):
    c = unlocked(server)
    assert c.post("/vault/lock").status_code == 200
    assert_error(c.get("/vault/entries?limit=abc"), 403, "vault_locked")
    anonymous = requests.get(server.url + "/vault/entries?limit=5", timeout=10)
    assert anonymous.status_code == 401


# --- the size bound ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bounded():
    servers = {}

    def get(backend):
        if backend not in servers:
            servers[backend] = Server(backend=backend, env={"STRONGROOM_VAULT_MAX_BYTES": str(MIN_BOUND)}).start()
        return servers[backend]
    yield get
    for s in servers.values():
        s.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def bound_server(request, bounded):
    if request.param not in backends():
        pytest.skip("PostgreSQL not configured")
    return bounded(request.param)


def fill_to(c, room):
    """Adds entries until exactly `room` bytes are left; returns (ids, their renderings)."""
    ids, used = [], 0
    while MIN_BOUND - used - room > 10300:
        f = entry(f"f{len(ids)}", "n" * 10000)
        ids.append(add_ok(c, f))
        used += rendering(f)
    last = entry(f"f{len(ids)}")
    last["notes"] = "n" * (MIN_BOUND - used - room - rendering(last))
    ids.append(add_ok(c, last))
    return ids


def test_add_exactly_at_the_bound_and_one_over(bound_server):
    c = unlocked(bound_server)
    fill_to(c, 0 + 500)
    exact = entry("x")
    exact["notes"] = "n" * (500 - rendering(exact))
    over = dict(exact, notes=exact["notes"] + "n")
    assert rendering(over) == 501
    assert_error(add(c, over), 409, "conflict")
    assert add(c, exact).status_code == 201  # exactly at the bound
    tiny = {"domain": "d", "account_name": "a", "pin_or_password": "p"}
    assert_error(add(c, tiny), 409, "conflict")
    before = c.get("/vault/entries").json()["entries"]
    assert all(e["domain"] != "d" for e in before)


def test_update_beyond_the_bound_is_409_and_changes_nothing(bound_server):
    c = unlocked(bound_server)
    ids = fill_to(c, 0)
    last = ids[-1]
    stored = c.get(f"/vault/entries/{last}").json()
    fields = {k: stored[k] for k in ("domain", "account_name", "pin_or_password", "url", "notes")}
    assert_error(c.put(f"/vault/entries/{last}", dict(fields, notes=fields["notes"] + "n")), 409, "conflict")
    assert c.get(f"/vault/entries/{last}").json() == stored
    same = dict(fields, notes="m" * len(fields["notes"]))
    assert c.put(f"/vault/entries/{last}", same).status_code == 200  # the same size: allowed
    shorter = dict(fields, notes=fields["notes"][:-10])
    assert c.put(f"/vault/entries/{last}", shorter).status_code == 200
    assert c.put(f"/vault/entries/{last}", dict(shorter, notes=shorter["notes"] + "n" * 10)).status_code == 200
    assert c.delete(f"/vault/entries/{ids[0]}").status_code == 204  # deleting frees room
    assert add(c, entry("again")).status_code == 201


def test_concurrent_adds_cannot_pass_the_bound(bound_server):
    c = unlocked(bound_server)
    fill_to(c, 2000)
    f = entry("race")
    f["notes"] = "n" * (300 - rendering(f))  # 6 fit in 2000, the 7th does not
    others = [c.another_session() for _ in range(3)]
    for o in others:
        r = o.post("/vault/unlock-vault", {"vault_password": "my vault has its own words 9"})
        assert r.status_code == 200
    clients = [c] + others
    statuses, lock = [], threading.Lock()
    start = threading.Barrier(20)

    def one(i):
        cl = clients[i % len(clients)]
        start.wait()
        r = add(cl, f)
        with lock:
            statuses.append(r.status_code)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(set(statuses)) == [201, 409], statuses
    assert statuses.count(201) == 6
    total = 0
    for e in c.get("/vault/entries").json()["entries"]:
        full = c.get(f"/vault/entries/{e['id']}").json()
        total += rendering({k: full[k] for k in ("domain", "account_name", "pin_or_password", "url", "notes")})
    assert total <= MIN_BOUND


# --- /metrics through a proxy ------------------------------------------------------------------

def test_metrics_through_a_trusted_proxy_for_another_address_is_403(make_server):
    s = make_server(env={"STRONGROOM_TRUSTED_PROXIES": "127.0.0.1"})
    url = s.url + "/metrics"
    assert requests.get(url, timeout=10).status_code == 200  # the host itself
    r = requests.get(url, headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
    assert_error(r, 403, "forbidden")
    r = requests.get(url, headers={"X-Forwarded-For": "127.0.0.1, 198.51.100.7"}, timeout=10)
    assert_error(r, 403, "forbidden")
    # A proxy that forwards for its own address asks for itself.
    assert requests.get(url, headers={"X-Forwarded-For": "127.0.0.1"}, timeout=10).status_code == 200


def test_metrics_xff_from_an_untrusted_peer_is_ignored(make_server):
    s = make_server()
    r = requests.get(s.url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
    assert r.status_code == 200  # the peer is loopback and no proxy is trusted: the header means nothing
