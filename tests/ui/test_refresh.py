"""One refresh for every tab (SPEC 17, docs/ui.md): with a 3-second access token, two tabs that need
the API at the same moment share one POST /auth/refresh (the Web Lock), so the server never sees the
same refresh token twice -- which it would punish by ending the session (docs/api.md, strict reuse
detection). And a 401 that a refresh can cure is refreshed and sent again, once."""
from selenium.webdriver.common.by import By

from conftest import start_server, wait_until

# Test instrumentation, run in each tab: when "go" arrives on this channel, follow the given link at
# once. A BroadcastChannel message reaches a background tab without the timer throttling that a
# setTimeout there would suffer, so both tabs act at the same moment.
ARM = """
const ch = new BroadcastChannel('sr-test');
window.__go = (path) => { window.__target = path; };
ch.onmessage = () => { document.querySelector(`a[href="${window.__target}"]`).click(); };
"""
FIRE = "new BroadcastChannel('sr-test').postMessage('go');"


def access_expired(ui):
    return "csrf_access_token" not in ui.d.execute_script("return document.cookie")


def refreshes(server):
    return [e for e in server.log_events() if e.get("event") == "access" and e.get("route") == "/auth/refresh"]


def test_two_tabs_refreshing_at_the_same_moment_stay_signed_in(ui):
    s = start_server(access_ttl=3)
    try:
        ui.use(s)
        ui.sign_up()
        a = ui.d.current_window_handle
        ui.d.execute_script(ARM)
        ui.d.switch_to.new_window("tab")
        b = ui.d.current_window_handle
        ui.open("/ui/profile")
        ui.heading("Profile")
        ui.d.execute_script(ARM)

        pages = [("/ui/sessions", "Sessions", "/ui/links", "Links"),
                 ("/ui/profile", "Profile", "/ui/vault", "Vault")]
        for rnd, (pa, ha, pb, hb) in enumerate(pages, 1):
            ui.d.switch_to.window(a)
            ui.d.execute_script("window.__go(arguments[0])", pa)
            ui.d.switch_to.window(b)
            ui.d.execute_script("window.__go(arguments[0])", pb)
            # Both tabs wait until the access token (and its CSRF cookie) has expired...
            ui.until(lambda d: access_expired(ui), "the access token to expire", timeout=20)
            # ...then both need the API at once.
            ui.d.execute_script(FIRE)
            ui.heading(hb)
            ui.d.switch_to.window(a)
            ui.heading(ha)
            ui.until(lambda d: d.find_elements(By.CSS_SELECTOR, "main li, main .facts, main .card"), "tab A's data")
            ui.d.switch_to.window(b)
            ui.until(lambda d: d.find_elements(By.CSS_SELECTOR, "main li, main .facts, main .card"), "tab B's data")
            # One refresh for both tabs, every round.
            wait_until(lambda: len(refreshes(s)) >= rnd, "the refresh of this round")
            assert len(refreshes(s)) == rnd, refreshes(s)

        events = s.log_events()
        assert all(e.get("status") == 200 for e in refreshes(s)), refreshes(s)
        assert not [e for e in events if e.get("event") == "auth.token.reuse"]
        assert not [e for e in events if e.get("event") == "access" and e.get("status") == 401]

        assert "Sign in" not in [h.text for h in ui.d.find_elements(By.TAG_NAME, "h1")]
    finally:
        ui.blank()
        s.cleanup()


def test_a_401_the_refresh_can_cure_is_refreshed_and_sent_again_once(ui):
    # The access cookie goes missing while its CSRF cookie stays: the tab cannot know before it asks,
    # meets a 401, refreshes and sends the request again, once. The access token lives for the
    # default 15 minutes here, so no expiry can turn the 401 into an early refresh on a slow machine
    # (with a 3-second token, a run under ASan once took longer than that between the cookie's
    # deletion and the request).
    s = start_server()
    try:
        ui.use(s)
        ui.sign_up()
        ui.open("/ui/profile")
        ui.wait_text("Member since")
        before = len(refreshes(s))
        ui.expect_network_error(401, "/auth/sessions")
        ui.d.execute_cdp_cmd("Network.deleteCookies", {"name": "access_token_cookie", "url": s.url + "/"})
        assert not access_expired(ui)
        ui.d.find_element(By.LINK_TEXT, "Sessions").click()
        ui.heading("Sessions")
        ui.until(lambda d: d.find_elements(By.CSS_SELECTOR, "main li"), "the sessions")
        wait_until(lambda: len(refreshes(s)) == before + 1, "one refresh")

        def sessions_calls():
            return [e["status"] for e in s.log_events() if e.get("event") == "access" and e.get("route") == "/auth/sessions"]
        # The log line of a request follows its answer: wait for the retry's.
        wait_until(lambda: sessions_calls() == [401, 200], "a 401, then the retry's 200")
        assert len(refreshes(s)) == before + 1
        assert all(e.get("status") == 200 for e in refreshes(s)), refreshes(s)
        assert "Sign in" not in [h.text for h in ui.d.find_elements(By.TAG_NAME, "h1")]
    finally:
        ui.blank()
        s.cleanup()
