"""SPEC 4 rows that had no black-box test: delete-account clears the cookies, a full hash queue
answers 503 with Retry-After, the original app's scrypt and bcrypt hashes are re-hashed at the next
signin, and expired revocation records are purged. (The stored Argon2id cost: test_crypto_vectors.)"""
import hashlib
import secrets
import sqlite3
import threading

import bcrypt
import requests

from conftest import STRONG, STRONG2, Client, assert_error, metric, sleep_until, unlocked, wait_until


def set_cookies(r):
    out = {}
    for k, v in r.raw.headers.items():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            attrs = {a.split("=", 1)[0].strip().lower(): a.split("=", 1)[1] if "=" in a else "" for a in rest.split(";")[1:]}
            out[name] = (rest.split(";")[0], attrs)
    return out


def test_delete_account_clears_every_cookie(server):
    c = unlocked(server)
    assert c.s.cookies.get("access_token_cookie") and c.s.cookies.get("vault_session", path="/vault")
    r = c.post("/auth/delete-account", {"password": STRONG})
    assert r.status_code == 200, r.text
    got = set_cookies(r)
    for name, path in [("access_token_cookie", "/"), ("refresh_token_cookie", "/auth"), ("csrf_access_token", "/"),
                       ("csrf_refresh_token", "/"), ("vault_session", "/vault")]:
        value, attrs = got[name]
        assert value == "" and attrs["max-age"] == "0" and attrs["path"] == path, (name, got[name])
    assert not list(c.s.cookies), [k.name for k in c.s.cookies]  # the browser-like jar is empty now


# --- the hash pool's bound ------------------------------------------------------------------------

def test_full_hash_queue_answers_503_with_retry_after(make_server):
    # One worker, one waiting slot, ~0.5 s per hash: with one signin hashing and one waiting (the
    # pool's gauges say when), the next one finds the queue full.
    s = make_server(env={"STRONGROOM_HASH_WORKERS": "1", "STRONGROOM_HASH_MAX_QUEUE": "1",
                         "STRONGROOM_ARGON2_MEMORY_KIB": "65536", "STRONGROOM_ARGON2_PASSES": "6"})
    c = Client(s)
    c.signup()
    answers = {}

    def signin(i):
        answers[i] = requests.post(s.url + "/auth/signin", json={"username": c.username, "password": c.password}, timeout=30)
    threads = []
    for i, (running, queued) in enumerate([(1, 0), (1, 1)]):
        threads.append(threading.Thread(target=signin, args=(i,)))
        threads[-1].start()
        wait_until(lambda: metric(s, "strongroom_hash_running") == running and metric(s, "strongroom_hash_queue") == queued,
                   f"hash pool running={running} queued={queued}", timeout=10, interval=0.005)
    r = requests.post(s.url + "/auth/signin", json={"username": c.username, "password": c.password})
    assert_error(r, 503, "unavailable")
    assert int(r.headers["Retry-After"]) >= 1
    for t in threads:
        t.join()
    assert [answers[i].status_code for i in (0, 1)] == [200, 200]  # the admitted ones are served
    assert requests.post(s.url + "/auth/signin", json={"username": c.username, "password": c.password}).status_code == 200


# --- legacy hashes of the original app ------------------------------------------------------------

def werkzeug_scrypt(password, n=32768, r=8, p=1):
    """Werkzeug >= 2.3's scrypt format (Debian's Werkzeug 2.2 predates it): scrypt:n:r:p$salt$hex,
    a 64-byte key (hashlib's default) with Werkzeug's maxmem."""
    salt = secrets.token_urlsafe(12)
    key = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p)
    return f"scrypt:{n}:{r}:{p}${salt}${key.hex()}"


def test_scrypt_and_bcrypt_hashes_verify_and_are_rehashed(make_server):
    s = make_server(backend="sqlite", env={"STRONGROOM_SQLITE_EXCLUSIVE": "false"})
    for make in (werkzeug_scrypt, lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()):
        c = Client(s)
        c.signup()
        legacy = make(STRONG2)
        db = sqlite3.connect(s.data_dir + "/strongroom.db", timeout=10)
        try:
            db.execute("UPDATE users SET password_hash=? WHERE id=?", (legacy, c.user_id))
            db.commit()
            r = requests.post(s.url + "/auth/signin", json={"username": c.username, "password": STRONG})
            assert_error(r, 401, "invalid_credentials")  # the legacy hash is what counts now
            c.password = STRONG2
            c.signin()
            stored = db.execute("SELECT password_hash FROM users WHERE id=?", (c.user_id,)).fetchone()[0]
        finally:
            db.close()
        assert stored.startswith("$argon2id$"), (legacy[:8], stored[:20])
        c.another_session(STRONG2)  # the new hash verifies the same password


# --- revocation records ---------------------------------------------------------------------------

def test_expired_revocation_records_are_purged(make_server):
    """A refresh leaves a blocklist row for the spent token; once it and the session have expired
    the purger deletes both. It runs at start and then every few minutes: a restart shows it
    without waiting minutes."""
    env = {"STRONGROOM_SQLITE_EXCLUSIVE": "false", "STRONGROOM_REFRESH_TTL": "2", "STRONGROOM_ACCESS_TTL": "1",
           "STRONGROOM_SESSION_MAX_TTL": "2"}
    s = make_server(backend="sqlite", env=env)
    c = Client(s)
    c.signup()
    c.signin()
    r = requests.post(s.url + "/auth/refresh", json={"refresh_token": c.refresh})
    assert r.status_code == 200, r.text
    path = s.data_dir + "/strongroom.db"

    def rows():
        db = sqlite3.connect(path, timeout=10)
        try:
            return (db.execute("SELECT count(*) FROM token_blocklist WHERE user_id=?", (c.user_id,)).fetchone()[0],
                    db.execute("SELECT count(*) FROM sessions WHERE user_id=?", (c.user_id,)).fetchone()[0],
                    db.execute("SELECT max(expires_at) FROM token_blocklist WHERE user_id=?", (c.user_id,)).fetchone()[0])
        finally:
            db.close()
    blocked, sessions, expires = rows()
    assert (blocked, sessions) == (1, 1)
    s.stop()
    purges = lambda: [e for e in s.log_events() if e.get("event") == "storage.purge"]
    before = len(purges())
    sleep_until(expires + 1.05)  # both rows expire strictly before now
    s.start()
    wait_until(lambda: len(purges()) > before, "the purge at start")
    assert purges()[-1]["rows"] >= 2
    assert rows()[:2] == (0, 0)
