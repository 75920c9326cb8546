"""Reads of the support app: the agent queue, popular articles, conversation history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from generation.types import Turn
from knowledge.audience import Audience
from knowledge.models import Article, Category
from knowledge.selectors import article_list_for_audience
from support.models import Channel, Conversation, Interaction, Message

PORTAL_AUDIENCE = Audience.PUBLIC


def portal_articles() -> QuerySet[Article]:
    """Everything the portal may ever show: published public articles."""
    return article_list_for_audience(audience=PORTAL_AUDIENCE)


def popular_articles(*, limit: int = 8) -> list[Article]:
    """Most cited in answers, then most viewed, then newest."""
    qs = portal_articles().annotate(n_cited=Count("cited_in", distinct=True))
    return list(
        qs.order_by(
            "-n_cited",
            F("view_count__views").desc(nulls_last=True),  # PostgreSQL puts NULLs first
            F("published_at").desc(nulls_last=True),
            "title",
        )[:limit]
    )


def portal_categories() -> list[Category]:
    """Categories with at least one public article, with their counts."""
    ids = portal_articles().values("category_id")
    return list(
        Category.objects.filter(pk__in=ids).annotate(
            n_articles=Count(
                "articles",
                filter=Q(articles__in=portal_articles()),
            )
        )
    )


QUEUE_NEEDS_ACTION = "needs_action"
# Statuses a person handles (the bot's own threads are not in the queue unless asked for).
HANDLED = [s for s in Conversation.Status.values if s != Conversation.Status.BOT]


SLA_BREACHED = "breached"
SLA_ON_TRACK = "on_track"
SORT_PRIORITY = "priority"
SORT_RECENT = "recent"


def sla_breached_q(now: dt.datetime) -> Q:
    """Conversations that missed a target: first response or resolution late (or overdue)."""
    return (
        Q(first_response_at__isnull=True, first_response_due_at__lt=now)
        | Q(first_response_at__gt=F("first_response_due_at"))
        | Q(resolved_at__isnull=True, resolution_due_at__lt=now)
        | Q(resolved_at__gt=F("resolution_due_at"))
    )


def conversation_queue(
    *,
    user: Any,
    status: str = QUEUE_NEEDS_ACTION,
    scope: str = "",
    intent: str = "",
    priority: int | None = None,
    sla: str = "",
    sort: str = SORT_PRIORITY,
    now: dt.datetime | None = None,
) -> QuerySet[Conversation]:
    """The agent queue: by default what needs an agent now, by priority (safety first, without
    anyone sorting by hand), then the earliest SLA deadline; filterable by status, assignee,
    intent, priority and SLA state."""
    S = Conversation.Status
    now = now or timezone.now()
    qs = Conversation.objects.select_related("assigned_to", "customer").annotate(
        n_messages=Count("messages", filter=Q(messages__internal=False))
    )
    if status == QUEUE_NEEDS_ACTION:
        qs = qs.filter(status__in=[S.WAITING_AGENT, S.REOPENED])
    elif status in S.values:
        qs = qs.filter(status=status)
    elif status == "all":
        qs = qs.filter(status__in=HANDLED)
    if scope == "mine":
        qs = qs.filter(assigned_to=user)
    elif scope == "unassigned":
        qs = qs.filter(assigned_to__isnull=True)
    if intent:
        qs = qs.filter(intent=intent)
    if priority is not None:
        qs = qs.filter(priority=priority)
    if sla == SLA_BREACHED:
        qs = qs.filter(sla_breached_q(now))
    elif sla == SLA_ON_TRACK:
        qs = qs.filter(first_response_due_at__isnull=False).exclude(sla_breached_q(now))
    if sort == SORT_RECENT:
        return qs.order_by("-updated_at", "-id")
    return qs.order_by(
        "priority",
        "-urgent",
        F("first_response_due_at").asc(nulls_last=True),
        "updated_at",
        "id",
    )


@dataclass(frozen=True)
class SlaState:
    """Where a conversation stands against its targets (for the queue and the page)."""

    breached: bool
    first_response: str  # "met", "late", "overdue", "due", "" (no clock)
    resolution: str  # the same
    next_due_at: dt.datetime | None

    @property
    def label(self) -> str:
        if not (self.first_response or self.resolution):
            return ""
        if self.breached:
            return "SLA breached"
        return "On track"


def _clock(done_at: dt.datetime | None, due_at: dt.datetime | None, now: dt.datetime) -> str:
    if due_at is None:
        return ""
    if done_at is not None:
        return "met" if done_at <= due_at else "late"
    return "overdue" if now > due_at else "due"


def conversation_sla(*, conversation: Conversation, now: dt.datetime | None = None) -> SlaState:
    now = now or timezone.now()
    first = _clock(conversation.first_response_at, conversation.first_response_due_at, now)
    resolution = _clock(conversation.resolved_at, conversation.resolution_due_at, now)
    pending = [
        due
        for state, due in (
            (first, conversation.first_response_due_at),
            (resolution, conversation.resolution_due_at),
        )
        if state in {"due", "overdue"} and due is not None
    ]
    return SlaState(
        breached=first in {"late", "overdue"} or resolution in {"late", "overdue"},
        first_response=first,
        resolution=resolution,
        next_due_at=min(pending) if pending else None,
    )


def conversation_turns(*, conversation: Conversation) -> list[Turn]:
    """The thread as generation Turns: customer -> user, agent and bot -> assistant.

    Internal notes and system lines never enter the history of an answer.
    """
    turns: list[Turn] = []
    for message in conversation.messages.filter(internal=False):
        if message.role == Message.Role.CUSTOMER:
            turns.append(Turn(role="user", content=message.body))
        elif message.role in {Message.Role.AGENT, Message.Role.BOT}:
            turns.append(Turn(role="assistant", content=message.body))
    return turns


def conversation_current_suggestion(*, conversation: Conversation) -> Interaction | None:
    """The latest suggested reply, if no customer message arrived after it."""
    drafts = conversation.interactions.filter(channel=Channel.AGENT)
    suggestion = drafts.order_by("-created_at", "-id").first()
    if suggestion is None:
        return None
    newer = conversation.messages.filter(
        role=Message.Role.CUSTOMER, created_at__gt=suggestion.created_at
    ).exists()
    return None if newer else suggestion


def conversation_last_customer_question(*, conversation: Conversation) -> str:
    last = conversation.messages.filter(role=Message.Role.CUSTOMER).order_by("-created_at", "-id")
    first = last.first()
    return first.body if first else conversation.subject


def conversation_list_for_customer(*, user: Any) -> QuerySet[Conversation]:
    """ "My requests": a signed-in customer's own threads, newest activity first."""
    if not getattr(user, "is_authenticated", False):
        return Conversation.objects.none()
    return Conversation.objects.filter(customer=user).order_by("-updated_at", "-id")


