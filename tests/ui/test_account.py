"""Accounts in the browser: sign up, sign in, the handbook, links, sessions, errors in words, and the
keyboard alone (SPEC 17)."""
import threading
import time

import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import STRONG, Client, session_of, start_server, uname, wait_until


def test_sign_up_sign_in_edit_handbook_reload(ui):
    name = ui.sign_up()
    # Signed in straight after sign-up; the top bar names the user.
    assert name in ui.d.find_element(By.CSS_SELECTOR, ".usermenu").text
    ui.sign_out()
    assert "You have signed out." in ui.text()

    ui.sign_in(name)
    ui.heading("Vault")
    ui.d.find_element(By.LINK_TEXT, "Profile").click()
    ui.heading("Profile")
    ui.wait_text(f"{name}@example.org")
    assert "Not filled in yet." in ui.text()

    # The API's errors, in words, under their fields.
    ui.expect_network_error(400, "/personal/handbook")
    ui.fill("Age", "12")
    ui.fill("Phone", "call me maybe")
    ui.click("Save handbook")
    assert ui.field_error("Age")
    assert ui.field_error("Phone")
    assert ui.form_error()

    bio = "Line one\nLine <b>two</b> & \"three\""
    ui.fill("Full name", "Ada <script>Lovelace</script>")
    ui.fill("Age", "36")
    ui.fill("Phone", "+44 (20) 7946-0000")
    ui.fill("Address", "12 St James's Square, London")
    ui.fill("Bio", bio)
    ui.click("Save handbook")
    ui.wait_text("Handbook saved.")
    assert not ui.d.find_elements(By.CSS_SELECTOR, ".form-error")

    ui.d.refresh()
    ui.wait_ready()
    ui.heading("Profile")
    ui.until(lambda d: ui.field("Full name").get_attribute("value"), "the saved handbook")
    assert ui.field("Full name").get_attribute("value") == "Ada <script>Lovelace</script>"
    assert ui.field("Age").get_attribute("value") == "36"
    assert ui.field("Phone").get_attribute("value") == "+44 (20) 7946-0000"
    assert ui.field("Bio").get_attribute("value") == bio
    assert "Last saved" in ui.text()
    # Stored text stayed text: no element came from it.
    assert not ui.d.find_elements(By.CSS_SELECTOR, "main script, main b")

    # Clearing a field clears it in the API too.
    ui.fill("Address", "")
    ui.click("Save handbook")
    ui.wait_text("Handbook saved.")
    c = session_of(ui.server, name)
    assert c.get("/personal/handbook").json()["address"] is None

    # Nothing of the session was written to web storage.
    assert ui.d.execute_script("return localStorage.length + sessionStorage.length") == 0


def test_links_add_edit_delete(ui):
    ui.sign_up()
    ui.d.find_element(By.LINK_TEXT, "Links").click()
    ui.heading("Links")
    ui.wait_text("No links yet — add your first")

    ui.expect_network_error(400, "/social/links")
    ui.fill("Platform", "Mastodon")
    ui.fill("URL", "javascript:alert(1)")
    ui.click("Add link")
    assert ui.field_error("URL")

    ui.fill("URL", "https://example.social/@ada")
    ui.click("Add link")
    ui.wait_text("https://example.social/@ada")
    ui.fill("Platform", "GitHub")
    ui.fill("URL", "https://github.com/ada")
    ui.click("Add link")
    ui.wait_text("https://github.com/ada")
    assert "2 of 50" in ui.text()
    a = ui.d.find_element(By.PARTIAL_LINK_TEXT, "https://github.com/ada")
    assert a.get_attribute("target") == "_blank"
    assert set(a.get_attribute("rel").split()) == {"noopener", "noreferrer"}

    # Edit in place.
    ui.d.find_element(By.CSS_SELECTOR, "button[aria-label='Edit GitHub']").click()
    row = ui.d.find_element(By.CSS_SELECTOR, "form[aria-label='Edit GitHub']")
    ui.fill("URL", "https://github.com/ada-lovelace", row)
    ui.click("Save", row)
    ui.wait_text("https://github.com/ada-lovelace")
    ui.d.refresh()
    ui.wait_ready()
    ui.wait_text("https://github.com/ada-lovelace")

    # Delete asks first; Cancel keeps the link.
    ui.d.find_element(By.CSS_SELECTOR, "button[aria-label='Delete Mastodon']").click()
    ui.click("Cancel", ui.dialog())
    assert "https://example.social/@ada" in ui.text()
    ui.d.find_element(By.CSS_SELECTOR, "button[aria-label='Delete Mastodon']").click()
    ui.click("Delete", ui.dialog())
    ui.wait_gone("https://example.social/@ada")
    ui.d.refresh()
    ui.wait_ready()
    ui.wait_text("1 of 50")
    assert "https://example.social/@ada" not in ui.text()


