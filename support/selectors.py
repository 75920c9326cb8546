"""Reads of the support app: the agent queue, popular articles, conversation history."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Q, QuerySet

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


def conversation_queue(
    *, user: Any, status: str = QUEUE_NEEDS_ACTION, scope: str = ""
) -> QuerySet[Conversation]:
    """The agent queue: by default what needs an agent now, urgent first; or by status."""
    S = Conversation.Status
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
    if status == QUEUE_NEEDS_ACTION:
        return qs.order_by("-urgent", "updated_at", "id")  # urgent, then oldest waiting first
    return qs.order_by("-updated_at", "-id")


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
