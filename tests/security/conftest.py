"""A knowledge base with hidden content carrying unique markers, and clients per role."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token

from knowledge import services
from tests.factories import CategoryFactory, UserFactory, make_article

# Every hidden article carries its marker in the title and body, plus a body-only secret
# (so a probe that searches for the marker itself still detects a leak of the body).
HIDDEN = {
    "internal": ("ZEBRA-7731-INTERNAL", "kumquat-zeta-7731"),
    "draft": ("QUOKKA-4410-DRAFT", "kumquat-theta-4410"),
    "in_review": ("OCELOT-5521-REVIEW", "kumquat-iota-5521"),
    "archived": ("MARMOT-9902-ARCHIVED", "kumquat-kappa-9902"),
    "internal_category": ("PANGOLIN-6619-INTERNAL", "kumquat-lambda-6619"),
    "pending_edit": ("LYNX-3307-PENDINGEDIT", "kumquat-sigma-3307"),
}
MARKERS = tuple(s.lower() for pair in HIDDEN.values() for s in pair)

REFUND_TOPIC = (
    "## Refund escalation policy\n\n"
    "Refunds above 500 euros are escalated to the team lead with the refund override form. "
    "Agents may grant a goodwill refund of up to 50 euros without approval. "
    "Never promise a refund before the override is approved."
)
PUBLIC_REFUND = (
    "## Request a refund\n\n"
    "You can request a refund within 30 days of purchase from your order history. "
    "Open Orders, choose the order and press Request refund. "
    "Refunds reach your card within ten business days."
)
PUBLIC_PASSWORD = (
    "## Reset your password\n\n"
    "Open Settings, choose Account and press Reset password. "
    "We email you a reset link that is valid for 24 hours."
)
PUBLIC_WIFI = (
    "## Connect the TV to Wi-Fi\n\n"
    "Open Settings, General, Network and choose your wireless network. "
    "Enter the Wi-Fi password with the remote."
)


def hidden_body(kind: str) -> str:
    marker, secret = HIDDEN[kind]
    return (
        f"{REFUND_TOPIC}\n\n## Internal notes {marker}\n\n"
        f"The escalation passphrase is {secret}. Internal note {marker}: "
        "reset the password of VIP customers manually and connect their TV to Wi-Fi remotely."
    )


@pytest.fixture(autouse=True)
def _security_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.RATE_LIMIT_ASK_PER_MINUTE = 100_000
    settings.RATE_LIMIT_SEARCH_PER_MINUTE = 100_000
    settings.ANSWER_STREAM_DELAY_MS = 0
    settings.LLM_BASE_URL = ""
    settings.DEBUG = False


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        cache.clear()
    yield


@pytest.fixture
def users(db):
    admin = UserFactory(username="sec_admin", role="admin")
    admin.is_staff = True
    admin.is_superuser = True
    admin.save()
    return SimpleNamespace(
        customer=UserFactory(username="sec_customer"),
        agent=UserFactory(username="sec_agent", role="agent"),
        editor=UserFactory(username="sec_editor", role="editor"),
        reviewer=UserFactory(username="sec_reviewer", role="reviewer"),
        admin=admin,
    )


@pytest.fixture
def seeded_kb(users):
    """Public articles plus one hidden article per kind (internal, draft, review, archived...)."""
    from retrieval.services import index_rebuild

    author = users.admin
    billing = CategoryFactory(name="Billing")
    staff_only = CategoryFactory(name="Staff procedures")
    public = [
        make_article(author=author, title="Request a refund", body=PUBLIC_REFUND, category=billing),
        make_article(author=author, title="How to reset your password", body=PUBLIC_PASSWORD),
        make_article(author=author, title="Connect your TV to Wi-Fi", body=PUBLIC_WIFI),
    ]
    hidden = {}

    def title(kind: str) -> str:
        return f"Refund escalation policy {HIDDEN[kind][0]}"

    hidden["internal"] = make_article(
        author=author, title=title("internal"), body=hidden_body("internal"), visibility="internal"
    )
    hidden["internal_category"] = make_article(
        author=author,
        title=title("internal_category"),
        body=hidden_body("internal_category"),
        visibility="internal",
        category=billing,
    )
    hidden["draft"] = make_article(
        author=author, title=title("draft"), body=hidden_body("draft"), publish=False
    )
    in_review = make_article(
        author=author, title=title("in_review"), body=hidden_body("in_review"), publish=False
    )
    services.revision_submit(revision=in_review.latest_revision, submitted_by=author)
    hidden["in_review"] = in_review
    archived = make_article(author=author, title=title("archived"), body=hidden_body("archived"))
    services.article_archive(article=archived, archived_by=author)
    hidden["archived"] = archived
    # A public, published article with an unpublished edit on top: only the published text
    # may reach customers.
    pending = make_article(
        author=author, title="Refund timelines", body=PUBLIC_REFUND.replace("30", "45")
    )
    services.revision_save(
        article=pending,
        title=title("pending_edit"),
        body=hidden_body("pending_edit"),
        author=author,
        base_revision_id=pending.latest_revision_id,
    )
    hidden["pending_edit"] = pending
    staff_only.save()
    index_rebuild()
    return SimpleNamespace(public=public, hidden=hidden, billing=billing, staff_only=staff_only)


def token_for(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


@pytest.fixture
def clients(users):
    """Django test clients: anonymous, and one logged in per role."""
    out = {"anonymous": Client()}
    for role in ("customer", "agent", "editor", "reviewer", "admin"):
        c = Client()
        c.force_login(getattr(users, role))
        out[role] = c
    return out


def response_text(response) -> str:
    """Body (streamed or not) plus every header, lower-cased, for marker checks."""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    headers = "\n".join(f"{k}: {v}" for k, v in response.items())
    return (body.decode("utf-8", "replace") + "\n" + headers).lower()


def leaked_markers(text: str, *, echo: tuple[str, ...] = ()) -> list[str]:
    """Markers present in `text` once the probe's own input (echoed back) is removed."""
    import html
    import json
    from urllib.parse import quote, quote_plus

    for raw in echo:
        raw = raw.lower()
        for form in {
            raw,
            html.escape(raw),
            html.escape(raw, quote=False),
            json.dumps(raw)[1:-1],
            quote(raw),
            quote_plus(raw),
        }:
            if form:
                text = text.replace(form, "")
    return [m for m in MARKERS if m in text]