def thread_messages(*, conversation: Conversation, staff: bool) -> QuerySet[Message]:
    """A thread's messages; customers never see internal notes or system lines."""
    qs = conversation.messages.select_related("author", "interaction")
    return qs if staff else qs.filter(internal=False).exclude(role=Message.Role.SYSTEM)


def agent_csat(*, agent: Any) -> dict:
    """An agent's CSAT: ratings counted and their average."""
    from django.db.models import Avg

    qs = Conversation.objects.filter(csat_agent=agent, csat_score__isnull=False)
    agg = qs.aggregate(n=Count("id"), avg=Avg("csat_score"))
    return {"n": agg["n"] or 0, "avg": round(agg["avg"], 2) if agg["avg"] else None}


def conversation_list_for_user(*, user: Any) -> QuerySet[Conversation]:
    """API: agents see every conversation, customers their own."""
    from knowledge import roles

    qs = Conversation.objects.select_related("assigned_to")
    if roles.is_agent(user):
        return qs
    return qs.filter(customer=user)


def conversation_rejected_answers(*, conversation: Conversation) -> list[Interaction]:
    """Answers in this thread the customer marked unhelpful, and drafts the agent discarded."""
    return list(
        conversation.interactions.filter(
            Q(feedback__helpful=False, feedback__suggestion_usage="", channel__in=CUSTOMER_CHANNELS)
            | Q(feedback__suggestion_usage="discarded")
        ).distinct()
    )


CUSTOMER_CHANNELS = [Channel.PORTAL, Channel.WIDGET, Channel.API]
