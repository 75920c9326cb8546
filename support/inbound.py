"""Customer replies by e-mail: a reply to one of our mails lands in its thread (and reopens it).

Fed by the MTA (e.g. a Postfix pipe to `manage.py support_inbound_mail`). A reply is accepted
only when the subject names the request ("[Request #N]"), the sender is the customer's
address, and the quoted mail carries a valid thread link for that same conversation (the
signed token: a forged sender alone is not enough).
"""

from __future__ import annotations

import email
import email.policy
import re
from email.utils import parseaddr

from support import thread_links, threads
from support.models import Conversation, Message

_REQUEST_RE = re.compile(r"\[Request #(\d+)\]")
_LINK_RE = re.compile(r"/t/([A-Za-z0-9_\-:.]+)/")
# Where the quoted part of a reply starts (most clients): cut it off.
_QUOTE_START = re.compile(r"^(?:On .+wrote:|-{2,}\s*$|>|_{5,}|From: )", re.MULTILINE)


class InboundRejected(Exception):
    """The mail cannot be matched to a conversation safely; the message says why."""


def _plain_text(msg: email.message.Message) -> str:
    if msg.is_multipart():
        part = next((p for p in msg.walk() if p.get_content_type() == "text/plain"), None)
        if part is None:
            return ""
        return _decoded(part.get_payload(decode=True), part.get_content_charset())
    return _decoded(msg.get_payload(decode=True), msg.get_content_charset())


def _decoded(payload: object, charset: str | None) -> str:
    # get_payload(decode=True) gives bytes for a leaf part (None when there is none).
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name in the mail
        return payload.decode("utf-8", errors="replace")


def reply_text(text: str) -> str:
    """The new part of a reply, without the quoted original."""
    match = _QUOTE_START.search(text)
    return (text[: match.start()] if match else text).strip()


def inbound_email_receive(*, raw: bytes) -> Message:
    """Add an e-mailed reply to its thread as the customer's message."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    subject = str(msg.get("Subject", ""))
    found = _REQUEST_RE.search(subject)
    if not found:
        raise InboundRejected("The subject names no request ([Request #N]).")
    conversation = Conversation.objects.filter(pk=int(found.group(1))).first()
    if conversation is None:
        raise InboundRejected(f"No request #{found.group(1)}.")
    sender = parseaddr(str(msg.get("From", "")))[1].lower()
    if not sender or sender != (conversation.customer_email or "").lower():
        raise InboundRejected("The sender is not the customer of this request.")
    text = _plain_text(msg)
    linked = False
    for token in _LINK_RE.findall(text):
        try:
            linked = thread_links.thread_from_token(token).pk == conversation.pk
        except thread_links.ThreadLinkError:
            continue
        if linked:
            break
    if not linked:
        raise InboundRejected("The reply quotes no valid link to this request.")
    body = reply_text(text)
    if not body:
        raise InboundRejected("The reply is empty.")
    return threads.customer_reply(conversation=conversation, body=body, user=conversation.customer)
