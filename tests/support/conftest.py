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


@pytest.fixture
def smtp_server(settings, monkeypatch):
    """A real SMTP server (aiosmtpd) on loopback; `.messages` holds what it received.

    Settings and the environment both point at it, so a Celery worker started after this
    fixture sends there too.
    """
    import email
    import socket

    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self) -> None:
            self.messages: list = []
            self.refuse = False

        async def handle_DATA(self, server, session, envelope):
            if self.refuse:
                return "451 4.3.0 Try again later"
            msg = email.message_from_bytes(envelope.content)
            msg["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
            self.messages.append(msg)
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    values = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_TIMEOUT_SECONDS": "5",
        "KB_SITE_URL": "http://testserver",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings.EMAIL_BACKEND = values["EMAIL_BACKEND"]
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_TIMEOUT = 5
    settings.KB_SITE_URL = "http://testserver"
    handler.port = port
    handler.controller = controller
    try:
        yield handler
    finally:
        controller.stop()


def mail_text(message) -> str:
    if message.is_multipart():
        return "".join(
            part.get_payload(decode=True).decode()
            for part in message.walk()
            if part.get_content_type() == "text/plain"
        )
    return message.get_payload(decode=True).decode()
