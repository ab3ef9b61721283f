"""Two-step sign-in in the browser (SPEC 13, 17): turning it on from the QR code and the secret (codes
computed by pyotp, an independent implementation), the recovery codes shown once with Copy and
Download, the second step at sign-in, new codes, turning it off, deleting the account. Needs the
server side of SPEC 13."""
import os
import tempfile
import time

import pyotp
from selenium.webdriver.common.by import By

from conftest import STRONG, Client, wait_until


def code_at(secret, offset_steps=0):
    """A TOTP code of a step after the ones used so far (each step works once per user)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def open_security(ui):
    ui.d.find_element(By.LINK_TEXT, "Security").click()
    ui.heading("Security")
    ui.until(lambda d: "Two-step sign-in" in ui.text() and not d.find_elements(By.CSS_SELECTOR, "#tfa-title ~ .loading"),
             "the two-step status")


def saved_codes(ui):
    codes = [li.text.strip() for li in ui.d.find_elements(By.CSS_SELECTOR, "ul.codes li")]
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    done = ui.d.find_element(By.XPATH, "//button[normalize-space()='Done']")
    assert not done.is_enabled()  # only after "I have saved them"
    ui.d.find_element(By.ID, "codes-saved").click()
    ui.until(lambda d: done.is_enabled(), "Done enabled")
    return codes, done


def test_two_step_enable_sign_in_regenerate_disable(ui):
    downloads = tempfile.mkdtemp(prefix="sr-dl-")
    ui.d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    name = ui.sign_up()
    ui.grant_clipboard()
    open_security(ui)
    ui.wait_text("Off")
    ui.click("Turn on two-step sign-in")
    ui.expect_network_error(401, "/auth/2fa/totp/setup")
    ui.fill("Password", "not my password at all")
    ui.click("Continue")
    assert ui.form_error()
    ui.fill("Password", STRONG)
    ui.click("Continue")

    # The QR code is an image from a data: URL, drawn; the server's SVG never enters the DOM.
    img = ui.until(lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, "img.qr")), None), "the QR code")
    assert img.get_attribute("src").startswith("data:image/svg+xml;base64,")
    ui.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img), "the QR image drawn")
    assert ui.d.execute_script("return document.querySelectorAll('svg').length") == 0
    secret = ui.d.find_element(By.CSS_SELECTOR, ".secret-text").text.replace(" ", "")
    assert len(secret) >= 32

    ui.expect_network_error(401, "/auth/2fa/totp/confirm")
    wrong = "000000" if code_at(secret) != "000000" else "111111"
    ui.fill("Code from your app", wrong)
    ui.click("Turn on")
    assert ui.field_error("Code from your app")
    ui.fill("Code from your app", code_at(secret))
    ui.click("Turn on")
    ui.wait_text("Save these recovery codes now")
    codes, done = saved_codes(ui)

    ui.click("Copy")
    wait_until(lambda: all(c in ui.clipboard() for c in codes), "the codes on the clipboard")
    ui.click("Download")
    path = os.path.join(downloads, "strongroom-recovery-codes.txt")
    wait_until(lambda: os.path.exists(path) and all(c in open(path).read() for c in codes), "the downloaded codes")
    done.click()
    ui.wait_text("On")
    ui.wait_text("10 recovery codes left")

    # Sign in again: the second step, a wrong code, then a recovery code.
    ui.sign_out()
    ui.sign_in(name)
    ui.heading("Second step")
    assert ui.d.execute_script("return location.pathname + location.search + location.hash") == "/ui/signin/second-step"
    ui.expect_network_error(401, "/auth/signin/2fa")
    ui.fill("Code from your authenticator app", wrong)
    ui.click("Verify")
    assert ui.field_error("Code from your authenticator app")
    ui.click("Use a recovery code instead")
    ui.fill("Recovery code", codes[0])
    ui.click("Verify")
    ui.heading("Vault")
    assert ui.d.execute_script("return localStorage.length + sessionStorage.length") == 0

    # And with a code from the app.
    ui.sign_out()
    ui.sign_in(name)
    ui.heading("Second step")
    ui.fill("Code from your authenticator app", code_at(secret, 1))
    ui.click("Verify")
    ui.heading("Vault")

    open_security(ui)
    ui.wait_text("9 recovery codes left")
    ui.click("New recovery codes")
    ui.fill("Password", STRONG)
    ui.fill("Code from your app, or a recovery code", codes[1])
    ui.click("Create new codes")
    ui.wait_text("Save these recovery codes now")
    new_codes, done = saved_codes(ui)
    assert not set(new_codes) & set(codes)
    done.click()
    ui.wait_text("10 recovery codes left")

    # Turn it off: an old code no longer works; a new one does.
    ui.click("Turn off")
    ui.expect_network_error(401, "/auth/2fa/disable")
    ui.fill("Password", STRONG)
    ui.fill("Code from your app, or a recovery code", codes[2])
    ui.click("Turn off")
    assert ui.form_error()
    ui.fill("Code from your app, or a recovery code", new_codes[0])
    ui.click("Turn off")
    ui.wait_text("Two-step sign-in is off.")
    ui.wait_text("Turn on two-step sign-in")


def test_delete_account_needs_the_code_when_two_step_is_on(ui):
    c = Client(ui.server)
    c.signup()
    c.signin()
    secret = c.post("/auth/2fa/totp/setup", {"password": STRONG}).json()["secret"]
    r = c.post("/auth/2fa/totp/confirm", {"code": code_at(secret)})
    assert r.status_code == 200, r.text
    recovery = r.json()["recovery_codes"]

    ui.sign_in(c.username)
    ui.heading("Second step")
    ui.fill("Code from your authenticator app", code_at(secret, 1))
    ui.click("Verify")
    ui.heading("Vault")
    open_security(ui)
    danger = ui.d.find_element(By.CSS_SELECTOR, "form.danger")
    ui.fill("Password", STRONG, danger)
    ui.fill("Code from your app, or a recovery code", recovery[0], danger)
    ui.fill(f"Type your username ({c.username}) to confirm", c.username)
    ui.click("Delete my account")
    ui.heading("Sign in")
    assert "Your account was deleted." in ui.text()
    r = c.s.post(c.url("/auth/signin"), json={"username": c.username, "password": STRONG}, timeout=30)
    assert r.status_code == 401
