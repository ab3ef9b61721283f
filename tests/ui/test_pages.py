"""Every page, at a desktop width and at 360 px: it renders, nothing scrolls sideways, and the browser
logs no error and no CSP violation (the `ui` fixture checks the log). With SR_UI_SCREENSHOTS=1 the
walk is also done in the dark theme and every page is captured into docs/ui/ (docs/ui.md)."""
import base64
import os

import pytest
import requests
from selenium.webdriver.common.by import By

from conftest import ROOT, VAULT_PW, Client

# Full-page captures take a while: only when asked for (docs/ui.md), with the dark theme too.
SHOTS = os.path.join(ROOT, "docs", "ui") if os.environ.get("SR_UI_SCREENSHOTS") == "1" else None
THEMES = ["light", "dark"] if SHOTS else ["light"]
WIDTHS = {"desktop": (1280, 860), "mobile": (360, 780)}


def viewport(ui, width, height, dark=False):
    ui.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    ui.d.execute_cdp_cmd("Emulation.setEmulatedMedia",
                         {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})


def shoot(ui, name):
    assert ui.d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), \
        f"{name}: the page scrolls sideways"
    if not SHOTS:
        return
    png = ui.d.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    with open(os.path.join(SHOTS, f"{name}.png"), "wb") as f:
        f.write(base64.b64decode(png["data"]))


def settle(ui):
    ui.until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".loading"), "loading to finish")
    ui.d.execute_script("for (const t of document.querySelectorAll('.toast')) t.remove()")


@pytest.fixture
def clean_viewport(ui):
    yield
    ui.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_every_page_renders_cleanly_at_every_width(ui, clean_viewport):
    # A user with some of everything, made through the API.
    c = Client(ui.server)
    c.signup(username="ada_lovelace")
    c.signin()
    c.put("/personal/handbook", {"full_name": "Ada Lovelace", "age": 36, "phone": "+44 20 7946 0000",
                                 "address": "12 St James's Square, London", "bio": "Wrote the first program.\nLikes engines."})
    for platform, url in [("GitHub", "https://github.com/ada"), ("Mastodon", "https://example.social/@ada")]:
        assert c.post("/social/links", {"platform": platform, "url": url}).status_code == 201
    assert c.post("/vault/setup", {"vault_password": VAULT_PW}).status_code == 201
    vt = c.post("/vault/unlock-vault", {"vault_password": VAULT_PW}).json()["vault_token"]
    for d, a in [("github.com", "ada"), ("mail.example.org", "ada.lovelace@example.org"),
                 ("bank.example", "customer 0042"), ("news.example.com", "ada")]:
        assert c.post("/vault/add", {"domain": d, "account_name": a, "pin_or_password": "correct-horse-" + d,
                                     "url": f"https://{d}/", "notes": "Recovery email is the work one."},
                      headers={"X-Vault-Token": vt}).status_code == 201
    c.post("/vault/lock")
    # The second-step and 2FA status calls answer 404 on a server without SPEC 13.
    if requests.get(ui.server.url + "/auth/2fa", headers=c.bearer(), timeout=10).status_code == 404:
        ui.expect_network_error(404, "/auth/2fa")

    for theme in THEMES:
        for label, (w, hgt) in WIDTHS.items():
            if theme == "dark" and label == "mobile":
                continue
            viewport(ui, w, hgt, dark=theme == "dark")
            tag = f"{label}" if theme == "light" else f"{label}-dark"
            ui.d.execute_cdp_cmd("Network.clearBrowserCookies", {})
            ui.open("/ui/signin")
            ui.heading("Sign in")
            shoot(ui, f"signin-{tag}")
            ui.open("/ui/signup")
            ui.heading("Create account")
            shoot(ui, f"signup-{tag}")
            ui.sign_in(c.username)
            ui.heading("Vault")
            settle(ui)
            ui.until(lambda d: "Your vault is locked" in ui.text(), "the unlock form")
            shoot(ui, f"vault-locked-{tag}")
            ui.unlock_vault()
            ui.wait_text("news.example.com")
            ui.entry("github.com").find_element(By.CSS_SELECTOR, ".entry-toggle").click()
            ui.wait_text("Recovery email is the work one.")
            shoot(ui, f"vault-{tag}")
            ui.click("Add entry")
            ui.dialog()
            shoot(ui, f"vault-add-{tag}")
            ui.click("Cancel", ui.dialog())
            ui.click("Lock now")
            ui.wait_text("You locked the vault.")
            for path, heading in [("/ui/profile", "Profile"), ("/ui/links", "Links"),
                                  ("/ui/sessions", "Sessions"), ("/ui/security", "Security")]:
                ui.d.find_element(By.CSS_SELECTOR, f"a[href='{path}']").click() if label == "desktop" else ui.open(path)
                ui.heading(heading)
                settle(ui)
                shoot(ui, f"{heading.lower()}-{tag}")
            if label == "mobile":
                ui.click("Menu")
                ui.until(lambda d: d.find_element(By.ID, "nav").is_displayed(), "the folded navigation")
                shoot(ui, f"menu-{tag}")
                ui.click("Menu")
            ui.sign_out()
    # A new user's empty vault (set-up form).
    viewport(ui, *WIDTHS["desktop"])
    ui.sign_up()
    settle(ui)
    ui.until(lambda d: "Set up your vault" in ui.text(), "the set-up form")
    shoot(ui, "vault-setup-desktop")


def test_the_log_check_sees_csp_violations(ui):
    """The check every test ends with can fail: markup that the CSP forbids (inline script, inline
    style, a script from another origin) is refused by the browser, and the log says so."""
    ui.open("/ui/signin")
    ui.heading("Sign in")
    ui.d.execute_script("""
        const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.append(s);
        const d = document.createElement('div'); d.setAttribute('style', 'color: red'); document.body.append(d);
        const e = document.createElement('script'); e.src = 'http://localhost:9/x.js'; document.body.append(e);
    """)
    ui.until(lambda d: d.execute_script("return document.readyState") == "complete", "the page")
    seen = []

    def all_three(_):
        seen.extend(ui.problems())  # each call drains the log
        text = "\n".join(seen)
        return "inline script" in text and "inline style" in text and "localhost:9/x.js" in text
    ui.until(all_three, "the three violations in the log")
    assert all("Content Security Policy" in p for p in seen), seen
    assert ui.d.execute_script("return window.__ran") is None
