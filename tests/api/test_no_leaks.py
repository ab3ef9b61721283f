"""No secret leaks (issue 8, SPEC 9 "never a password, token, cookie value or vault field").

A full session is driven against the real binary with distinctive marker values: signup, a signin
with the password typed into the username box (trap 4 of ENGINEERING.md), signin with
return_tokens, vault setup / wrong unlock / unlock, entries add / list / get / update, a sliding
vault renewal, refresh by body and by cookie, refresh-token reuse, change-password, vault lock and
logout. Then every log line, every response body and header other than the intended ones, and
every file of the data directory (SQLite database, -wal, secrets, log file) -- and, on
PostgreSQL, a pg_dump of the database -- are searched for every password, token and vault value
used. None may be found.

Where a secret may legitimately appear (everything else is a leak):
  access / refresh tokens, csrf tokens: the bodies of POST /auth/signin and POST /auth/refresh
                                         (they are returned on purpose) and Set-Cookie of those;
  vault_token:                           the body of POST /vault/unlock-vault, Set-Cookie and the
                                         X-Vault-Token response header of /vault/* responses;
  pin_or_password:                       the bodies of GET and PUT /vault/entries/{id};
  other vault fields:                    those and the body of GET /vault/entries;
  account and vault passwords:           nowhere.
Run twice per backend: test profile with logs on stdout at info, and development profile (so a
secrets file is written to the data directory) with STRONGROOM_LOG_FILE inside the data directory
and log level debug.
"""
import base64
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time

import pytest
import requests

import conftest
from conftest import Client, assert_error, backends, uname

TAG = secrets.token_hex(5)


def marker(kind):
    # Distinctive, policy-compliant (12+ code points, not common, no username inside).
    return f"LEAKMARK-{kind}-{TAG}-{secrets.token_hex(4)}"


class Recorder:
    """Keeps every response (method, path, status, headers as a list of pairs, body bytes)."""

    def __init__(self):
        self.responses = []

    def hook(self, r, *args, **kwargs):
        headers = list(r.raw.headers.items()) if r.raw is not None else list(r.headers.items())
        path = requests.utils.urlparse(r.url).path
        self.responses.append((r.request.method, path, r.status_code, headers, r.content))
        return r

    def attach(self, session):
        session.hooks["response"].append(self.hook)


def route_of(path):
    return re.sub(r"/\d+$", "/{id}", path)


# kind -> where it may appear: set of (method, route, location); location "body" or a header name
ALLOWED = {
    "token": {("POST", "/auth/signin", "body"), ("POST", "/auth/signin", "set-cookie"),
              ("POST", "/auth/refresh", "body"), ("POST", "/auth/refresh", "set-cookie")},
    "vault_token": {("POST", "/vault/unlock-vault", "body"), ("*", "/vault/*", "set-cookie"),
                    ("*", "/vault/*", "x-vault-token")},
    "pin": {("GET", "/vault/entries/{id}", "body"), ("PUT", "/vault/entries/{id}", "body")},
    "vault_field": {("GET", "/vault/entries/{id}", "body"), ("PUT", "/vault/entries/{id}", "body"),
                    ("GET", "/vault/entries", "body")},
    "password": set(),
}


def allowed(kind, method, path, location):
    route = route_of(path)
    for m, r, loc in ALLOWED[kind]:
        if loc != location:
            continue
        if m not in ("*", method):
            continue
        if r == route or (r.endswith("/*") and route.startswith(r[:-1])):
            return True
    return False


