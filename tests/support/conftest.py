"""A small knowledge base (public + internal articles, indexed) for the support tests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.cache import cache

from tests.factories import CategoryFactory, make_article

PUBLIC_BODY = (
    "## Reset your password\n\n"
    "Open **Settings**, choose *Account* and press Reset password. "
    "We email you a reset link that is valid for 24 hours.\n\n"
    "## If the email does not arrive\n\nCheck the spam folder, then request a new link."
)
INTERNAL_BODY = (
    "## Refund override\n\nAgents can override a refund with the zebracode escalation form. "
    "The zebracode override needs a team lead's approval."
)
WIFI_BODY = (
    "## Connect the TV to Wi-Fi\n\nOpen Settings, General, Network and choose your wireless "
    "network. Enter the Wi-Fi password with the remote."
)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # PBKDF2 costs ~0.25 s per user; these tests create five users each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Fresh rate-limit counters per test (local memory only: never FLUSHDB a shared Redis)."""
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(_default(), LocMemCache):
        cache.clear()
    yield
    if isinstance(_default(), LocMemCache):
        cache.clear()


def _default():
    from django.core.cache import caches

    return caches["default"]


@pytest.fixture
def kb(db, admin_user):
    """Three published articles (two public, one internal) and a built index."""
    from retrieval.services import index_rebuild

    account = CategoryFactory(name="Account")
    tv = CategoryFactory(name="Television")
    password = make_article(
        author=admin_user, title="How to reset your password", body=PUBLIC_BODY, category=account
    )
    wifi = make_article(
        author=admin_user, title="Connect your TV to Wi-Fi", body=WIFI_BODY, category=tv
    )
    internal = make_article(
        author=admin_user,
        title="Refund override with zebracode",
        body=INTERNAL_BODY,
        visibility="internal",
        category=account,
    )
    draft = make_article(
        author=admin_user, title="Unreleased zebracode draft", body="Draft text.", publish=False
    )
    index_rebuild()
    return SimpleNamespace(
        password=password, wifi=wifi, internal=internal, draft=draft, account=account, tv=tv
    )


def sse_events(response) -> list[tuple[str, dict]]:
    """Parse a streamed text/event-stream response into (event, data) pairs."""
    import json

    raw = b"".join(response.streaming_content).decode()
    events = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        events.append((name, json.loads("\n".join(data))))
    return events