def test_sessions_revoke_and_being_revoked(ui):
    name = ui.sign_up()
    other = session_of(ui.server, name)

    ui.d.find_element(By.LINK_TEXT, "Sessions").click()
    ui.heading("Sessions")
    ui.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "main li")) == 2, "two sessions")
    assert len(ui.d.find_elements(By.XPATH, "//span[@class='badge' and text()='This device']")) == 1
    assert "Python requests" in ui.text() and "Chrome on Linux" in ui.text()

    # Revoke the other session from the browser: its next request is refused at once.
    ui.click("Revoke")
    ui.click("Revoke", ui.dialog())
    ui.wait_text("Session revoked.")
    ui.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "main li")) == 1, "one session left")
    r = other.get("/personal/me", headers=other.bearer())
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"

    # Another session revokes the browser's: the browser's next step lands on Sign in, with why.
    third = session_of(ui.server, name)
    sessions = third.get("/auth/sessions").json()["sessions"]
    victim = [s for s in sessions if not s["current"]]
    assert len(victim) == 1
    assert third.delete(f"/auth/sessions/{victim[0]['id']}").status_code == 204
    ui.expect_network_error(401, "/auth/sessions")
    ui.expect_network_error(401, "/personal/me")
    ui.d.find_element(By.LINK_TEXT, "Sessions").click()
    ui.heading("Sign in")
    assert "Your session was ended" in ui.text()
    # The dead session's CSRF cookie and the interface's session hint are gone, so a reload goes
    # straight to the form.
    assert not [c for c in ui.cookies() if c.startswith("csrf_") or c == "strongroom_ui_session"]
    ui.open("/")
    ui.heading("Sign in")


def test_sign_out_everywhere(ui):
    name = ui.sign_up()
    other = session_of(ui.server, name)
    ui.d.find_element(By.LINK_TEXT, "Sessions").click()
    ui.heading("Sessions")
    ui.click("Sign out everywhere")
    ui.click("Sign out everywhere", ui.dialog())
    ui.heading("Sign in")
    assert "You have signed out." in ui.text()
    assert other.get("/personal/me", headers=other.bearer()).status_code == 401


def test_errors_in_words(ui):
    name = ui.sign_up()
    ui.sign_out()
    # Wrong password: the API's message at the top of the form.
    ui.expect_network_error(401, "/auth/signin")
    ui.sign_in(name, "not the right password at all")
    assert "Invalid username or password" in ui.form_error()
    # A taken username and a weak password: each message under its field.
    ui.expect_network_error(409, "/auth/signup")
    ui.expect_network_error(400, "/auth/signup")
    ui.open("/ui/signup")
    ui.fill("Username", name)
    ui.fill("Email", f"other-{name}@example.org")
    ui.fill("Password", "password")
    ui.click("Create account")
    assert ui.field_error("Password")
    ui.fill("Password", STRONG)
    ui.click("Create account")
    assert ui.form_error()
    # A submit button cannot be pressed twice while its request runs, and says it is busy.
    ui.fill("Username", uname("ui"))
    ui.d.execute_script("document.querySelector('form').requestSubmit()")
    busy = ui.d.execute_script("const b = document.querySelector('button[type=submit]'); return [b.disabled, b.getAttribute('aria-busy')]")
    assert busy == [True, "true"]
    ui.heading("Vault")


def test_rate_limited_says_when_to_retry(ui):
    s = start_server(rate_limits="signin=1/120", rate_limit_scale=1)
    try:
        ui.use(s)
        ui.expect_network_error(401, "/auth/signin")
        ui.expect_network_error(429, "/auth/signin")
        ui.sign_in("nobody_here", "some wrong password 1")
        ui.form_error()
        ui.fill("Password", "some wrong password 2")
        ui.click("Sign in")
        ui.until(lambda d: "Too many attempts" in ui.form_error(), "the 429 message")
        msg = ui.form_error()
        assert "try again in" in msg and ("minute" in msg or "second" in msg), msg
    finally:
        ui.blank()
        s.cleanup()


