"""How strongroom serves the web interface (SPEC 17, docs/ui.md): the files compiled into the binary,
byte for byte, with their own CSP, ETag revalidation, the shell for every page path, 404 for an
unknown asset, and the API untouched."""
import hashlib
import os

import requests
from selenium.webdriver.common.by import By

from conftest import STRONG, WEB, Client, api, start_server

UI_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
SPEC3 = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-XSS-Protection": "0",
}
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


def web_files():
    for base, _, files in os.walk(WEB):
        for f in files:
            full = os.path.join(base, f)
            yield "/ui/" + os.path.relpath(full, WEB).replace(os.sep, "/"), full


def assert_ui_headers(r):
    for k, v in SPEC3.items():
        assert r.headers.get(k) == v, (k, r.headers.get(k))
    assert r.headers["Content-Security-Policy"] == UI_CSP
    assert r.headers["Cache-Control"] == "no-cache"
    assert "Server" not in r.headers


def test_every_file_served_byte_for_byte_with_type_and_etag(server):
    seen = 0
    etags = set()
    for url, path in web_files():
        body = open(path, "rb").read()
        r = requests.get(server.url + url, timeout=10)
        assert r.status_code == 200, url
        assert r.content == body, url
        assert r.headers["Content-Type"] == TYPES[os.path.splitext(path)[1]], url
        assert_ui_headers(r)
        # The ETag is made from the content: a changed file gets a new one.
        assert r.headers["ETag"] == '"%s"' % hashlib.sha256(body).hexdigest()[:20], url
        etags.add(r.headers["ETag"])
        seen += 1
    assert seen >= 20 and len(etags) == seen


def test_shell_for_root_and_every_page_path(server):
    shell = open(os.path.join(WEB, "index.html"), "rb").read()
    for path in ["/", "/ui", "/ui/", "/ui/vault", "/ui/signin/second-step", "/ui/no/such/page?x=1",
                 "/ui/" + "a/" * 40]:
        r = requests.get(server.url + path, timeout=10)
        assert r.status_code == 200, path
        assert r.content == shell, path
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert_ui_headers(r)


