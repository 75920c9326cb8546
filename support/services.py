"""Every write of the support app: logged answers, feedback, escalations, conversations, flags."""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import F

from generation.types import Answer, AnswerEvent, Citation, Turn
from knowledge.audience import Audience
from knowledge.models import Article
from support import threads, triage_store, validation
from support.models import (
    ArticleFeedback,
    ArticleFlag,
    ArticleViewCount,
    Channel,
    Conversation,
    Feedback,
    Interaction,
    Message,
    SearchLog,
)
from support.triage import Triage

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Validation and conversation writes live in their own modules; re-exported for callers.
MAX_MESSAGE_CHARS = validation.MAX_MESSAGE_CHARS
MAX_COMMENT_CHARS = validation.MAX_COMMENT_CHARS
question_validate = validation.question_validate
_user_or_none = validation.user_or_none
_drop_nul = validation.drop_nul
_validate_body = validation.body_validate
conversation_create = threads.conversation_create
conversation_update = threads.conversation_update


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


def _customer_question(channel: str, audience: str) -> bool:
    # Triage is for what customers write: not agents' drafts or staff asking the API.
    return channel != Channel.AGENT and audience == "public"


@_retry_when_locked
@transaction.atomic
def interaction_record(
    *,
    answer: Answer,
    channel: str,
    user: Any,
    session_key: str,
    conversation: Conversation | None = None,
    audience: str = Audience.PUBLIC,
    question_triage: Triage | None = None,
) -> Interaction:
    """Persist one answer (or abstention) with its hits, citations, metrics and, for a
    customer's question, its triage (intent and language: the metrics break down by them)."""
    citations = [_citation_dict(c) for c in answer.citations]
    if question_triage is None and _customer_question(channel, audience) and answer.question:
        question_triage = triage_store.triage_text(answer.question)
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
        handoff_reason=(answer.handoff_reason or "")[:32],
        intent=question_triage.intent if question_triage else "",
        language=(question_triage.language if question_triage else "")[:8],
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


def suggestion_repeats(*, text: str, rejected: str) -> bool:
    """Is a draft (nearly) the answer the customer already rejected?"""
    import difflib

    a, b = " ".join(_plain(text).split()), " ".join(_plain(rejected).split())
    if not a or not b:
        return False
    return a == b or difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.85


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


def article_feedback_record(
    *, article: Article, helpful: bool, user: Any, session_key: str
) -> ArticleFeedback:
    """ "Was this article helpful?" on the portal: one vote per session, a second updates it."""
    vote, _ = ArticleFeedback.objects.update_or_create(
        article=article,
        session_key=(session_key or "")[:64],
        defaults={"helpful": helpful, "user": _user_or_none(user)},
    )
    return vote


def article_view_record(*, article: Article) -> None:
    """Count a portal page view (popular articles)."""
    updated = ArticleViewCount.objects.filter(article=article).update(views=F("views") + 1)
    if not updated:
        ArticleViewCount.objects.get_or_create(article=article, defaults={"views": 1})


# --- Conversations (the writes themselves are in support.threads) ----------------------------


def conversation_escalate(
    *,
    interaction: Interaction,
    name: str,
    email: str,
    note: str = "",
    user: Any = None,
) -> Conversation:
    """ "Talk to a person" under an answer: its thread goes to an agent, with the reason."""
    conversation = interaction.conversation
    if conversation is None:  # an answer recorded outside a thread (older rows): give it one
        conversation = threads.conversation_for_ask(
            channel=interaction.channel,
            user=user,
            session_key=interaction.session_key,
            subject=interaction.question,
        )
        threads.thread_record_answer(
            conversation=conversation,
            question=interaction.question,
            interaction=interaction,
            user=user,
        )
    if conversation.source_interaction_id is None:
        conversation.source_interaction = interaction
        conversation.save(update_fields=["source_interaction"])
    conversation = threads.conversation_handoff(
        conversation=conversation,
        reason=handoff_reason_for(interaction=interaction),
        name=name,
        email=email,
        note=note,
        user=user,
        require_contact=True,
    )
    if not interaction.escalated:
        interaction.escalated = True
        interaction.save(update_fields=["escalated"])
    return conversation


