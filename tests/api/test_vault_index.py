"""The vault list index (GET /vault/entries reads sealed chunks of list items, vault/index.hpp):
the list always equals the entries, however they were written, across chunk boundaries, under
concurrent writes, with the index missing, tampered with or its entries tampered with; and no
list field is ever at rest in plain text."""
import json
import os
import random
import sqlite3
import subprocess
import threading
import time

import pytest
import requests

import conftest
from conftest import assert_error, backends, unlocked, VAULT_PW
from vault_format import open_chunk, unwrap_data_key

LIST_KEYS = {"id", "domain", "account_name", "url", "notes", "created_at", "updated_at"}


# --- helpers --------------------------------------------------------------------------------------

def listing(c, **kw):
    r = c.get("/vault/entries", **kw)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    for e in entries:
        assert set(e) == LIST_KEYS, e  # never pin_or_password
    return entries


def expected_from_gets(c, ids):
    """What the list must show: GET /vault/entries/{id} minus pin_or_password, id order."""
    out = []
    for i in sorted(ids):
        r = c.get(f"/vault/entries/{i}")
        assert r.status_code == 200, r.text
        e = r.json()
        assert "pin_or_password" in e
        out.append({k: v for k, v in e.items() if k != "pin_or_password"})
    return out


def assert_list_matches(c, model):
    """The list equals, item for item, the per-id GETs, and both equal what was written."""
    got = listing(c)
    assert [e["id"] for e in got] == sorted(model), "ids differ from the entries written"
    want = expected_from_gets(c, model)
    assert got == want
    for e in got:
        m = model[e["id"]]
        for k in ("domain", "account_name", "url", "notes"):
            assert e[k] == m.get(k), (e["id"], k)
    return got


