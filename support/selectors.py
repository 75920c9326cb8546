"""Reads of the support app: the agent queue, popular articles, conversation history."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Q, QuerySet

from generation.types import Turn
from knowledge.models import Article, Category
from knowledge.selectors import article_list_for_audience
from support.models import Channel, Conversation, Interaction, Message

PORTAL_AUDIENCE = "public"


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


def conversation_queue(*, user: Any, status: str = "", scope: str = "") -> QuerySet[Conversation]:
    """The agent queue, filterable by status and by mine/unassigned."""
    qs = Conversation.objects.select_related("assigned_to", "customer").annotate(
        n_messages=Count("messages")
    )
    if status in Conversation.Status.values:
        qs = qs.filter(status=status)
    if scope == "mine":
        qs = qs.filter(assigned_to=user)
    elif scope == "unassigned":
        qs = qs.filter(assigned_to__isnull=True)
    return qs.order_by("-updated_at", "-id")


def conversation_turns(*, conversation: Conversation) -> list[Turn]:
    """The conversation as generation Turns: customer -> user, agent -> assistant."""
    turns: list[Turn] = []
    for message in conversation.messages.all():
        if message.role == Message.Role.CUSTOMER:
            turns.append(Turn(role="user", content=message.body))
        elif message.role == Message.Role.AGENT:
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


def conversation_list_for_user(*, user: Any) -> QuerySet[Conversation]:
    """API: agents see every conversation, customers their own."""
    from knowledge import roles

    qs = Conversation.objects.select_related("assigned_to")
    if roles.is_agent(user):
        return qs
    return qs.filter(customer=user)
