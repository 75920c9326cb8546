"""Shared setup for fault tests: a small published KB and generous rate limits."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from tests.factories import UserFactory, make_article

PASSWORD_BODY = (
    "## Reset your password\n\n"
    "Open Settings, choose Account and press Reset password. "
    "We email you a reset link that is valid for 24 hours.\n\n"
    "## If the email does not arrive\n\nCheck the spam folder, then request a new link."
)
WIFI_BODY = (
    "## Connect the TV to Wi-Fi\n\n"
    "Open Settings, General, Network and choose your wireless network. "
    "Enter the Wi-Fi password with the remote."
)


@pytest.fixture(autouse=True)
def _reliability_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.RATE_LIMIT_ASK_PER_MINUTE = 10_000
    settings.RATE_LIMIT_SEARCH_PER_MINUTE = 10_000
    settings.ANSWER_STREAM_DELAY_MS = 0
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        cache.clear()


@pytest.fixture
def staff(db):
    admin = UserFactory(username="rel_admin", role="admin")
    admin.is_superuser = True
    admin.is_staff = True
    admin.save()
    return SimpleNamespace(
        admin=admin,
        editor=UserFactory(username="rel_editor", role="editor"),
        reviewer=UserFactory(username="rel_reviewer", role="reviewer"),
        customer=UserFactory(username="rel_customer"),
        agent=UserFactory(username="rel_agent", role="agent"),
    )


@pytest.fixture
def small_kb(staff):
    from retrieval.services import index_rebuild

    password = make_article(
        author=staff.admin, title="How to reset your password", body=PASSWORD_BODY
    )
    wifi = make_article(author=staff.admin, title="Connect your TV to Wi-Fi", body=WIFI_BODY)
    index_rebuild()
    return SimpleNamespace(password=password, wifi=wifi)


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