def handoff_reason_for(*, interaction: Interaction) -> str:
    """Why a customer escalating from this answer needs a person."""
    R = Conversation.HandoffReason
    thread = interaction.conversation
    if interaction.handoff_reason == R.SAFETY or (thread and thread.handoff_reason == R.SAFETY):
        return R.SAFETY
    if interaction.feedback.filter(helpful=False, suggestion_usage="").exists():
        return R.NEGATIVE_FEEDBACK
    if interaction.abstained:
        return R.LOW_CONFIDENCE
    return R.CUSTOMER_ASKED


def message_add(
    *,
    conversation: Conversation,
    role: str,
    body: str,
    author: Any = None,
    suggestion: Interaction | None = None,
) -> Message:
    """An agent's reply (mailed) or the customer's message (back to the agent / reopens)."""
    if role == Message.Role.AGENT:
        return threads.agent_reply(
            conversation=conversation, body=body, author=author, suggestion=suggestion
        )
    if role == Message.Role.CUSTOMER:
        return threads.customer_reply(conversation=conversation, body=body, user=author)
    raise ValidationError(f"Unknown role {role!r}.")


# --- Answer and record: the one path every channel (portal, widget, API) asks through -------


@dataclass
class AskResult:
    answer: Answer
    interaction: Interaction
    conversation: Conversation | None
    kind: str = "answer"  # "answer", or a smalltalk kind: "greeting", "thanks", "human"
    handed_off: bool = False


@dataclass
class _Ask:
    question: str
    audience: str
    channel: str
    user: Any
    session_key: str
    conversation: Conversation | None
    threaded: bool
    kind: str
    history: list[Turn]
    repeated: bool
    # The customer's question triaged once, stored on the interaction and the message.
    question_triage: Triage | None = None


def _ask_prepare(
    *,
    question: str,
    audience: str,
    channel: str,
    user: Any,
    session_key: str,
    conversation: Conversation | None,
    threaded: bool,
) -> _Ask:
    from support import selectors, smalltalk

    # A customer thread only holds customer-facing answers: never an internal-audience one.
    threaded = threaded and audience == Audience.PUBLIC
    if threaded:
        conversation = threads.conversation_for_ask(
            channel=channel,
            user=user,
            session_key=session_key,
            subject=question,
            conversation=conversation,
        )
    history = (
        selectors.conversation_turns(conversation=conversation) if conversation is not None else []
    )
    repeated = bool(
        threaded
        and conversation is not None
        and threads.repeated_question(conversation=conversation, question=question)
        and conversation.interactions.filter(abstained=True).exists()
    )
    question_triage = None
    if _customer_question(channel, audience):
        earlier = (
            conversation.messages.filter(role=Message.Role.CUSTOMER).count()
            if threaded and conversation is not None
            else 0
        )
        question_triage = triage_store.triage_text(question, previous_contacts=earlier)
    return _Ask(
        question=question,
        audience=audience,
        channel=channel,
        user=user,
        session_key=session_key,
        conversation=conversation,
        threaded=threaded,
        kind=smalltalk.classify(question),
        history=history,
        repeated=repeated,
        question_triage=question_triage,
    )


def _smalltalk_answer(ask: _Ask) -> Answer:
    from support import smalltalk

    text = smalltalk.REPLIES[ask.kind]
    if ask.kind == smalltalk.HUMAN and not threads.agents_online():
        text += " " + settings.KB_AGENTS_OFFLINE_MESSAGE
    return Answer(question=ask.question, text=text, backend="smalltalk", confidence=1.0)