def add(c, body):
    r = c.post("/vault/add", body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def put(c, eid, body):
    r = c.put(f"/vault/entries/{eid}", body)
    assert r.status_code == 200, r.text
    return r.json()


def delete(c, eid):
    r = c.delete(f"/vault/entries/{eid}")
    assert r.status_code == 204, r.text


def entry(i, notes=None, url=None, tag="e"):
    return {"domain": f"{tag}{i}.example", "account_name": f"acct-{i}", "pin_or_password": f"pin-{i}",
            "url": url, "notes": notes}


def big_notes(i, tag="big"):
    # 4 of these fill a chunk (32 KiB of items), so a few entries make several chunks.
    return (f"{tag}-{i}-" + "n" * 9000)[:9000]


def db_path(s):
    return os.path.join(s.data_dir, "strongroom.db")


def psql(query):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", conftest.PG_URL, "-c", query],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-500:]
    return [line.split("|") for line in out.stdout.splitlines() if line]


def sql(s, query, params=()):
    """Runs SQL on the server's database (SQLite: the file; PostgreSQL: psql). Only integer params."""
    if s.backend == "sqlite":
        db = sqlite3.connect(db_path(s), timeout=10)
        try:
            rows = db.execute(query, params).fetchall()
            db.commit()
            return rows
        finally:
            db.close()
    q = query
    for p in params:
        assert isinstance(p, int)
        q = q.replace("?", str(p), 1)
    return psql(q)


def index_version(s, uid):
    return int(sql(s, "SELECT index_version FROM vault_keys WHERE user_id = ?", (uid,))[0][0])


def chunk_numbers(s, uid):
    return [int(r[0]) for r in sql(s, "SELECT chunk FROM vault_index WHERE user_id = ? ORDER BY chunk", (uid,))]


def get_blob(s, table, where, params):
    if s.backend == "sqlite":
        return sql(s, f"SELECT ciphertext FROM {table} WHERE {where}", params)[0][0]
    q = f"SELECT encode(ciphertext, 'hex') FROM {table} WHERE {where}"
    return bytes.fromhex(sql(s, q, params)[0][0])


def set_blob(s, table, where, params, blob):
    if s.backend == "sqlite":
        sql(s, f"UPDATE {table} SET ciphertext = ? WHERE {where}", (blob, *params))
    else:
        q = f"UPDATE {table} SET ciphertext = decode('{blob.hex()}', 'hex') WHERE {where}"
        sql(s, q, params)


def flip(blob, i):
    b = bytearray(blob)
    b[i] ^= 0x01
    return bytes(b)


def relogin(c):
    """After a restart: a fresh session and an unlocked vault (whatever the server kept)."""
    c.signin()
    r = c.post("/vault/unlock-vault", {"vault_password": VAULT_PW})
    assert r.status_code == 200, r.text
    c.vault_token = r.json()["vault_token"]


def synced_list(s, c):
    """The list, and the server log up to and including this request's access line."""
    rid = "idx-" + os.urandom(6).hex()
    entries = listing(c, headers={"X-Request-ID": rid})
    deadline = time.time() + 5
    while not any(e.get("event") == "access" and e.get("request_id") == rid for e in s.log_events()):
        assert time.time() < deadline, "no access line for the list"
        time.sleep(0.05)
    return entries


def events(s, name, uid=None):
    return [e for e in s.log_events() if e.get("event") == name and (uid is None or e.get("user_id") == uid)]


def editable(make_server, backend):
    """A server whose database the test may edit while it runs (SQLite in shared mode)."""
    env = {"STRONGROOM_SQLITE_EXCLUSIVE": "false"} if backend == "sqlite" else {}
    return make_server(backend=backend, env=env)


# Values that would break a naive index: separators, quotes, escapes, JSON look-alikes, unicode.
NASTY = ["plain", "comma,in,it", 'quote"d', "back\\slash", "both\\\"mixed", '{"id":1},{"id":2}', "],[",
         "\u00e9t\u00e9 \u4e2d\u6587 \U0001f510", "e\u0301 combining", "rtl \u202e override", "line\u2028sep",
         "end\\", ",", "x" * 255]
NOTES = [None, "", "line1\nline2\r\nline3", "tab\there", 'q"uote\\slash\n\\n literal', "\U0001f600" * 50,
         ",{\"id\":999}", "n" * 10000, "del \u007f is fine in notes"]
URLS = [None, "https://example.com/a,b?x=1&y=%22q%22", "http://127.0.0.1:8080/p", "https://EXAMPLE.org"]


def random_body(rng, i):
    return {"domain": f"{rng.choice(NASTY)}-{i}"[:255], "account_name": rng.choice(NASTY),
            "pin_or_password": f"pw-{i}-{rng.random()}", "url": rng.choice(URLS), "notes": rng.choice(NOTES)}


# --- the list equals the entries ------------------------------------------------------------------

def test_random_writes_list_equals_gets(server):
    c = unlocked(server)
    rng = random.Random(20240613)
    model = {}
    assert listing(c) == []
    for step in range(90):
        op = rng.random()
        if op < 0.55 or not model:
            body = random_body(rng, step)
            model[add(c, body)] = body
        elif op < 0.8:
            eid = rng.choice(sorted(model))
            body = random_body(rng, step)
            got = put(c, eid, body)
            assert got["pin_or_password"] == body["pin_or_password"]
            model[eid] = body
        else:
            eid = rng.choice(sorted(model))
            delete(c, eid)
            del model[eid]
            assert_error(c.get(f"/vault/entries/{eid}"), 404, "not_found")
        if step % 15 == 14:
            assert_list_matches(c, model)
    assert_list_matches(c, model)
    # Emptied, then refilled: the list follows.
    for eid in list(model):
        delete(c, eid)
        del model[eid]
    assert listing(c) == []
    eid = add(c, entry(1, notes="after"))
    model[eid] = entry(1, notes="after")
    assert_list_matches(c, model)


def test_many_entries_over_several_chunks(server):
    """Chunks by bytes (big notes: 4 per chunk) and by count (256 per chunk), all listed in order."""
    c = unlocked(server)
    model = {}
    for i in range(10):  # 3 chunks by bytes
        body = entry(i, notes=big_notes(i), tag="b")
        model[add(c, body)] = body
    for i in range(300):  # then 256 in one chunk and the rest in the next
        body = entry(i, tag="s", url="https://s.example/" + str(i) if i % 3 else None)
        model[add(c, body)] = body
    ids = sorted(model)
    got = assert_list_matches(c, model)
    assert len(got) == 310
    # Empty a whole chunk (the second: big entries 5-8), cut at the count boundary, update one
    # entry in every chunk.
    for eid in ids[4:8] + [ids[10 + 255], ids[10 + 256], ids[-1]]:
        delete(c, eid)
        del model[eid]
    for eid in (ids[0], ids[9], ids[10], ids[10 + 254], ids[10 + 257]):
        body = entry(eid, notes=f"updated {eid} \"q\" \\ ,", tag="u")
        put(c, eid, body)
        model[eid] = body
    got = listing(c)
    assert [e["id"] for e in got] == sorted(model)
    for e in got:
        assert e["domain"] == model[e["id"]]["domain"] and e["notes"] == model[e["id"]]["notes"]
    # New entries go after the others.
    body = entry(999, notes="last")
    model[add(c, body)] = body
    assert_list_matches(c, model)


def test_concurrent_writes_then_list_equals_gets(server):
    """Six threads add, update, delete and list one user's entries at once (a second user writes
    beside them); afterwards the list equals the per-id GETs, and no list along the way was
    refused or raised a false alarm."""
    c, other = unlocked(server), unlocked(server)
    seeded = [add(c, entry(i, tag="seed")) for i in range(12)]
    created, lock = list(seeded), threading.Lock()
    other_ids = []
    bad = []

    def session_for(cl):
        s = requests.Session()
        s.headers.update(dict(cl.bearer(), **{"X-Vault-Token": cl.vault_token}))
        return s

    def work(t):
        rng = random.Random(500 + t)
        s = session_for(c)
        mine = list(seeded)
        for i in range(20):
            op = rng.random()
            if op < 0.4:
                r = s.post(c.url("/vault/add"), json=entry(i, notes=f"t{t} n{i}, \"x\"", tag=f"t{t}-"), timeout=30)
                if r.status_code == 201:
                    mine.append(r.json()["id"])
                    with lock:
                        created.append(r.json()["id"])
                else:
                    bad.append(("add", r.status_code, r.text))
            elif op < 0.65:
                eid = rng.choice(mine)
                r = s.put(c.url(f"/vault/entries/{eid}"), json=entry(eid, notes=f"upd t{t} i{i}", tag=f"u{t}-"),
                          timeout=30)
                if r.status_code not in (200, 404):
                    bad.append(("put", r.status_code, r.text))
            elif op < 0.85:
                eid = rng.choice(mine)
                r = s.delete(c.url(f"/vault/entries/{eid}"), timeout=30)
                if r.status_code not in (204, 404):
                    bad.append(("delete", r.status_code, r.text))
            else:
                r = s.get(c.url("/vault/entries"), timeout=30)
                ids = [e["id"] for e in r.json()["entries"]] if r.status_code == 200 else None
                if ids is None or ids != sorted(set(ids)) or (set(ids) & set(other_ids)):
                    bad.append(("list", r.status_code, r.text[:200]))

    def work_other():
        s = session_for(other)
        for i in range(15):
            r = s.post(other.url("/vault/add"), json=entry(i, tag="other-"), timeout=30)
            if r.status_code != 201:
                bad.append(("other add", r.status_code, r.text))
            else:
                other_ids.append(r.json()["id"])
                if i % 3 == 0:
                    s.delete(other.url(f"/vault/entries/{other_ids.pop(0)}"), timeout=30)

    ts = [threading.Thread(target=work, args=(t,)) for t in range(6)] + [threading.Thread(target=work_other)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not bad, bad[:3]
    live = {}
    for eid in created:
        r = c.get(f"/vault/entries/{eid}")
        assert r.status_code in (200, 404), r.text
        if r.status_code == 200:
            live[eid] = {k: v for k, v in r.json().items() if k != "pin_or_password"}
    got = synced_list(server, c)
    assert [e["id"] for e in got] == sorted(live)  # each live entry once, nothing else
    assert got == [live[i] for i in sorted(live)]
    assert [e["id"] for e in listing(other)] == sorted(other_ids)
    assert not events(server, "vault.index.rejected", c.user_id)
    assert not events(server, "vault.index.rejected", other.user_id)


def test_change_password_keeps_the_index(server):
    """The chunks are sealed with the data key, which a vault password change only re-wraps."""
    c = unlocked(server)
    model = {}
    for i in range(5):
        model[add(c, entry(i, notes=big_notes(i)))] = entry(i, notes=big_notes(i))
    before = assert_list_matches(c, model)
    new_pw = "completely different vault words 3"
    r = c.post("/vault/change-password", {"current_vault_password": VAULT_PW, "new_vault_password": new_pw})
    assert r.status_code == 200, r.text
    r = c.post("/vault/unlock-vault", {"vault_password": new_pw})
    assert r.status_code == 200, r.text
    assert synced_list(server, c) == before
    assert not events(server, "vault.index.rejected", c.user_id)


def item_lengths(body):
    """The byte length of each list item exactly as the server wrote it (the chunks hold them so)."""
    assert body.startswith('{"entries":[')
    dec, pos, out = json.JSONDecoder(), len('{"entries":['), []
    while body[pos] != "]":
        _, end = dec.raw_decode(body, pos)
        out.append(len(body[pos:end].encode()))
        pos = end + (body[end] == ",")
    return out


def chunk_item_lengths(s, uid):
    """The user's chunks opened apart from the server (vault_format: docs/crypto.md's layout, the
    data key unwrapped with VAULT_PW): per chunk, the byte length of each item it holds."""
    hexed = s.backend == "postgresql"
    col = (lambda c: f"encode({c}, 'hex')") if hexed else (lambda c: c)
    raw = (lambda v: bytes.fromhex(v)) if hexed else bytes
    salt, mem, passes, wrapped = sql(s, f"SELECT {col('kdf_salt')}, kdf_mem_kib, kdf_passes, {col('wrapped_key')} "
                                        "FROM vault_keys WHERE user_id = ?", (uid,))[0]
    key = unwrap_data_key(uid, VAULT_PW, raw(salt), int(mem), int(passes), raw(wrapped))
    rows = sql(s, f"SELECT chunk, {col('ciphertext')} FROM vault_index WHERE user_id = ? ORDER BY chunk", (uid,))
    return [[len(item) for _, item in open_chunk(key, uid, int(chunk), raw(blob))[1]] for chunk, blob in rows]


@pytest.mark.parametrize("backend", backends())
def test_chunk_layout_follows_the_bounds(make_server, backend):
    """Opened apart from the server, the chunks hold every listed item once, in order, and each was
    closed by a bound of docs/crypto.md: a new entry joins the last chunk unless it holds 256 items
    or 32 KiB of them. (List items are at least ~130 bytes, so through the API the byte bound is
    always reached first.)"""
    s = editable(make_server, backend)
    c = unlocked(s)
    for i in range(350):
        notes = big_notes(i) if i in (3, 150, 151, 300, 349) else None
        add(c, {"domain": "d", "account_name": "a", "pin_or_password": "p", "notes": notes})
    r = c.get("/vault/entries")
    assert r.status_code == 200
    lens = item_lengths(r.text)
    assert len(lens) == 350
    chunks = chunk_item_lengths(s, c.user_id)
    assert [n for ch in chunks for n in ch] == lens  # every item, byte for byte as listed, once
    assert len(chunks) >= 3
    for ch in chunks[:-1]:  # a chunk is closed by one of the documented bounds...
        assert len(ch) >= 256 or sum(ch) + len(ch) - 1 >= 32768, (len(ch), sum(ch))
    for ch in chunks:  # ...and was still open when its last item joined it
        assert len(ch) <= 256 and sum(ch[:-1]) + len(ch) - 2 < 32768, (len(ch), sum(ch))
    assert chunk_numbers(s, c.user_id) == list(range(1, len(chunks) + 1))
    # A rebuild groups the entries the same way.
    sql(s, "UPDATE vault_keys SET index_version = 0 WHERE user_id = ?", (c.user_id,))
    assert c.get("/vault/entries").text == r.text
    assert index_version(s, c.user_id) == 1
    assert chunk_item_lengths(s, c.user_id) == chunks


# --- a missing or damaged index -------------------------------------------------------------------

def fill_three_chunks(c):
    model = {}
    for i in range(10):
        body = entry(i, notes=big_notes(i), tag="m")
        model[add(c, body)] = body
    for i in range(3):
        body = entry(i, tag="small", notes='n"o,t\\e\n')
        model[add(c, body)] = body
    return model


@pytest.mark.parametrize("backend", backends())
def test_missing_index_is_rebuilt_by_the_list(make_server, backend):
    s = make_server(backend=backend)
    c = unlocked(s)
    model = fill_three_chunks(c)
    eid = sorted(model)[1]
    model[eid] = entry(eid, notes="changed before the loss")
    put(c, eid, model[eid])
    before = assert_list_matches(c, model)
    # The index disappears, as in a vault made before the index existed.
    if backend == "sqlite":
        s.stop()  # the server holds the file exclusively
        assert index_version(s, c.user_id) == 1 and chunk_numbers(s, c.user_id) == [1, 2, 3]
        sql(s, "UPDATE vault_keys SET index_version = 0 WHERE user_id = ?", (c.user_id,))
        sql(s, "DELETE FROM vault_index WHERE user_id = ?", (c.user_id,))
        s.start()
        relogin(c)
    else:
        assert index_version(s, c.user_id) == 1 and chunk_numbers(s, c.user_id) == [1, 2, 3]
        sql(s, "UPDATE vault_keys SET index_version = 0 WHERE user_id = ?", (c.user_id,))
        sql(s, "DELETE FROM vault_index WHERE user_id = ?", (c.user_id,))
    # Writes while there is no index do not index (nothing to keep); the list builds it from all.
    gone = sorted(model)[2]
    delete(c, gone)
    del model[gone]
    eid = sorted(model)[-1]
    model[eid] = entry(eid, notes="changed while missing")
    put(c, eid, model[eid])
    new = add(c, entry(66, notes="added while missing"))
    model[new] = entry(66, notes="added while missing")
    before = [e for e in before if e["id"] != gone]
    got = synced_list(s, c)
    assert got == assert_list_matches(c, model)
    assert [e["id"] for e in got][:-1] == [e["id"] for e in before]
    assert not events(s, "vault.index.rejected", c.user_id)  # a missing index is not an attack
    # The rebuilt index is kept by the writes that follow.
    new = add(c, entry(77, notes="after the rebuild"))
    model[new] = entry(77, notes="after the rebuild")
    delete(c, sorted(model)[0])
    del model[sorted(model)[0]]
    assert_list_matches(c, model)
    if backend == "sqlite":
        s.stop()
    assert index_version(s, c.user_id) == 1
    assert chunk_numbers(s, c.user_id) == [1, 2, 3]  # rebuilt in full, not one chunk


@pytest.mark.parametrize("backend", backends())
def test_tampered_chunk_is_rejected_and_rebuilt(make_server, backend):
    s = editable(make_server, backend)
    c = unlocked(s)
    uid = c.user_id
    model = fill_three_chunks(c)
    before = assert_list_matches(c, model)
    assert index_version(s, uid) == 1 and chunk_numbers(s, uid) == [1, 2, 3]
    where = "user_id = ? AND chunk = ?"
    put_chunk = lambda n, blob: set_blob(s, "vault_index", where, (uid, n), blob)
    # Positions, not numbers: every rebuild numbers its chunks above all earlier ones. Another
    # user's chunk goes first, while both users' first chunks are chunk 1 (the same number:
    # only the user binding refuses it).
    tampering = [
        ("another user's chunk 1", lambda n, b: put_chunk(n[0], get_blob(s, "vault_index", where, (other.user_id, 1)))),
        ("a byte of the middle chunk flipped", lambda n, b: put_chunk(n[1], flip(b[1], len(b[1]) // 2))),
        ("the tag of the last chunk flipped", lambda n, b: put_chunk(n[2], flip(b[2], len(b[2]) - 1))),
        ("the version byte changed", lambda n, b: put_chunk(n[0], b"\x02" + b[0][1:])),
        ("the first and last chunks swapped", lambda n, b: (put_chunk(n[0], b[2]), put_chunk(n[2], b[0]))),
        ("a chunk truncated", lambda n, b: put_chunk(n[1], b[1][:30])),
    ]
    other = unlocked(s)
    add(other, entry(1, tag="other"))
    assert listing(other)
    assert chunk_numbers(s, other.user_id) == [1]
    earlier = []
    for n, (what, tamper) in enumerate(tampering, start=1):
        nums = chunk_numbers(s, uid)
        assert len(nums) == 3, (what, nums)
        if earlier:  # rebuilt: fresh numbers, above every chunk before
            assert nums[0] > earlier[-1], (what, earlier, nums)
        earlier = nums
        tamper(nums, [get_blob(s, "vault_index", where, (uid, k)) for k in nums])
        assert synced_list(s, c) == before, what
        found = events(s, "vault.index.rejected", uid)
        assert len(found) == n, (what, found)
        assert found[-1].get("security") is True
        assert index_version(s, uid) == 1
        # Rebuilt: fresh chunks that open, so the next list is quiet.
        assert synced_list(s, c) == before, what
        assert len(events(s, "vault.index.rejected", uid)) == n, what
    assert listing(other)[0]["domain"] == "other1.example"
    log = s.read_log()
    for body in model.values():
        assert body["pin_or_password"] not in log and body["notes"][:40] not in log


@pytest.mark.parametrize("backend", backends())
def test_tampered_chunk_found_by_a_write_is_logged_and_the_write_kept(make_server, backend):
    s = editable(make_server, backend)
    c = unlocked(s)
    uid = c.user_id
    model = fill_three_chunks(c)
    assert_list_matches(c, model)
    where = "user_id = ? AND chunk = ?"
    # Each write finds a damaged chunk: an add (the last chunk), an update and a delete (the
    # first). Positions, not numbers: the rebuild after each numbers its chunks anew.
    writes = [
        (-1, lambda: model.__setitem__(add(c, entry(90, tag="w")), entry(90, tag="w"))),
        (0, lambda: (put(c, sorted(model)[0], entry(91, tag="w")), model.__setitem__(sorted(model)[0], entry(91, tag="w")))),
        (0, lambda: (delete(c, sorted(model)[1]), model.pop(sorted(model)[1]))),
    ]
    for n, (position, write) in enumerate(writes, start=1):
        chunk = chunk_numbers(s, uid)[position]
        blob = get_blob(s, "vault_index", where, (uid, chunk))
        set_blob(s, "vault_index", where, (uid, chunk), flip(blob, len(blob) // 2))
        write()  # the write itself succeeds (asserted by the helpers) ...
        assert index_version(s, uid) == 0  # ... and the index is dropped, not trusted
        synced_list(s, c)  # the log now holds everything up to this list, which rebuilds
        found = events(s, "vault.index.rejected", uid)
        assert len(found) == n and found[-1].get("security") is True, found  # the write's, only
        assert index_version(s, uid) == 1
        assert_list_matches(c, model)


@pytest.mark.parametrize("backend", backends())
def test_tampered_entry_is_a_500_once_the_index_is_dropped(make_server, backend):
    s = editable(make_server, backend)
    c = unlocked(s)
    uid = c.user_id
    markers = {k: f"{k}-TAMPER-marker" for k in ("domain", "account_name", "pin_or_password", "notes")}
    ids = [add(c, dict(markers, url="https://tamper-marker.example/x")) for _ in range(3)]
    listing(c)
    victim = ids[1]
    where = "id = ? AND user_id = ?"
    set_blob(s, "vault", where, (victim, uid), flip(get_blob(s, "vault", where, (victim, uid)), 40))
    sql(s, "UPDATE vault_keys SET index_version = 0 WHERE user_id = ?", (uid,))
    for _ in range(2):  # the failed rebuild wrote nothing: the same answer again
        r = c.get("/vault/entries")
        body = assert_error(r, 500, "internal")
        for v in list(markers.values()) + ["tamper-marker"]:
            assert v not in r.text
        assert set(body) == {"error", "code"}
        assert index_version(s, uid) == 0
    assert_error(c.get(f"/vault/entries/{victim}"), 500, "internal")
    assert c.get(f"/vault/entries/{ids[0]}").json()["domain"] == markers["domain"]
    log = s.read_log()
    for v in list(markers.values()) + ["tamper-marker"]:
        assert v not in log
    # Deleting the damaged entry heals the list.
    delete(c, victim)
    got = listing(c)
    assert [e["id"] for e in got] == [ids[0], ids[2]]
    assert index_version(s, uid) == 1


# --- nothing in plain text at rest ----------------------------------------------------------------

def write_marked_entries(c, tag):
    """Adds, updates and deletes entries whose every field carries a marker; returns the markers."""
    markers = []

    def body(i):
        b = {"domain": f"dom-{tag}-{i}.example", "account_name": f"acct-{tag}-{i}", "pin_or_password": f"pin-{tag}-{i}",
             "url": f"https://url-{tag}-{i}.example/p", "notes": f"notes-{tag}-{i}\nsecond line"}
        markers.extend(v.split("\n")[0] for v in b.values())
        return b
    ids = [add(c, body(i)) for i in range(6)]
    put(c, ids[2], body(20))
    put(c, ids[5], body(50))
    delete(c, ids[3])
    return markers


def test_nothing_plain_at_rest_sqlite(make_server):
    s = make_server(backend="sqlite")
    c = unlocked(s)
    markers = write_marked_entries(c, "SQLITE-IDX")
    s.stop()
    # No list ran: setup made the index current and every write kept it.
    assert index_version(s, c.user_id) == 1 and chunk_numbers(s, c.user_id) == [1]
    blob = b""
    for f in os.listdir(s.data_dir):
        if f.startswith("strongroom.db"):
            blob += open(os.path.join(s.data_dir, f), "rb").read()
    assert blob
    for v in markers + [VAULT_PW]:
        assert v.encode() not in blob, v


def test_nothing_plain_at_rest_postgresql(make_server):
    if not conftest.PG_URL:
        pytest.skip("needs PostgreSQL")
    s = make_server(backend="postgresql")
    c = unlocked(s)
    markers = write_marked_entries(c, "PG-IDX")
    # No list ran: setup made the index current and every write kept it.
    assert index_version(s, c.user_id) == 1 and chunk_numbers(s, c.user_id) == [1]
    assert len(listing(c)) == 5
    dump = subprocess.run(["pg_dump", "--data-only", conftest.PG_URL], capture_output=True, check=True).stdout
    assert b"vault_index" in dump
    low = dump.lower()
    for v in markers + [VAULT_PW]:
        assert v.encode() not in dump, v
        assert v.encode().hex().encode() not in low, v
