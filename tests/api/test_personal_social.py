"""Personal handbook and social links (SPEC 5 and 6): bounds, hostile strings, ownership, caps."""
import concurrent.futures

import pytest
import requests

from conftest import Client, assert_error, uname

HOSTILE = [
    "Robert'); DROP TABLE users;--", "1 OR 1=1", "\" ; -- /*", "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>", "\u202eevil\u202c", "emoji 🦀🔐", "tab\there",
]


def test_me_shape_without_handbook(client):
    r = client.get("/personal/me")
    b = r.json()
    assert set(b) == {"id", "username", "email", "created_at", "handbook"}
    assert b["handbook"] is None and b["email"] == f"{client.username}@example.org".lower()
    assert_error(client.get("/personal/handbook"), 404, "not_found")


def test_email_stored_lowercased(server):
    c = Client(server)
    local = "Mixed." + uname("CaSe")
    c.signup(email=f"{local}@Example.ORG")
    c.signin()
    want = f"{local.lower()}@example.org"
    assert c.get("/personal/me").json()["email"] == want
    # The address as given and as stored name the same account.
    r = requests.post(server.url + "/auth/signin", json={"username": want, "password": c.password})
    assert r.status_code == 200 and r.json()["user_id"] == c.user_id, r.text


def test_handbook_roundtrip_and_clear(client):
    body = {"full_name": "Ada Lovelace", "age": 36, "phone": "+44 (0) 20-7946", "address": "12 St James's Sq", "bio": "line 1\nline 2\r\n\ttabbed"}
    r = client.put("/personal/handbook", body)
    assert r.status_code == 200, r.text
    got = r.json()
    for k, v in body.items():
        assert got[k] == v
    assert got["updated_at"].endswith("Z")
    assert client.get("/personal/handbook").json() == got
    assert client.get("/personal/me").json()["handbook"] == got  # a write is visible at once
    r = client.put("/personal/handbook", {"full_name": "Only Name", "age": None})
    got = r.json()
    assert got["full_name"] == "Only Name" and got["age"] is None and got["bio"] is None and got["phone"] is None


@pytest.mark.parametrize("field,ok,bad", [
    ("full_name", "n" * 100, "n" * 101),
    ("age", 13, 12), ("age", 120, 121), ("age", 50, 50.5), ("age", 50, "50"), ("age", 50, True),
    ("phone", "0" * 20, "0" * 21), ("phone", "+1 (555) 010-9999", "555-CALL"), ("phone", "123", "12\n3"),
    ("address", "a" * 255, "a" * 256), ("address", "ok", "nul\u0000"), ("address", "ok", "line\nbreak"),
    ("bio", "é" * 2000, "é" * 2001), ("bio", "multi\nline", "nul \u0000 inside"),
])
def test_handbook_bounds(client, field, ok, bad):
    r = client.put("/personal/handbook", {field: ok})
    assert r.status_code == 200, (field, r.text)
    assert r.json()[field] == ok
    r = client.put("/personal/handbook", {field: bad})
    assert field in assert_error(r, 400, "validation_failed")["fields"]
    assert client.get("/personal/handbook").json()[field] == ok  # nothing stored changed


@pytest.mark.parametrize("value", HOSTILE)
def test_handbook_hostile_strings_verbatim(client, value):
    r = client.put("/personal/handbook", {"full_name": value[:100]})
    if "\t" in value:
        assert_error(r, 400, "validation_failed")  # single-line field: control characters refused
        return
    assert r.status_code == 200, r.text
    assert client.get("/personal/handbook").json()["full_name"] == value[:100]
    assert r.headers["Content-Type"].startswith("application/json")


def test_handbook_invalid_utf8_and_lone_surrogates(client):
    h = {"Content-Type": "application/json", "X-CSRF-TOKEN": client.csrf}
    for raw in [b'{"full_name":"\xc3\x28"}', b'{"full_name":"\xed\xa0\x80"}', b'{"full_name":"\\ud800"}', b'{"full_name":"\\udc00x"}']:
        r = client.s.put(client.url("/personal/handbook"), data=raw, headers=h)
        assert r.status_code == 400, (raw, r.text)