def _ask_finish(ask: _Ask, answer: Answer) -> AskResult:
    """Record the answer in the log and the thread; hand off when the answer says so."""
    from support import smalltalk

    interaction = interaction_record(
        answer=answer,
        channel=ask.channel,
        user=ask.user,
        session_key=ask.session_key,
        conversation=ask.conversation,
        audience=ask.audience,
        question_triage=ask.question_triage,
    )
    conversation = ask.conversation
    handed_off = False
    if ask.threaded and conversation is not None:
        threads.thread_record_answer(
            conversation=conversation,
            question=ask.question,
            interaction=interaction,
            user=ask.user,
            question_triage=ask.question_triage,
        )
        reason = answer.handoff_reason or ""  # "safety" from the safety gate (generation)
        R = Conversation.HandoffReason
        handoff: str
        if answer.abstained and reason == R.SAFETY:
            handoff = R.SAFETY
        elif ask.kind == smalltalk.HUMAN:
            handoff = R.CUSTOMER_ASKED
        elif ask.repeated:
            handoff = R.REPEATED_QUESTION
        elif reason in R.values and reason and answer.abstained:
            handoff = reason  # e.g. "policy" or "low_confidence" decided by generation
        else:
            handoff = ""
        if handoff and handoff != R.LOW_CONFIDENCE:
            threads.conversation_handoff(conversation=conversation, reason=handoff, user=ask.user)
            handed_off = True
            conversation.refresh_from_db()
            # Insights counts escalations by the answer they came from.
            interaction.escalated = True
            interaction.save(update_fields=["escalated"])
            if conversation.source_interaction_id is None:
                conversation.source_interaction = interaction
                conversation.save(update_fields=["source_interaction"])
    return AskResult(
        answer=answer,
        interaction=interaction,
        conversation=conversation,
        kind=ask.kind or "answer",
        handed_off=handed_off,
    )


def ask_answer(
    *,
    question: str,
    audience: str,
    channel: str,
    user: Any,
    session_key: str,
    conversation: Conversation | None = None,
    threaded: bool = True,
) -> AskResult:
    """Answer a question in its thread (with the thread's history) and record everything."""
    from generation import services as generation

    ask = _ask_prepare(
        question=question,
        audience=audience,
        channel=channel,
        user=user,
        session_key=session_key,
        conversation=conversation,
        threaded=threaded,
    )
    if ask.kind:
        answer = _smalltalk_answer(ask)
    else:
        answer = generation.answer_question(question, audience=audience, history=ask.history)
    return _ask_finish(ask, answer)


def ask_answer_stream(
    *,
    question: str,
    audience: str,
    channel: str,
    user: Any,
    session_key: str,
    conversation: Conversation | None = None,
    threaded: bool = True,
) -> Generator[AnswerEvent | AskResult, None, None]:
    """The same, streamed: generation's meta/token/error events, then the AskResult.

    A client that hangs up mid-answer still leaves its question on record (marked
    `client_disconnected`): the question was asked, and insights should see it.
    """
    from generation import services as generation

    ask = _ask_prepare(
        question=question,
        audience=audience,
        channel=channel,
        user=user,
        session_key=session_key,
        conversation=conversation,
        threaded=threaded,
    )
    if ask.kind:
        answer = _smalltalk_answer(ask)
        yield AnswerEvent(type="meta", data={"hits": []})
        yield AnswerEvent(type="token", data={"text": answer.text})
        yield _ask_finish(ask, answer)
        return
    events = generation.answer_question_stream(question, audience=audience, history=ask.history)
    recorded = False
    try:
        for event in events:
            if event.type == "done":
                answer = generation.answer_from_dict(event.data["answer"])
                result = _ask_finish(ask, answer)
                recorded = True
                yield result
            else:
                yield event
    except GeneratorExit:
        events.close()  # stop generating (and stop the LLM) for a client that is gone
        if not recorded:
            interaction_record(
                answer=Answer(
                    question=question, text="", backend="", fallback_reason="client_disconnected"
                ),
                channel=channel,
                user=user,
                session_key=session_key,
                conversation=ask.conversation,
                audience=audience,
            )
        raise
