"""The private thread link: a signed, expiring, revocable URL that lets a customer read and
answer their conversation without an account (e-mails carry it; the widget resumes with it).

Apart from `support.threads` (the conversation's writes) because it is a security boundary
of its own: signing, expiry and revocation are all here, in one place to review.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core import signing

from support.models import Conversation

THREAD_LINK_SALT = "support.thread"


class ThreadLinkError(Exception):
    """A thread link that is forged, expired or revoked; the message says which."""


def thread_link_token(conversation: Conversation) -> str:
    """Signed, expiring (KB_THREAD_LINK_MAX_AGE_DAYS) and revocable (the nonce) link token."""
    if not conversation.link_nonce:
        conversation.link_nonce = secrets.token_urlsafe(12)
        conversation.save(update_fields=["link_nonce"])
    return signing.dumps(
        {"c": conversation.pk, "n": conversation.link_nonce}, salt=THREAD_LINK_SALT
    )


def thread_link_url(conversation: Conversation) -> str:
    return f"{settings.KB_SITE_URL}/t/{thread_link_token(conversation)}/"


def thread_from_token(token: str) -> Conversation:
    max_age = dt.timedelta(days=settings.KB_THREAD_LINK_MAX_AGE_DAYS)
    try:
        data = signing.loads(token, salt=THREAD_LINK_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ThreadLinkError(
            "This link has expired. Links to a conversation work for "
            f"{settings.KB_THREAD_LINK_MAX_AGE_DAYS} days; ask us for a new one."
        ) from exc
    except signing.BadSignature as exc:
        raise ThreadLinkError("This link is not valid. Check that it was copied whole.") from exc
    pk = data.get("c") if isinstance(data, dict) else None
    conversation = Conversation.objects.filter(pk=pk).first() if isinstance(pk, int) else None
    if (
        conversation is None
        or not conversation.link_nonce
        or conversation.link_nonce != data.get("n")
    ):
        raise ThreadLinkError("This link no longer works: it was replaced by a newer one.")
    return conversation


def thread_link_revoke(*, conversation: Conversation) -> Conversation:
    """Every link sent so far stops working (a new one is made on the next mail)."""
    conversation.link_nonce = secrets.token_urlsafe(12)
    conversation.save(update_fields=["link_nonce"])
    return conversation
