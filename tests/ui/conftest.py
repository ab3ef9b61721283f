"""Browser tests of the web interface (SPEC 17): Selenium driving Debian's headless Chromium against
the real strongroom binary on SQLite. One browser is shared by the whole run (it takes seconds to
start); each test signs up its own users, and servers with special settings (short TTLs) are
separate origins, so their cookies never mix."""
import importlib.util
import os
import re
import shutil
import tempfile
import time

import pytest
from selenium import webdriver
from selenium.common.exceptions import (ElementClickInterceptedException, NoSuchElementException, StaleElementReferenceException,
                                        TimeoutException, WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WEB = os.path.join(ROOT, "src", "ui", "web")

# The black-box suite's Server and Client (one copy of the process harness). This suite runs on
# SQLite only, so it does not need the PostgreSQL URL that module asks for.
os.environ.setdefault("SR_TEST_ALLOW_NO_PG", "1")
_spec = importlib.util.spec_from_file_location("sr_api_conftest", os.path.join(ROOT, "tests", "api", "conftest.py"))
api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api)
Server, Client, uname, STRONG = api.Server, api.Client, api.uname, api.STRONG

VAULT_PW = "the vault speaks its own words 7"
CHROMIUM = os.environ.get("SR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SR_CHROMEDRIVER", "/usr/bin/chromedriver")


def session_of(server, username, password=STRONG):
    """Another session of a user the browser created: a signed-in API client (its own cookies)."""
    c = Client(server)
    c.username, c.password = username, password
    c.signin()
    return c


def start_server(**env):
    settings = {"STRONGROOM_RATE_LIMIT_SCALE": "1000"}
    settings.update({f"STRONGROOM_{k.upper()}": str(v) for k, v in env.items()})
    return Server(env=settings).start()


@pytest.fixture(scope="session")
def server():
    s = start_server()
    yield s
    s.cleanup()


