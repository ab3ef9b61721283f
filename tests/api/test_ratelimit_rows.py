"""SPEC 8 rows that had no test of their own, at their default values (rate_limit_scale 1): refresh
10 per minute per session; change-password, vault change-password and delete-account 5 per hour
per user; any other route 600 per minute per user when authenticated, 120 per minute per IP
otherwise. (signin, signup and unlock-vault: test_ratelimit.py and test_vault.py.)"""
import time

import pytest
import requests

from conftest import Client, assert_error, unlocked
from test_ratelimit import call


@pytest.fixture
def limited(make_server):
    return make_server(env={"STRONGROOM_RATE_LIMIT_SCALE": "1"})


def admitted_until_limited(send, limit, period):
    """Sends until the first 429 and returns it. The counters are GCRA: a burst of `limit`, then one
    more every period/limit seconds, so the number admitted lies between `limit` and `limit` plus
    the slots that came back while sending (these rows refill fast: 100 ms, 500 ms)."""
    t0, admitted = time.monotonic(), 0
    while True:
        r = send()
        if r.status_code == 429:
            break
        admitted += 1
        assert admitted <= 3 * limit, "never limited"
    elapsed = time.monotonic() - t0
    assert limit <= admitted <= limit + int(elapsed * limit / period) + 1, (admitted, elapsed)
    return r


def limited_with(r, limit):
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["RateLimit-Limit"] == str(limit) and r.headers["RateLimit-Remaining"] == "0"


def test_refresh_ten_per_minute_per_session(limited):
    c = Client(limited)
    c.signup()
    c.signin()
    other = c.another_session()
    token = c.refresh
    for i in range(10):  # each refresh rotates: the limit follows the session, not the token
        r = requests.post(limited.url + "/auth/refresh", json={"refresh_token": token})
        assert r.status_code == 200, (i, r.text)
        assert r.headers["RateLimit-Limit"] == "10" and r.headers["RateLimit-Remaining"] == str(9 - i)
        token = r.json()["refresh_token"]
    limited_with(requests.post(limited.url + "/auth/refresh", json={"refresh_token": token}), 10)
    # Another session of the same user has its own bucket; the refused token was not spent.
    assert requests.post(limited.url + "/auth/refresh", json={"refresh_token": other.refresh}).status_code == 200


def test_password_routes_five_per_hour_per_user(limited):
    c = unlocked(limited)
    routes = [
        ("/auth/change-password", {"current_password": "not the password!", "new_password": "a fresh long passphrase 9"}),
        ("/vault/change-password", {"current_vault_password": "not the vault pw!", "new_vault_password": "fresh vault words 99"}),
        ("/auth/delete-account", {"password": "not the password!"}),
    ]
    for path, body in routes:  # each route its own bucket: every attempt counts, failed or not
        for i in range(5):
            r = c.post(path, body)
            assert r.status_code == 401, (path, i, r.text)
            assert r.headers["RateLimit-Limit"] == "5" and r.headers["RateLimit-Remaining"] == str(4 - i)
        limited_with(c.post(path, body), 5)
    # Per user: another session of the same user is limited too, another user is not.
    other_session = c.another_session()
    limited_with(other_session.post("/auth/delete-account", {"password": "not the password!"}), 5)
    stranger = Client(limited)
    stranger.signup()
    stranger.signin()
    assert_error(stranger.post("/auth/delete-account", {"password": "not the password!"}), 401, "invalid_credentials")
    assert c.get("/personal/me").status_code == 200  # nothing else of the user is limited


def test_authenticated_routes_600_per_minute_per_user(limited):
    """The bucket is the user's: two sessions of one user from two addresses, taking turns, share
    one 600 (a bucket per session or per address would admit 1200); another user is not limited."""
    c = Client(limited)
    c.signup()
    c.signin()
    other = c.another_session()
    turn = iter(range(10 ** 6))

    def send():
        if next(turn) % 2:
            return call(limited, "GET", "/auth/sessions", source="127.0.20.1", headers=other.bearer())
        return c.get("/personal/me")
    r = admitted_until_limited(send, 600, 60)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["code"] == "rate_limited"
    stranger = Client(limited)
    stranger.signup()
    stranger.signin()
    assert stranger.get("/personal/me").status_code == 200


def test_anonymous_routes_120_per_minute_per_ip(limited):
    """Anonymous routes count against the general per-IP row (here refresh with a garbage token)."""
    send = lambda: call(limited, "POST", "/auth/refresh", {"refresh_token": "x"}, source="127.0.21.1")
    assert send().status_code == 401
    r = admitted_until_limited(send, 120 - 1, 60 * (120 - 1) / 120)  # one of the 120 already spent
    assert_error(r, 429, "rate_limited")
    assert call(limited, "POST", "/auth/refresh", {"refresh_token": "x"}, source="127.0.21.2").status_code == 401
