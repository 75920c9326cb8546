"""Rate limits and sign-in throttling cannot be escaped by cookies or hidden behind a proxy."""

from __future__ import annotations

import secrets

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory

from support import ratelimit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    # One fixed moment: a test never straddles two rate-limit windows.
    monkeypatch.setattr(ratelimit, "_now", lambda: 1_800_000_030.0, raising=False)
    cache.clear()
    yield
    cache.clear()


def test_a_random_session_cookie_per_request_does_not_buy_a_fresh_bucket(settings):
    settings.RATE_LIMIT_SEARCH_PER_MINUTE = 3
    settings.RATE_LIMIT_PER_IP_FACTOR = 100  # only the per-client bucket is under test
    statuses = []
    for _ in range(6):
        c = Client()
        c.cookies["sessionid"] = secrets.token_hex(16)
        statuses.append(c.get("/search/", {"q": "reset password"}).status_code)
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]


def test_each_ip_has_a_budget_whatever_its_clients_claim(settings):
    settings.RATE_LIMIT_ASK_PER_MINUTE = 2
    settings.RATE_LIMIT_PER_IP_FACTOR = 2
    rf = RequestFactory()
    results = []
    for n in range(6):
        request = rf.post("/ask/", REMOTE_ADDR="192.0.2.9")
        request.user = UserFactory(username=f"ip-user-{n}")  # a new signed-in client each time
        results.append(ratelimit.check(request, scope="ask"))
    assert results[:4] == [None] * 4
    assert results[4] is not None and results[4].limit == 4


def test_behind_a_trusted_proxy_clients_are_told_apart_and_cannot_spoof(settings):
    rf = RequestFactory()
    settings.TRUSTED_PROXY_HOPS = 0
    proxied = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert ratelimit.client_ip(proxied) == "10.0.0.1"
    settings.TRUSTED_PROXY_HOPS = 1
    assert ratelimit.client_ip(proxied) == "198.51.100.4"
    # A client prepending its own X-Forwarded-For entry does not change what nginx appended.
    spoof = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.4")
    assert ratelimit.client_ip(spoof) == "198.51.100.4"
    junk = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert ratelimit.client_ip(junk) == "10.0.0.1"

    settings.RATE_LIMIT_SEARCH_PER_MINUTE = 2
    settings.RATE_LIMIT_PER_IP_FACTOR = 1
    a = [
        Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.4").get(
            "/search/", {"q": "wifi"}
        )
        for _ in range(3)
    ]
    b = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.5").get(
        "/search/", {"q": "wifi"}
    )
    assert [r.status_code for r in a] == [200, 200, 429]
    assert b.status_code == 200, "another client behind the same proxy has its own bucket"


def test_sign_in_is_throttled_after_repeated_failures(settings):
    settings.LOGIN_MAX_FAILURES = 3
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = UserFactory(username="throttle_target")
    user.set_password("right-password-1")
    user.save()
    c = Client()
    for _ in range(3):
        r = c.post("/accounts/login/", {"username": "throttle_target", "password": "wrong"})
        assert r.status_code == 200
    r = c.post("/accounts/login/", {"username": "throttle_target", "password": "right-password-1"})
    assert r.status_code == 429 and "Retry-After" in r
    assert "_auth_user_id" not in c.session
    # The Django admin's sign-in is refused too (through the authentication backend).
    r = c.post("/admin/login/", {"username": "throttle_target", "password": "right-password-1"})
    assert "_auth_user_id" not in c.session
    # Another IP is not locked out of the account.
    other = Client(REMOTE_ADDR="192.0.2.77")
    r = other.post(
        "/accounts/login/", {"username": "throttle_target", "password": "right-password-1"}
    )
    assert r.status_code == 302