def forms(value):
    """The byte strings to look for: the value, and for tokens also their signature/tail part
    (a partial leak), its hex and base64 forms."""
    v = value.encode()
    out = {v, v.hex().encode(), base64.b64encode(v).rstrip(b"=")}
    if value.count(".") == 2:  # a JWT: its signature alone identifies it
        out.add(value.rsplit(".", 1)[1].encode())
    elif len(value) > 40:  # a sealed vault token: any 40-char slice of its middle
        out.add(value[len(value) // 2 - 20:len(value) // 2 + 20].encode())
    return out


def find_in(blob, secrets_by_kind):
    """[(kind, value-prefix)] of every secret found in blob (bytes)."""
    hits = []
    low = blob.lower()
    for kind, values in secrets_by_kind.items():
        for v in values:
            for f in forms(v):
                if f in blob or (f.isascii() and f.lower() in low and kind == "password"):
                    hits.append((kind, v[:16] + "..."))
                    break
    return hits


def drive_session(server, rec, secrets_by_kind):
    """The full session. Every secret used or received goes into secrets_by_kind."""
    pw = marker("acct-pw")
    pw2 = marker("acct-pw2")
    vpw = marker("vault-pw")
    typed = marker("typed-into-username")
    pin, pin2 = marker("pin"), marker("pin2")
    fields = {"domain": f"leakmark-domain-{TAG}.example", "account_name": marker("acct"),
              "url": f"https://leakmark-url-{TAG}.example/login", "notes": marker("notes")}
    secrets_by_kind["password"] |= {pw, pw2, vpw, typed}
    secrets_by_kind["pin"] |= {pin, pin2}
    secrets_by_kind["vault_field"] |= set(fields.values())

    def add_token(kind, t):
        if t:
            secrets_by_kind[kind].add(t)

    c = Client(server)
    rec.attach(c.s)
    c.signup(password=pw)

    # The password typed into the username box, and a wrong password for the real user.
    r = c.s.post(c.url("/auth/signin"), json={"username": typed, "password": pw}, timeout=30)
    assert_error(r, 401, "invalid_credentials")
    r = c.s.post(c.url("/auth/signin"), json={"username": c.username, "password": pw2}, timeout=30)
    assert_error(r, 401, "invalid_credentials")

    r = c.signin(return_tokens=True)
    add_token("token", c.access)
    add_token("token", c.refresh)
    add_token("token", c.csrf)
    add_token("token", c.s.cookies.get("csrf_refresh_token", path="/"))
    assert c.get("/personal/me", csrf=False, headers=c.bearer()).status_code == 200

    # Vault: setup, a wrong unlock, unlock.
    assert c.post("/vault/setup", {"vault_password": vpw}).status_code == 201
    assert_error(c.post("/vault/unlock-vault", {"vault_password": pw2}), 401, "invalid_vault_password")
    r = c.post("/vault/unlock-vault", {"vault_password": vpw})
    assert r.status_code == 200, r.text
    c.vault_token = r.json()["vault_token"]
    add_token("vault_token", c.vault_token)
    vh = {"X-Vault-Token": c.vault_token}

    # Entries: add (cookie + CSRF), list, get, update, get (Bearer + X-Vault-Token).
    r = c.post("/vault/add", dict(fields, pin_or_password=pin), headers=vh)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert c.get("/vault/entries", headers=vh).status_code == 200
    bearer_v = dict(c.bearer(), **vh)
    r = requests.get(c.url(f"/vault/entries/{eid}"), headers=bearer_v, timeout=30)
    rec.hook(r)
    assert r.json()["pin_or_password"] == pin
    r = c.put(f"/vault/entries/{eid}", dict(fields, pin_or_password=pin2), headers=vh)
    assert r.status_code == 200 and r.json()["pin_or_password"] == pin2, r.text
    # Sliding renewal (vault_ttl is 4 s in these servers): a renewed token comes back in the
    # X-Vault-Token response header and a new cookie.
    # Waited for, request after request, until one comes back renewed (from half the session on).
    deadline = time.time() + 10
    while True:
        r = c.get(f"/vault/entries/{eid}", headers=vh)
        assert r.status_code == 200, r.text
        if r.headers.get("X-Vault-Token"):
            break
        assert time.time() < deadline, "no sliding renewal"
        time.sleep(0.2)
    renewed = r.headers.get("X-Vault-Token")
    assert renewed and renewed != c.vault_token
    add_token("vault_token", renewed)
    add_token("vault_token", c.s.cookies.get("vault_session", path="/vault"))

    # Refresh by body (tokens returned), then by cookie (+ CSRF of the refresh cookie).
    old_refresh = c.refresh
    r = requests.post(c.url("/auth/refresh"), json={"refresh_token": c.refresh}, timeout=30)
    rec.hook(r)
    assert r.status_code == 200, r.text
    body = r.json()
    c.access, c.refresh = body["access_token"], body["refresh_token"]
    add_token("token", c.access)
    add_token("token", c.refresh)
    add_token("token", body["csrf_token"])
    assert c.get("/vault/status", csrf=False, headers=c.bearer()).status_code == 200
    # The cookie jar still holds the refresh cookie of the signin, which is now spent: refresh by
    # cookie with it is a reuse, which revokes the session and logs auth.token.reuse.
    r = c.post("/auth/refresh", csrf=False,
               headers={"X-CSRF-TOKEN": c.s.cookies.get("csrf_refresh_token", path="/")})
    assert_error(r, 401, "token_reused")
    r = requests.post(c.url("/auth/refresh"), json={"refresh_token": old_refresh}, timeout=30)
    rec.hook(r)
    assert r.status_code == 401

    # A second session: refresh by cookie, unlock, read the entry, change the password, lock,
    # logout.
    c2 = Client(server)
    rec.attach(c2.s)
    c2.username, c2.password = c.username, pw
    c2.signin(return_tokens=False)
    add_token("token", c2.csrf)
    for name, path in [("access_token_cookie", "/"), ("refresh_token_cookie", "/auth"),
                       ("csrf_access_token", "/"), ("csrf_refresh_token", "/")]:
        add_token("token", c2.s.cookies.get(name, path=path))
    r = c2.post("/auth/refresh", csrf=False,
                headers={"X-CSRF-TOKEN": c2.s.cookies.get("csrf_refresh_token", path="/")})
    assert r.status_code == 200, r.text
    c2.csrf = r.json()["csrf_token"]
    for name, path in [("access_token_cookie", "/"), ("refresh_token_cookie", "/auth"),
                       ("csrf_access_token", "/"), ("csrf_refresh_token", "/")]:
        add_token("token", c2.s.cookies.get(name, path=path))
    r = c2.post("/vault/unlock-vault", {"vault_password": vpw})
    assert r.status_code == 200, r.text
    add_token("vault_token", r.json()["vault_token"])
    assert c2.get(f"/vault/entries/{eid}").json()["pin_or_password"] == pin2
    assert_error(c2.post("/auth/change-password", {"current_password": pw2, "new_password": pw2}),
                 401, "invalid_credentials")
    r = c2.post("/auth/change-password", {"current_password": pw, "new_password": pw2})
    assert r.status_code == 200, r.text
    assert c2.post("/vault/lock").status_code == 200
    assert c2.post("/auth/logout").status_code == 200

    # The new password works; the old one does not.
    c3 = Client(server)
    rec.attach(c3.s)
    c3.username, c3.password = c.username, pw2
    c3.signin(return_tokens=True)
    add_token("token", c3.access)
    add_token("token", c3.refresh)
    add_token("token", c3.csrf)
    r = c3.s.post(c3.url("/auth/signin"), json={"username": c.username, "password": pw}, timeout=30)
    assert_error(r, 401, "invalid_credentials")
    assert c3.post("/auth/logout").status_code == 200


def data_dir_blobs(data_dir):
    out = {}
    for dirpath, _, files in os.walk(data_dir):
        for f in files:
            p = os.path.join(dirpath, f)
            try:
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, data_dir)] = fh.read()
            except OSError:
                pass
    return out