@pytest.fixture(scope="session")
def driver():
    profile = tempfile.mkdtemp(prefix="sr-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1280,900", f"--user-data-dir={profile}"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.set_script_timeout(30)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


# find(scope, tag, text): the first visible element of that tag whose text is exactly `text`.
FIND_JS = """
const norm = (el) => el.textContent.replace(/\\s+/g, ' ').trim();
const find = (scope, tag, text) => [...(scope || document).querySelectorAll(tag)]
  .find(el => norm(el) === text && el.getClientRects().length > 0 && !el.closest('[hidden]')) || null;
"""

# A network error the test expects, e.g. (401, "/auth/signin") for a wrong password.
NETWORK_RE = re.compile(r"^(?P<url>\S+) - Failed to load resource: the server responded with a status of (?P<status>\d+)")


class Browser:
    """The shared browser, pointed at one server, with helpers that find things as a user does: by
    label, by button text, by heading."""

    def __init__(self, driver, server):
        self.d = driver
        self.server = server
        self.host = "127.0.0.1"
        self.allowed = []  # (status, path) network errors this test expects

    @property
    def base(self):
        return f"http://{self.host}:{self.server.port}"

    def use(self, server, host="127.0.0.1"):
        """Points the helpers at another server. Cookies ignore ports: a test that keeps two servers
        open at once reaches the second by another host name ("localhost"), so that their cookies
        stay apart."""
        self.server = server
        self.host = host
        return self

    def blank(self):
        """Leaves every page (one tab left, on about:blank): done before a test stops a server, so
        that no page of it keeps calling a server that is gone."""
        while len(self.d.window_handles) > 1:
            self.d.switch_to.window(self.d.window_handles[-1])
            self.d.close()
        self.d.switch_to.window(self.d.window_handles[0])
        self.d.get("about:blank")

    # ---- navigation and waiting ----
    def open(self, path="/"):
        self.d.get(self.base + path)
        self.wait_ready()
        return self

    def wait_ready(self):
        self.until(lambda d: d.execute_script("return document.readyState") == "complete"
                   and not d.find_elements(By.CSS_SELECTOR, "#app > .boot"), "the page to start")

    def until(self, cond, what, timeout=15):
        try:
            # The page re-renders as it goes: an element found a moment ago may be gone; look again.
            return WebDriverWait(self.d, timeout, poll_frequency=0.05,
                                 ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(cond)
        except TimeoutException:
            raise AssertionError(f"timed out waiting for {what}; at {self.d.current_url}; "
                                 f"page says: {self.text()[:600]!r}") from None

    def text(self):
        try:
            return self.d.execute_script("return document.body ? document.body.innerText : ''")
        except WebDriverException:
            return ""

    def wait_path(self, path, timeout=15):
        self.until(lambda d: d.execute_script("return location.pathname") == path, f"path {path}", timeout)

    def wait_text(self, text, timeout=15):
        self.until(lambda d: text in self.text(), f"text {text!r}", timeout)

    def wait_gone(self, text, timeout=15):
        self.until(lambda d: text not in self.text(), f"text {text!r} to disappear", timeout)

    def heading(self, text, timeout=15):
        self.until(lambda d: d.execute_script(FIND_JS + "return [...document.querySelectorAll('h1')].some(h => norm(h) === arguments[0])", text),
                   f"heading {text!r}", timeout)

    # ---- finding things as a user does ----
    # Elements are looked up in the page with one script call each (a WebDriver round trip per
    # element would make every wait slow).
    def field(self, label, scope=None):
        return self.until(lambda d: d.execute_script(
            FIND_JS + "const l = find(arguments[0], 'label', arguments[1]); return l && document.getElementById(l.htmlFor)",
            scope, label), f"a visible field labelled {label!r}")

    def fill(self, label, value, scope=None):
        el = self.field(label, scope)
        el.clear()
        el.send_keys(value)
        return el

    def button(self, text, scope=None, timeout=15):
        return self.until(lambda d: d.execute_script(
            FIND_JS + "const b = find(arguments[0], 'button', arguments[1]); return b && !b.disabled ? b : null",
            scope, text), f"button {text!r}", timeout)

    def click(self, text, scope=None):
        # A toast that is still fading out may lie over the button for a moment (seen under
        # AddressSanitizer's slower server): an intercepted click did nothing, so wait until the
        # button itself takes it.
        def clicked(d):
            try:
                self.button(text, scope).click()
                return True
            except ElementClickInterceptedException:
                return False
        self.until(clicked, f"button {text!r} to take the click")

    def dialog(self, timeout=15):
        return self.until(lambda d: next((x for x in d.find_elements(By.CSS_SELECTOR, "dialog[open]")), None),
                          "a dialog", timeout)

    def field_error(self, label):
        el = self.field(label)
        err = self.d.find_element(By.ID, [i for i in el.get_attribute("aria-describedby").split() if i.endswith("-err")][0])
        self.until(lambda d: err.is_displayed() and err.text.strip(), f"an error under {label!r}")
        return err.text.strip()

    def form_error(self):
        el = self.until(lambda d: next((e for e in d.find_elements(By.CSS_SELECTOR, ".form-error") if e.is_displayed()), None),
                        "an error at the top of a form")
        return el.text.strip()

    def cookies(self):
        return {c["name"]: c for c in self.d.get_cookies()}

    # ---- the log: console errors and CSP violations ----
    def expect_network_error(self, status, path):
        self.allowed.append((status, path))

    def problems(self):
        out = []
        for e in self.d.get_log("browser"):
            if e["level"] not in ("SEVERE", "WARNING"):
                continue
            msg = e["message"]
            m = NETWORK_RE.match(msg)
            if e["source"] == "network" and m:
                path = "/" + m.group("url").split("/", 3)[-1].split("?")[0]
                if (int(m.group("status")), path) in self.allowed:
                    continue
            if e["level"] == "WARNING" and "Content-Security-Policy" not in msg and "Refused" not in msg:
                continue  # other warnings (e.g. deprecations from the browser itself) are not ours
            out.append(f"{e['source']}: {msg}")
        return out

    # ---- flows used by several tests ----
    def sign_up(self, username=None, password=STRONG):
        username = username or uname("ui")
        self.open("/ui/signup")
        self.fill("Username", username)
        self.fill("Email", f"{username}@example.org")
        self.fill("Password", password)
        self.click("Create account")
        self.heading("Vault")
        return username

    def sign_in(self, username, password=STRONG):
        self.open("/ui/signin")
        self.heading("Sign in")
        self.fill("Username or email", username)
        self.fill("Password", password)
        self.click("Sign in")

    def sign_out(self):
        self.d.find_element(By.CSS_SELECTOR, ".usermenu > button").click()
        self.click("Sign out")
        self.heading("Sign in")

    def set_up_vault(self, password=VAULT_PW):
        self.open("/ui/vault")
        self.until(lambda d: "Set up your vault" in self.text(), "the vault set-up form")
        self.fill("Vault password", password)
        self.fill("Vault password again", password)
        self.click("Create vault")
        self.wait_text("Your vault is locked")

    def unlock_vault(self, password=VAULT_PW):
        self.fill("Vault password", password)
        self.click("Unlock")
        self.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".countdown"), "the unlocked vault")

    def add_entry(self, domain, account, password, url="", notes=""):
        self.click("Add entry")
        dlg = self.dialog()
        self.fill("Site or app", domain, dlg)
        self.fill("Account", account, dlg)
        self.fill("Password or PIN", password, dlg)
        if url:
            self.fill("URL (optional)", url, dlg)
        if notes:
            self.fill("Notes (optional)", notes, dlg)
        self.button("Add entry", dlg).click()
        self.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"), "the dialog to close")
        self.wait_text(domain)

    def entry(self, domain):
        return self.until(lambda d: d.execute_script(
            FIND_JS + "const t = find(null, 'li[data-entry] .title', arguments[0]); return t && t.closest('li')", domain),
            f"the vault entry {domain!r}")

    def grant_clipboard(self):
        self.d.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": self.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})

    def clipboard(self):
        return self.d.execute_async_script(
            "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('ERROR ' + e));")

    def set_clipboard(self, text):
        return self.d.execute_async_script(
            "const done = arguments[1]; navigator.clipboard.writeText(arguments[0]).then(() => done('ok'), e => done('ERROR ' + e));",
            text)


@pytest.fixture
def ui(driver, server):
    """The shared browser, clean (no cookies of any server, one tab, desktop size), whose log must
    stay free of errors and CSP violations during the test."""
    b = Browser(driver, server)
    b.blank()
    driver.set_window_size(1280, 900)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get_log("browser")  # drop what earlier tests left
    yield b
    problems = b.problems()
    assert not problems, "the browser logged errors:\n" + "\n".join(problems)


def wait_until(cond, what, timeout=15, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
