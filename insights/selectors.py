"""Reads for insights: the support logs (read-only), suggestions and the analytics numbers.

Everything that leaves these functions as text for mining or display is already redacted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate

from insights.models import MiningRun, Suggestion, SuggestionStatus
from insights.redaction import drop_contact_sentences, redact
from knowledge.audience import Audience
from knowledge.models import Article
from support.models import (
    ArticleFlag,
    Conversation,
    Feedback,
    Interaction,
    Message,
    SearchLog,
)

NEGATIVE_USAGE = (Message.SuggestionUsage.DISCARDED,)


@dataclass
class LoggedQuestion:
    """One logged interaction, flattened for mining."""

    id: int
    question: str  # redacted
    created_at: dt.datetime
    asker: str  # user, session or conversation: distinct customers are counted by this
    audience: str
    abstained: bool
    escalated: bool
    disliked: bool
    cited: list[int] = field(default_factory=list)


def asker_key(row: Mapping[str, Any]) -> str:
    """Who asked: the account, else the browser session, else the conversation, else the row."""
    if row["user_id"]:
        return f"u{row['user_id']}"
    if row["session_key"]:
        return f"s{row['session_key']}"
    if row["conversation_id"]:
        return f"c{row['conversation_id']}"
    return f"i{row['id']}"


def last_successful_run() -> MiningRun | None:
    return MiningRun.objects.filter(status=MiningRun.Status.DONE).order_by("-started_at").first()


def _disliked_ids(interaction_ids: QuerySet | Iterable[int]) -> set[int]:
    return set(
        Feedback.objects.filter(interaction_id__in=interaction_ids)
        .filter(Q(helpful=False) | Q(suggestion_usage__in=NEGATIVE_USAGE))
        .values_list("interaction_id", flat=True)
    )


def interactions_in_window(*, start: dt.datetime, end: dt.datetime) -> list[LoggedQuestion]:
    """Every interaction in [start, end), oldest first, with its negative signals."""
    qs = Interaction.objects.filter(created_at__gte=start, created_at__lt=end)
    rows = list(
        qs.order_by("created_at", "id").values(
            "id",
            "question",
            "created_at",
            "user_id",
            "session_key",
            "conversation_id",
            "audience",
            "abstained",
            "escalated",
        )
    )
    disliked = _disliked_ids(qs.values("id"))
    # Interactions escalated from the portal show up as a conversation's source_interaction.
    escalated_via_conversation = set(
        Conversation.objects.filter(source_interaction__in=qs.values("id")).values_list(
            "source_interaction_id", flat=True
        )
    )
    cited: dict[int, list[int]] = defaultdict(list)
    through = Interaction.cited_articles.through
    for iid, aid in through.objects.filter(interaction__in=qs.values("id")).values_list(
        "interaction_id", "article_id"
    ):
        cited[iid].append(aid)
    return [
        LoggedQuestion(
            id=row["id"],
            question=drop_contact_sentences(redact(row["question"])),
            created_at=row["created_at"],
            asker=asker_key(row),
            audience=row["audience"] or Audience.PUBLIC,
            abstained=row["abstained"],
            escalated=row["escalated"] or row["id"] in escalated_via_conversation,
            disliked=row["id"] in disliked,
            cited=sorted(cited.get(row["id"], [])),
        )
        for row in rows
    ]


def high_water_marks() -> tuple[int, int]:
    """The largest interaction and feedback ids now (what the next run will call old)."""
    last_interaction = Interaction.objects.order_by("-id").values_list("id", flat=True).first()
    last_feedback = Feedback.objects.order_by("-id").values_list("id", flat=True).first()
    return last_interaction or 0, last_feedback or 0


def interactions_with_feedback_after(
    *, feedback_id: int, interaction_ids: Iterable[int]
) -> set[int]:
    """Interactions (among those given) that received feedback newer than feedback_id."""
    return set(
        Feedback.objects.filter(
            id__gt=feedback_id, interaction_id__in=list(interaction_ids)
        ).values_list("interaction_id", flat=True)
    )


def agent_replies_for(*, interaction_ids: Iterable[int], limit: int = 20) -> list[dict]:
    """Agents' replies in conversations that came from these interactions (redacted).

    A conversation belongs to an interaction when it was escalated from it
    (source_interaction), when the interaction was asked inside it, or when the agent's
    message started from it as a suggested reply.
    """
    ids = list(interaction_ids)
    if not ids:
        return []
    conv_ids = set(
        Conversation.objects.filter(source_interaction_id__in=ids).values_list("id", flat=True)
    )
    conv_ids |= set(
        Interaction.objects.filter(id__in=ids, conversation__isnull=False).values_list(
            "conversation_id", flat=True
        )
    )
    messages = (
        Message.objects.filter(role=Message.Role.AGENT)
        .filter(Q(conversation_id__in=conv_ids) | Q(suggestion_id__in=ids))
        .order_by("created_at", "id")
        .values("id", "conversation_id", "body", "created_at")
    )
    out, seen = [], set()
    for m in messages:
        body = redact(m["body"]).strip()
        if not body or body in seen:
            continue
        seen.add(body)
        out.append(
            {
                "message_id": m["id"],
                "conversation_id": m["conversation_id"],
                "text": body,
                "at": m["created_at"].isoformat(),
            }
        )
        if len(out) >= limit:
            break
    return out


def feedback_comments_for(*, interaction_ids: Iterable[int], limit: int = 20) -> list[dict]:
    rows = (
        Feedback.objects.filter(interaction_id__in=list(interaction_ids))
        .exclude(comment="")
        .order_by("-created_at", "-id")
        .values("interaction_id", "helpful", "comment", "created_at")[:limit]
    )
    return [
        {
            "interaction_id": r["interaction_id"],
            "helpful": r["helpful"],
            "text": redact(r["comment"]),
            "at": r["created_at"].isoformat(),
        }
        for r in rows
    ]


def open_flags(*, start: dt.datetime) -> dict[int, list[dict]]:
    """Unresolved agent flags per article (redacted comments)."""
    out: dict[int, list[dict]] = defaultdict(list)
    for f in (
        ArticleFlag.objects.filter(resolved=False, created_at__gte=start)
        .order_by("created_at", "id")
        .values("id", "article_id", "reason", "comment", "created_at")
    ):
        out[f["article_id"]].append(
            {
                "flag_id": f["id"],
                "reason": f["reason"],
                "text": redact(f["comment"]),
                "at": f["created_at"].isoformat(),
            }
        )
    return out


def suggestion_list(*, kind: str = "", status: str = SuggestionStatus.OPEN) -> QuerySet[Suggestion]:
    qs = Suggestion.objects.select_related("target_article", "other_article")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-score", "id")


def suggestion_counts() -> dict[str, int]:
    rows = (
        Suggestion.objects.filter(status=SuggestionStatus.OPEN)
        .values("kind")
        .annotate(n=Count("id"))
    )
    return {r["kind"]: r["n"] for r in rows}


# --- Analytics ------------------------------------------------------------------------------


def _window(qs: QuerySet, start: dt.datetime, end: dt.datetime) -> QuerySet:
    return qs.filter(created_at__gte=start, created_at__lt=end)


def analytics_summary(
    *, start: dt.datetime, end: dt.datetime, outcomes: list[Any] | None = None
) -> dict[str, Any]:
    """Headline rates over [start, end); `outcomes`: resolution.question_outcomes() already
    computed for the same period."""
    from insights import resolution

    qs = _window(Interaction.objects.all(), start, end)
    total = qs.count()
    abstained = qs.filter(abstained=True).count()
    escalated_ids = set(qs.filter(escalated=True).values_list("id", flat=True)) | set(
        Conversation.objects.filter(source_interaction__in=qs.values("id")).values_list(
            "source_interaction_id", flat=True
        )
    )
    # Self-service resolution = resolved (confirmed + assumed, insights.resolution): it used to
    # count every answered, non-escalated question, a wrong answer to a safety question and
    # answers rated unhelpful included.
    if outcomes is None:
        outcomes = resolution.question_outcomes(start=start, end=end)
    resolved = resolution.summarize(outcomes)
    self_served = resolved["resolved"]
    feedback = Feedback.objects.filter(interaction__in=qs.values("id"), helpful__isnull=False)
    rated = feedback.count()
    helpful = feedback.filter(helpful=True).count()
    return {
        "questions": total,
        "answered": total - abstained,
        "abstained": abstained,
        "escalated": len(escalated_ids),
        "self_served": self_served,
        "rated": rated,
        "helpful": helpful,
        "self_service_rate": resolved["resolution_rate"],
        "abstention_rate": (abstained / total) if total else None,
        "escalation_rate": (len(escalated_ids) / total) if total else None,
        "helpful_rate": (helpful / rated) if rated else None,
    }


def questions_per_day(*, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """One row per day in the range (days without questions included, with zeros)."""
    qs = _window(Interaction.objects.all(), start, end)
    rows = {
        r["day"]: r
        for r in qs.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            questions=Count("id"),
            abstained=Count("id", filter=Q(abstained=True)),
            escalated=Count("id", filter=Q(escalated=True)),
        )
        .order_by("day")
    }
    out = []
    day = start.date()
    last = (end - dt.timedelta(microseconds=1)).date()
    while day <= last:
        r = rows.get(day, {})
        out.append(
            {
                "day": day,
                "questions": r.get("questions", 0),
                "abstained": r.get("abstained", 0),
                "escalated": r.get("escalated", 0),
            }
        )
        day += dt.timedelta(days=1)
    return out


def top_searches_without_results(
    *, start: dt.datetime, end: dt.datetime, limit: int = 20
) -> list[dict[str, Any]]:
    """Searches that found nothing, grouped case-insensitively, most frequent first."""
    counts: dict[str, dict[str, Any]] = {}
    for query, created in _window(
        SearchLog.objects.filter(results_count=0), start, end
    ).values_list("query", "created_at"):
        text = redact(" ".join(query.split()))
        key = text.lower()
        entry = counts.setdefault(key, {"query": text, "searches": 0, "last": created})
        entry["searches"] += 1
        entry["last"] = max(entry["last"], created)
    rows = sorted(counts.values(), key=lambda r: (-r["searches"], r["query"].lower()))
    return rows[:limit]


def top_cited_articles(
    *, start: dt.datetime, end: dt.datetime, limit: int = 20
) -> list[dict[str, Any]]:
    window = _window(Interaction.objects.all(), start, end).values("id")
    rows = (
        Article.objects.filter(cited_in__in=window)
        .annotate(citations=Count("cited_in", filter=Q(cited_in__in=window), distinct=True))
        .order_by("-citations", "title")
        .values("id", "title", "citations")[:limit]
    )
    return list(rows)


def most_disliked_articles(
    *, start: dt.datetime, end: dt.datetime, limit: int = 20
) -> list[dict[str, Any]]:
    """Articles cited by answers rated not helpful, with the share of ratings that were bad."""
    window = _window(Interaction.objects.all(), start, end)
    through = Interaction.cited_articles.through
    # Two plain counts over the citation table: annotating both on one queryset would reuse
    # the join that the first filter restricted, and count only disliked answers as rated.
    # django-stubs cannot see an annotation made after .values() ("Cannot resolve keyword 'n'").
    disliked = dict(
        through.objects.filter(  # type: ignore[misc]
            interaction__in=window.filter(feedback__helpful=False).values("id")
        )
        .values("article_id")
        .annotate(n=Count("interaction_id", distinct=True))
        .values_list("article_id", "n")
    )
    rated = dict(
        through.objects.filter(  # type: ignore[misc]  # same stubs limitation
            interaction__in=window.filter(feedback__helpful__isnull=False).values("id"),
            article_id__in=list(disliked),
        )
        .values("article_id")
        .annotate(n=Count("interaction_id", distinct=True))
        .values_list("article_id", "n")
    )
    titles = dict(Article.objects.filter(pk__in=list(disliked)).values_list("id", "title"))
    rows = [
        {
            "id": article_id,
            "title": titles.get(article_id, ""),
            "disliked": n,
            "rated": rated.get(article_id, n),
            "dislike_rate": n / rated[article_id] if rated.get(article_id) else None,
        }
        for article_id, n in disliked.items()
    ]
    rows.sort(key=lambda r: (-r["disliked"], r["title"]))
    return rows[:limit]
