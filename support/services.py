"""Every write of the support app: logged answers, feedback, escalations, conversations, flags."""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import F

from generation.types import Answer, Citation
from knowledge.models import Article
from support.models import (
    ArticleFlag,
    ArticleViewCount,
    Channel,
    Conversation,
    Feedback,
    Interaction,
    Message,
    SearchLog,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

MAX_MESSAGE_CHARS = 20_000
MAX_COMMENT_CHARS = 5_000


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _citation_dict(citation: Citation | dict) -> dict:
    if isinstance(citation, dict):
        return dict(citation)
    return {
        "number": citation.number,
        "article_id": citation.article_id,
        "chunk_id": citation.chunk_id,
        "title": citation.title,
        "slug": citation.slug,
        "heading_path": citation.heading_path,
        "supported": citation.supported,
        "support_score": citation.support_score,
    }


def _drop_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL bytes: raw form input with one would fail the INSERT.
    return text.replace("\x00", "")


def question_validate(question: Any) -> str:
    """Strip and check a question: text, not empty, within KB_MAX_QUESTION_CHARS."""
    if not isinstance(question, str):
        raise ValidationError("The question must be text.")
    question = _drop_nul(question).strip()
    if not question:
        raise ValidationError("Please type a question.")
    limit = settings.KB_MAX_QUESTION_CHARS
    if len(question) > limit:
        raise ValidationError(
            f"The question is {len(question):,} characters long; the limit is {limit:,}."
        )
    return question


def _retry_when_locked(func: Callable[..., T]) -> Callable[..., T]:
    """Retry a short write when SQLite reports a lock (the demo database under concurrent
    requests); PostgreSQL never gets here. Only outside a transaction, which would be broken."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        for attempt in range(6):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if "locked" not in str(exc) or connection.in_atomic_block or attempt == 5:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    return wrapper


@_retry_when_locked
@transaction.atomic
def interaction_record(
    *,
    answer: Answer,
    channel: str,
    user: Any,
    session_key: str,
    conversation: Conversation | None = None,
    audience: str = "public",
) -> Interaction:
    """Persist one answer (or abstention) with its hits, citations and metrics."""
    citations = [_citation_dict(c) for c in answer.citations]
    interaction = Interaction.objects.create(
        question=answer.question[: settings.KB_MAX_QUESTION_CHARS],
        audience=audience,
        channel=channel if channel in Channel.values else Channel.PORTAL,
        user=_user_or_none(user),
        session_key=(session_key or "")[:64],
        conversation=conversation,
        answer_text=answer.text,
        abstained=answer.abstained,
        backend=(answer.backend or "")[:32],
        model=(answer.model or "")[:200],
        prompt_version=(answer.prompt_version or "")[:32],
        confidence=float(answer.confidence or 0.0),
        grounding_score=float(answer.grounding_score or 0.0),
        latency_ms=float(answer.latency_ms or 0.0),
        first_token_ms=float(answer.first_token_ms or 0.0),
        prompt_tokens=max(0, int(answer.prompt_tokens or 0)),
        completion_tokens=max(0, int(answer.completion_tokens or 0)),
        fallback_reason=(answer.fallback_reason or "")[:300],
        hits=list(answer.hits or []),
        citations=citations,
    )
    article_ids = {c["article_id"] for c in citations if c.get("article_id")}
    if article_ids:
        # Rows straight into the link table (a new interaction has no links yet), for the
        # articles that still exist: two queries where .set() took three.
        link = Interaction.cited_articles.through
        existing = Article.objects.filter(pk__in=article_ids).values_list("pk", flat=True)
        link.objects.bulk_create(
            [link(interaction_id=interaction.pk, article_id=pk) for pk in existing]
        )
    return interaction


def feedback_submit(
    *,
    interaction: Interaction,
    helpful: bool | None,
    comment: str = "",
    user: Any = None,
) -> Feedback:
    """A customer's "Was this helpful?" (one per interaction and person: a second vote updates)."""
    comment = _drop_nul(comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationError(f"The comment is too long (limit {MAX_COMMENT_CHARS:,} characters).")
    existing = interaction.feedback.filter(suggestion_usage="", user=_user_or_none(user)).first()
    if existing is not None and _user_or_none(user) is not None:
        existing.helpful = helpful
        existing.comment = comment or existing.comment
        existing.save(update_fields=["helpful", "comment"])
        return existing
    return Feedback.objects.create(
        interaction=interaction, helpful=helpful, comment=comment, user=_user_or_none(user)
    )


def _validate_body(body: Any, *, what: str = "message") -> str:
    if not isinstance(body, str):
        raise ValidationError(f"The {what} must be text.")
    body = _drop_nul(body).strip()
    if not body:
        raise ValidationError(f"The {what} is empty.")
    if len(body) > MAX_MESSAGE_CHARS:
        raise ValidationError(f"The {what} is too long (limit {MAX_MESSAGE_CHARS:,} characters).")
    return body


@transaction.atomic
def conversation_create(
    *,
    subject: str,
    body: str,
    customer: Any = None,
    name: str = "",
    email: str = "",
    channel: str = Channel.PORTAL,
) -> Conversation:
    """Open a support conversation with the customer's first message."""
    subject = (subject or "").strip()[:300] or "Support request"
    body = _validate_body(body)
    customer = _user_or_none(customer)
    conversation = Conversation.objects.create(
        subject=subject,
        customer=customer,
        customer_name=(name or (customer.get_full_name() if customer else ""))[:200]
        or (customer.get_username() if customer else ""),
        customer_email=email or (customer.email if customer else ""),
        channel=channel if channel in Channel.values else Channel.PORTAL,
    )
    Message.objects.create(
        conversation=conversation, role=Message.Role.CUSTOMER, author=customer, body=body
    )
    return conversation


@transaction.atomic
def conversation_escalate(
    *,
    interaction: Interaction,
    name: str,
    email: str,
    note: str = "",
    user: Any = None,
) -> Conversation:
    """Hand a portal answer to a person: a conversation carrying question, answer and citations."""
    name = _drop_nul(name or "").strip()[:200]
    email = _drop_nul(email or "").strip()
    if not name:
        raise ValidationError("Please tell us your name.")
    from django.core.validators import validate_email

    validate_email(email)
    note = _drop_nul(note or "").strip()
    if len(note) > MAX_MESSAGE_CHARS:
        raise ValidationError("The note is too long.")
    if interaction.escalated:
        existing = Conversation.objects.filter(source_interaction=interaction).first()
        if existing is not None:
            return existing
    conversation = Conversation.objects.create(
        subject=interaction.question[:300],
        customer=_user_or_none(user),
        customer_name=name,
        customer_email=email,
        channel=interaction.channel,
        source_interaction=interaction,
    )
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.CUSTOMER,
        author=_user_or_none(user),
        body=interaction.question,
    )
    lines = ["Automatic answer shown to the customer:", "", interaction.answer_text or "(none)"]
    if interaction.citations:
        lines += ["", "Sources:"]
        by_article: dict[Any, list[dict]] = {}
        for c in interaction.citations:
            by_article.setdefault(c.get("article_id"), []).append(c)
        lines += [
            "".join(f"[{c.get('number')}]" for c in cs)
            + f" {cs[0].get('title')} (/articles/{cs[0].get('slug')}/)"
            for cs in by_article.values()
        ]
    if interaction.abstained:
        lines.insert(0, "The help center had no answer (abstained).")
    Message.objects.create(
        conversation=conversation, role=Message.Role.SYSTEM, body="\n".join(lines)
    )
    if note:
        Message.objects.create(
            conversation=conversation,
            role=Message.Role.CUSTOMER,
            author=_user_or_none(user),
            body=note,
        )
    interaction.escalated = True
    interaction.conversation = conversation
    interaction.save(update_fields=["escalated", "conversation"])
    return conversation


SOURCES_HEADING = "Helpful articles:"
_MARKER_RE = re.compile(r"\s?\[\d{1,3}\]")
_MD_EMPHASIS_RE = re.compile(r"\*\*|__|`|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")


def _plain(text: str) -> str:
    """Without [k] markers and Markdown emphasis: how a customer would read it."""
    return _MD_EMPHASIS_RE.sub("", _MARKER_RE.sub("", text or ""))


def suggestion_reply_text(*, answer_text: str, links: list[tuple[str, str]]) -> str:
    """The suggestion as a customer would read it: no [k] markers, public links at the end."""
    text = _plain(answer_text).strip()
    if links:
        text += "\n\n" + SOURCES_HEADING + "\n" + "\n".join(f"- {t}: {u}" for t, u in links)
    return text


def suggestion_usage_classify(*, suggestion_text: str, sent_text: str) -> str:
    """Compare the suggested reply with what was sent: used, edited or discarded."""
    import difflib

    sent_text = sent_text or ""
    if SOURCES_HEADING in sent_text and SOURCES_HEADING not in (suggestion_text or ""):
        # The link footer is added on insert; judge the answer part only.
        sent_text = sent_text.split(SOURCES_HEADING)[0]
    norm_s = " ".join(_plain(suggestion_text).split())
    norm_r = " ".join(_plain(sent_text).split())
    if not norm_s:
        return Message.SuggestionUsage.DISCARDED
    if norm_s == norm_r:
        return Message.SuggestionUsage.USED
    if norm_s in norm_r:
        return Message.SuggestionUsage.EDITED
    ratio = difflib.SequenceMatcher(None, norm_s, norm_r, autojunk=False).ratio()
    return Message.SuggestionUsage.EDITED if ratio >= 0.5 else Message.SuggestionUsage.DISCARDED


@transaction.atomic
def message_add(
    *,
    conversation: Conversation,
    role: str,
    body: str,
    author: Any = None,
    suggestion: Interaction | None = None,
) -> Message:
    """Add a message; an agent reply that started from a suggestion records what became of it."""
    if role not in Message.Role.values:
        raise ValidationError(f"Unknown role {role!r}.")
    body = _validate_body(body)
    usage = ""
    if suggestion is not None and role == Message.Role.AGENT:
        usage = suggestion_usage_classify(suggestion_text=suggestion.answer_text, sent_text=body)
    message = Message.objects.create(
        conversation=conversation,
        role=role,
        author=_user_or_none(author),
        body=body,
        suggestion=suggestion,
        suggestion_usage=usage,
    )
    if usage and suggestion is not None:
        suggestion_feedback(interaction=suggestion, usage=usage, user=author, sent_text=body)
    if role == Message.Role.AGENT and conversation.status == Conversation.Status.OPEN:
        conversation.status = Conversation.Status.PENDING
    elif role == Message.Role.CUSTOMER and conversation.status != Conversation.Status.OPEN:
        conversation.status = Conversation.Status.OPEN
    conversation.save(update_fields=["status", "updated_at"])
    return message


def suggestion_feedback(
    *, interaction: Interaction, usage: str, user: Any = None, sent_text: str = ""
) -> Feedback:
    """Record what an agent did with a suggested reply (used / edited / discarded)."""
    if usage not in {"used", "edited", "discarded"}:
        raise ValidationError(f"Unknown suggestion usage {usage!r}: use used, edited or discarded.")
    return Feedback.objects.create(
        interaction=interaction,
        helpful={"used": True, "edited": None, "discarded": False}[usage],
        suggestion_usage=usage,
        comment=sent_text[:MAX_COMMENT_CHARS] if usage == "edited" else "",
        user=_user_or_none(user),
    )


def conversation_update(
    *,
    conversation: Conversation,
    status: str | None = None,
    assigned_to: Any = None,
    unassign: bool = False,
) -> Conversation:
    """Change status and/or assignee."""
    fields = ["updated_at"]
    if status is not None:
        if status not in Conversation.Status.values:
            raise ValidationError(f"Unknown status {status!r}.")
        conversation.status = status
        fields.append("status")
    if assigned_to is not None or unassign:
        conversation.assigned_to = _user_or_none(assigned_to)
        fields.append("assigned_to")
    conversation.save(update_fields=fields)
    return conversation


def article_flag(
    *,
    article: Article,
    user: Any,
    reason: str,
    comment: str = "",
    conversation: Conversation | None = None,
) -> ArticleFlag:
    """An agent marks an article wrong/outdated/...: evidence for the review queue."""
    if reason not in ArticleFlag.Reason.values:
        raise ValidationError(
            f"Unknown reason {reason!r}: use one of {', '.join(ArticleFlag.Reason.values)}."
        )
    comment = _drop_nul(comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationError(f"The comment is too long (limit {MAX_COMMENT_CHARS:,} characters).")
    return ArticleFlag.objects.create(
        article=article,
        flagged_by=_user_or_none(user),
        reason=reason,
        comment=comment,
        conversation=conversation,
    )


@_retry_when_locked
def search_log_record(*, query: str, audience: str, channel: str, hits: Iterable[Any]) -> SearchLog:
    """Log one search with its result count and top article."""
    hits = list(hits)
    top_id = None
    if hits:
        first = hits[0]
        top_id = first.get("article_id") if isinstance(first, dict) else first.article_id
    top = Article.objects.filter(pk=top_id).first() if top_id else None
    return SearchLog.objects.create(
        query=_drop_nul(query)[:500],
        audience=audience,
        channel=channel if channel in Channel.values else Channel.PORTAL,
        results_count=len(hits),
        top_article=top,
    )


def article_view_record(*, article: Article) -> None:
    """Count a portal page view (popular articles)."""
    updated = ArticleViewCount.objects.filter(article=article).update(views=F("views") + 1)
    if not updated:
        ArticleViewCount.objects.get_or_create(article=article, defaults={"views": 1})