def test_busy_server_says_so(ui):
    # One slow hash at a time and one waiting: two clients signing in keep the pool full, and the
    # browser's sign-in is then refused with 503 -- which the page says in words.
    s = start_server(hash_workers=1, hash_max_queue=1, argon2_memory_kib=65536, argon2_passes=8)
    stop = threading.Event()
    try:
        ui.use(s)
        c = Client(s)
        c.signup()

        def flood():
            while not stop.is_set():
                requests.post(s.url + "/auth/signin", json={"username": c.username, "password": "wrong wrong wrong 1"}, timeout=60)
        threads = [threading.Thread(target=flood, daemon=True) for _ in range(3)]
        for t in threads:
            t.start()
        ui.expect_network_error(401, "/auth/signin")
        ui.expect_network_error(503, "/auth/signin")
        ui.open("/ui/signin")
        deadline = time.time() + 60
        while True:
            ui.fill("Username or email", c.username)
            ui.fill("Password", "wrong wrong wrong 2")
            ui.click("Sign in")
            msg = ui.form_error()
            if "busy" in msg:
                break
            assert time.time() < deadline, f"never saw the busy message; last: {msg}"
        assert "strongroom is busy right now" in msg
    finally:
        stop.set()
        ui.blank()
        s.cleanup()


def test_keyboard_only_sign_in_and_dialogs(ui):
    name = ui.sign_up()
    ui.sign_out()
    ui.open("/ui/signin")
    ui.heading("Sign in")
    keys = ActionChains(ui.d)
    # The username field has the focus; type, Tab to the password, type, Enter.
    assert ui.d.switch_to.active_element.get_attribute("autocomplete") == "username"
    keys.send_keys(name).send_keys(Keys.TAB).send_keys(STRONG).send_keys(Keys.ENTER).perform()
    ui.heading("Vault")

    # The focus ring is visible on whatever the keyboard reaches.
    ui.d.find_element(By.TAG_NAME, "body").click()
    for _ in range(3):
        ActionChains(ui.d).send_keys(Keys.TAB).perform()
        el = ui.d.switch_to.active_element
        style = ui.d.execute_script("const s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth]", el)
        assert style[0] != "none" and style[1] != "0px", (el.text, style)

    # Tab through the navigation to Profile, press Enter.
    for _ in range(20):
        ActionChains(ui.d).send_keys(Keys.TAB).perform()
        if ui.d.switch_to.active_element.text.strip() == "Profile":
            break
    ActionChains(ui.d).send_keys(Keys.ENTER).perform()
    ui.heading("Profile")

    # A dialog keeps the focus inside and closes on Escape, giving the focus back.
    ui.d.find_element(By.LINK_TEXT, "Links").click()
    ui.heading("Links")
    ui.fill("Platform", "Site")
    ui.fill("URL", "https://example.com/")
    ui.click("Add link")
    ui.wait_text("https://example.com/")
    opener = ui.d.find_element(By.CSS_SELECTOR, "button[aria-label='Delete Site']")
    opener.send_keys(Keys.ENTER)
    dlg = ui.dialog()
    for _ in range(8):
        ActionChains(ui.d).send_keys(Keys.TAB).perform()
        inside = ui.d.execute_script("return !!document.activeElement.closest('dialog')")
        on_page = ui.d.execute_script("return document.activeElement !== document.body")
        assert inside or not on_page, "the focus left the dialog for the page behind it"
    ActionChains(ui.d).send_keys(Keys.ESCAPE).perform()
    wait_until(lambda: not ui.d.find_elements(By.CSS_SELECTOR, "dialog[open]"), "the dialog to close")
    assert ui.d.switch_to.active_element == opener
    assert "https://example.com/" in ui.text()
    del dlg


def test_signed_out_visitor_is_sent_to_sign_in_and_back(ui):
    ui.open("/ui/links")
    ui.heading("Sign in")
    assert ui.d.execute_script("return location.pathname") == "/ui/signin"
    name = uname("ui")
    c = Client(ui.server)
    c.signup(username=name)
    ui.fill("Username or email", f"{name}@example.org")
    ui.fill("Password", STRONG)
    ui.click("Sign in")
    ui.heading("Links")  # where the visitor wanted to go
    ui.open("/ui/nothing-here")
    ui.heading("Page not found")