VARIANTS = ["stdout-info", "file-debug"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("backend", backends())
def test_no_secret_leaks(make_server, backend, variant):
    data_dir = tempfile.mkdtemp(prefix="sr-leak-")
    try:
        env = {"STRONGROOM_VAULT_TTL": "4"}
        profile = "test"
        if variant == "file-debug":
            env.update({"STRONGROOM_LOG_FILE": os.path.join(data_dir, "strongroom.log"),
                        "STRONGROOM_LOG_LEVEL": "debug"})
            profile = "development"  # writes data_dir/secrets
        s = make_server(backend=backend, env=env, data_dir=data_dir, profile=profile)
        rec = Recorder()
        found = {k: set() for k in ALLOWED}
        drive_session(s, rec, found)
        assert all(found[k] for k in ALLOWED), "the session did not produce every kind of secret"

        problems = []
        # 1. Responses: bodies and headers, outside their allowed places.
        for method, path, status, headers, body in rec.responses:
            for kind, values in found.items():
                for v in values:
                    fs = forms(v)
                    if any(f in body for f in fs) and not allowed(kind, method, path, "body"):
                        problems.append(f"{kind} {v[:16]}... in the body of {method} {path} ({status})")
                    for name, value in headers:
                        vb = value.encode("latin-1", "replace")
                        if any(f in vb for f in fs) and not allowed(kind, method, path, name.lower()):
                            problems.append(f"{kind} {v[:16]}... in header {name} of {method} {path} ({status})")

        # 2. Data directory while running (the -wal file is there now), then the logs.
        running_files = data_dir_blobs(data_dir)
        assert any(n.startswith("strongroom.db") for n in running_files) or backend == "postgresql"
        if variant == "file-debug":
            assert "secrets" in running_files, sorted(running_files)
        s.stop()
        log = s.read_log().encode()
        assert b'"event":"access"' in log and b'"event":"auth.token.reuse"' in log
        assert b'"event":"auth.signin.failure"' in log and b'"event":"vault.unlock.failure"' in log
        for kind, v in find_in(log, found):
            problems.append(f"{kind} {v} in the server log (stdout/stderr)")
        stopped_files = data_dir_blobs(data_dir)
        if variant == "file-debug":
            assert b'"event":"access"' in stopped_files.get("strongroom.log", b""), sorted(stopped_files)
        for label, files in (("running", running_files), ("stopped", stopped_files)):
            for name, blob in files.items():
                for kind, v in find_in(blob, found):
                    problems.append(f"{kind} {v} in data_dir/{name} ({label})")

        # 3. PostgreSQL: the whole database.
        if backend == "postgresql":
            dump = subprocess.run(["pg_dump", "--data-only", conftest.PG_URL], capture_output=True,
                                  check=True).stdout
            assert b"COPY public.users" in dump or b"users" in dump
            for kind, v in find_in(dump, found):
                problems.append(f"{kind} {v} in pg_dump")

        assert not sorted(set(problems)), "\n".join(sorted(set(problems)))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        try:  # the harness keeps stdout/stderr beside a data_dir it does not own
            os.unlink(os.path.join(os.path.dirname(data_dir), os.path.basename(data_dir) + ".log"))
        except OSError:
            pass