def test_paths_are_taken_literally(server):
    """No normalization: a dot segment under /ui/ is a page path (the shell), never a way out to the
    API or to another file; under /ui/assets/ it names no asset."""
    for path, status in [("/ui/../auth/signin", b"200"), ("/ui/%2e%2e/personal/me", b"200"),
                         ("/ui/assets/js/../app.css", b"404"), ("/ui/assets/../index.html", b"404")]:
        raw = api.raw_request(server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert raw.split(b"\r\n", 1)[0] == b"HTTP/1.1 " + status + (b" OK" if status == b"200" else b" Not Found"), path
        if status == b"200":
            assert raw.endswith(open(os.path.join(WEB, "index.html"), "rb").read()), path


def test_if_none_match_gives_304_and_head_has_no_body(server):
    r = requests.get(server.url + "/ui/assets/app.css", timeout=10)
    tag = r.headers["ETag"]
    for inm in [tag, f"W/{tag}", f'"nope", {tag}', "*"]:
        r2 = requests.get(server.url + "/ui/assets/app.css", headers={"If-None-Match": inm}, timeout=10)
        assert r2.status_code == 304, inm
        assert r2.content == b"" and r2.headers["ETag"] == tag
        assert_ui_headers(r2)
    r3 = requests.get(server.url + "/ui/assets/app.css", headers={"If-None-Match": '"other"'}, timeout=10)
    assert r3.status_code == 200 and r3.content == r.content
    h = requests.head(server.url + "/ui/vault", timeout=10)
    assert h.status_code == 200 and h.content == b""
    assert int(h.headers["Content-Length"]) == len(requests.get(server.url + "/ui/vault", timeout=10).content)
    assert_ui_headers(h)


def test_unknown_asset_is_json_404_and_other_methods_405(server):
    for path in ["/ui/assets/nope.js", "/ui/assets/", "/ui/assets/app.css.map"]:
        r = requests.get(server.url + path, timeout=10)
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found"
        assert r.headers["Content-Security-Policy"] == API_CSP
        assert r.headers["Cache-Control"] == "no-store"
    for method in ["POST", "PUT", "DELETE"]:
        r = requests.request(method, server.url + "/ui/vault", timeout=10)
        assert r.status_code == 405
        assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
        assert r.json()["code"] == "method_not_allowed"


def test_api_keeps_its_paths_and_headers(server):
    r = requests.get(server.url + "/healthz", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["Content-Security-Policy"] == API_CSP
    assert r.headers["Cache-Control"] == "no-store"
    r = requests.get(server.url + "/personal/me", timeout=10)
    assert r.status_code == 401 and r.headers["Content-Security-Policy"] == API_CSP
    assert requests.get(server.url + "/nope", timeout=10).status_code == 404


def test_ui_false_serves_only_the_api():
    s = start_server(ui="false")
    try:
        for path in ["/", "/ui/vault", "/ui/assets/app.css"]:
            r = requests.get(s.url + path, timeout=10)
            assert r.status_code == 404 and r.json()["code"] == "not_found", path
        assert requests.get(s.url + "/healthz", timeout=10).status_code == 200
    finally:
        s.cleanup()


def test_the_pages_get_the_refresh_csrf_value_from_get_auth_csrf(ui):
    """The refresh token's CSRF cookie keeps Path /auth (SPEC 4), so no page under /ui/ can read it:
    the interface asks GET /auth/csrf for its value before POST /auth/refresh (docs/ui.md)."""
    s = start_server()
    try:
        ui.use(s)
        ui.sign_up()
        seen = ui.d.execute_script("return document.cookie")
        assert "csrf_access_token" in seen and "csrf_refresh_token" not in seen
        jar = {c["name"]: c for c in ui.d.execute_cdp_cmd(
            "Network.getCookies", {"urls": [s.url + "/auth/refresh"]})["cookies"]}
        assert jar["csrf_refresh_token"]["path"] == "/auth" and not jar["csrf_refresh_token"]["httpOnly"]
        assert jar["refresh_token_cookie"]["path"] == "/auth" and jar["refresh_token_cookie"]["httpOnly"]
        got = ui.d.execute_async_script(
            "const done = arguments[0];"
            "fetch('/auth/csrf', {credentials: 'same-origin'}).then(r => r.json()).then(done, e => done(String(e)));")
        assert got == {"csrf_token": jar["csrf_refresh_token"]["value"]}

        # The access token gone (as after 15 minutes): the next page refreshes, asking /auth/csrf first.
        def routes():
            return [(e["route"], e["status"]) for e in s.log_events()
                    if e.get("event") == "access" and e.get("route") in ("/auth/csrf", "/auth/refresh")]
        api.wait_until(lambda: len(routes()) == 1, "the access line of the page's own GET /auth/csrf")
        before = len(routes())
        for name in ("access_token_cookie", "csrf_access_token"):
            ui.d.execute_cdp_cmd("Network.deleteCookies", {"name": name, "url": s.url + "/"})
        ui.d.find_element(By.LINK_TEXT, "Profile").click()
        ui.heading("Profile")
        ui.wait_text("Member since")
        api.wait_until(lambda: len(routes()) >= before + 2, "the refresh's access lines")
        assert routes()[before:] == [("/auth/csrf", 200), ("/auth/refresh", 200)]
        after = {c["name"]: c["value"] for c in ui.d.execute_cdp_cmd(
            "Network.getCookies", {"urls": [s.url + "/auth/refresh"]})["cookies"]}
        assert after["csrf_refresh_token"] != jar["csrf_refresh_token"]["value"], "rotated"
    finally:
        ui.blank()
        s.cleanup()