def test_handbook_unknown_field(client):
    r = client.put("/personal/handbook", {"full_name": "x", "user_id": 1})
    assert "user_id" in assert_error(r, 400, "validation_failed")["fields"]


# --- social links --------------------------------------------------------------------------------

def test_links_crud(client):
    assert client.get("/social/links").json() == {"links": []}
    r = client.post("/social/links", {"platform": "GitHub", "url": "https://github.com/ada"})
    assert r.status_code == 201, r.text
    link = r.json()
    assert set(link) == {"id", "platform", "url", "created_at"}
    r2 = client.post("/social/links", {"platform": "Blog", "url": "http://ada.example/blog?x=1#top"})
    ids = [l["id"] for l in client.get("/social/links").json()["links"]]
    assert ids == [link["id"], r2.json()["id"]]  # creation order
    r = client.put(f"/social/links/{link['id']}", {"platform": "GitLab", "url": "https://gitlab.com/ada"})
    assert r.status_code == 200 and r.json()["platform"] == "GitLab" and r.json()["id"] == link["id"]
    assert client.delete(f"/social/links/{link['id']}").status_code == 204
    assert_error(client.delete(f"/social/links/{link['id']}"), 404, "not_found")
    assert [l["id"] for l in client.get("/social/links").json()["links"]] == [r2.json()["id"]]


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.org/x", "//example.org/x", "/relative",
    "https://user:pass@example.org/", "https://user@example.org/", "https:///nohost", "http://exa mple.org",
    "https://example.org/\u0000", "JAVASCRIPT://example.org/%0aalert(1)", "https://" + "a" * 2040 + ".org", "",
    "vbscript:msgbox", "file:///etc/passwd",
])
def test_link_url_refused(client, url):
    r = client.post("/social/links", {"platform": "x", "url": url})
    assert "url" in assert_error(r, 400, "validation_failed")["fields"], url


@pytest.mark.parametrize("platform", ["", "p" * 51, "bad/slash", "new\nline", "<b>", "ümlaut"])
def test_link_platform_refused(client, platform):
    r = client.post("/social/links", {"platform": platform, "url": "https://example.org"})
    assert "platform" in assert_error(r, 400, "validation_failed")["fields"]


def test_link_accepts_edge_values(client):
    url = "https://example.org/" + "a" * (2048 - len("https://example.org/"))
    r = client.post("/social/links", {"platform": "p" * 50, "url": url})
    assert r.status_code == 201, r.text
    assert r.json()["url"] == url
    r = client.post("/social/links", {"platform": "My Site_1.0-x", "url": "HTTPS://EXAMPLE.org:8443/p?q=1"})
    assert r.status_code == 201 and r.json()["url"] == "HTTPS://EXAMPLE.org:8443/p?q=1"


def test_links_ownership_is_404(server):
    a, b = Client(server), Client(server)
    for c in (a, b):
        c.signup()
        c.signin()
    link = a.post("/social/links", {"platform": "x", "url": "https://a.example"}).json()
    assert_error(b.put(f"/social/links/{link['id']}", {"platform": "y", "url": "https://b.example"}), 404, "not_found")
    assert_error(b.delete(f"/social/links/{link['id']}"), 404, "not_found")
    assert b.get("/social/links").json() == {"links": []}
    assert a.get("/social/links").json()["links"][0]["platform"] == "x"
    for bad in ["0", "-1", "abc", "1.5", "99999999999999999999999", "1e3", "%20"]:
        r = a.put(f"/social/links/{bad}", {"platform": "y", "url": "https://b.example"})
        assert_error(r, 404, "not_found")
        assert_error(a.delete(f"/social/links/{bad}"), 404, "not_found")


def test_links_cap_under_concurrency(server):
    c = Client(server)
    c.signup()
    c.signin()
    for i in range(45):
        assert c.post("/social/links", {"platform": f"p{i}", "url": f"https://e.example/{i}"}).status_code == 201

    def add(i):
        return requests.post(c.url("/social/links"), json={"platform": f"q{i}", "url": "https://e.example/q"},
                             headers=c.bearer()).status_code
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        codes = list(ex.map(add, range(20)))
    assert codes.count(201) == 5, codes
    assert codes.count(409) == 15, codes
    assert len(c.get("/social/links").json()["links"]) == 50
