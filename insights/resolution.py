"""Resolution metrics with published definitions (docs/metrics.md): reads only.

Every customer question (portal, widget, API; agents' drafts, greetings and thanks left out)
gets exactly one outcome, decided in this order:
  escalated  -> handed to a person (asked for one, a safety hazard, opened a conversation from
                the answer, or its thread went to a person within the window);
  abstained  -> no answer given (not found / not sure);
  confirmed  -> the customer's latest "Was this helpful?" is Yes;
  unresolved -> the latest vote is No, or the customer needed more help within the window
                (another question in the same thread, or on the same intent);
  pending    -> answered less than the window ago, no vote: too early to call;
  assumed    -> none of the above: no further help was asked for within the window.
"Resolved" is confirmed + assumed; "durable" is a resolved question with no repeat question on
the same topic and no reopened thread within INSIGHTS_DURABLE_DAYS (only judged once those
days have passed). Conversation numbers (handoffs by reason, reopen rate, CSAT, SLA) come from
the threads. Every number is computed from rows the page can list, so each links to them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from insights.redaction import redact
from insights.selectors import asker_key
from support.models import Channel, Conversation, Feedback, Interaction, Priority

OUTCOMES = ("confirmed", "assumed", "pending", "unresolved", "escalated", "abstained")
RESOLVED = ("confirmed", "assumed")
# What the breakdowns group by: a question's channel, triaged intent and language, and the
# articles its answer cited (a question counts once for each).
DIMENSIONS = ("channel", "intent", "language", "article")

DEFINITIONS: dict[str, str] = {
    "questions": "Customer questions on the portal, widget and API (agents' drafts, greetings "
    "and thanks are not questions).",
    "confirmed": "The customer said the answer helped (their latest 'Was this helpful?' is Yes).",
    "assumed": "Answered, not escalated, not rated unhelpful, and no further help asked for "
    "within the window (INSIGHTS_RESOLUTION_WINDOW_HOURS, default 24 h): no other question in "
    "the same thread and none on the same intent from the same customer, no handoff.",
    "pending": "Answered less than the window ago and not rated: too early to call; not in the "
    "resolution rate's denominator.",
    "unresolved": "Rated not helpful, or the customer needed more help within the window "
    "(another question in the thread or on the same intent).",
    "escalated": "Handed to a person: the customer asked for one, a safety hazard (never "
    "answered from the manuals, never resolved by self-service), a conversation opened from "
    "the answer, or the thread handed off within the window.",
    "abstained": "No answer given: not found in the help center or not sure enough.",
    "resolved": "Confirmed + assumed.",
    "resolution_rate": "Resolved / (questions - pending).",
    "durable": "Resolved, and within INSIGHTS_DURABLE_DAYS (default 7) no question on the same "
    "intent from the same customer, no other question in the thread and the thread not "
    "reopened; judged only once those days have passed.",
    "durable_rate": "Durable / resolved questions old enough to judge.",
    "no_result": "Abstained, or answered with a confidence below the answer threshold "
    "(ANSWER_MIN_CONFIDENCE_PUBLIC); safety handoffs excluded.",
    "handoff_rate": "Conversations started in the period that reached a person, by the reason "
    "of their (first) handoff, over all conversations started in the period.",
    "reopen_rate": "Conversations started in the period and resolved at least once that the "
    "customer reopened afterwards, over those resolved at least once.",
    "csat": "Ratings (1-5) given in the period: their average, and the share of 4 and 5.",
    "sla_breached": "Conversations handed to a person in the period whose first response or "
    "resolution came after its target (KB_SLA_*_MINUTES, by priority) or is overdue now.",
}


@dataclass
class QuestionOutcome:
    """One customer question with its outcome (the rows behind every question number)."""

    id: int
    question: str  # redacted
    created_at: dt.datetime
    channel: str
    intent: str
    language: str
    outcome: str
    why: str  # e.g. the handoff reason, "rated not helpful", "asked again"
    durable: bool | None  # None: not resolved, or too early to judge
    no_result: bool
    conversation_id: int | None
    articles: list[tuple[int, str]] = field(default_factory=list)

    def values(self, dimension: str) -> list[str]:
        if dimension == "article":
            return [str(article_id) for article_id, _ in self.articles]
        return [str(getattr(self, dimension) or "")]


def _customer_questions() -> Any:
    return (
        Interaction.objects.exclude(channel=Channel.AGENT)
        .filter(audience="public")
        # A greeting or a thanks is not a question; "talk to a human" (escalated) is one.
        .exclude(Q(backend="smalltalk") & Q(escalated=False))
        # The client left before an answer existed: nothing was answered or abstained on.
        .exclude(fallback_reason="client_disconnected")
    )


def question_outcomes(
    *, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None
) -> list[QuestionOutcome]:
    """Every customer question asked in [start, end) with its outcome, oldest first."""
    from generation.services import min_confidence

    now = now or timezone.now()
    window = dt.timedelta(hours=settings.INSIGHTS_RESOLUTION_WINDOW_HOURS)
    durable_window = dt.timedelta(days=settings.INSIGHTS_DURABLE_DAYS)
    columns = (
        "id",
        "question",
        "created_at",
        "channel",
        "intent",
        "language",
        "abstained",
        "escalated",
        "handoff_reason",
        "confidence",
        "audience",
        "user_id",
        "session_key",
        "conversation_id",
    )
    base = _customer_questions()
    period = base.filter(created_at__gte=start, created_at__lt=end)
    rows = list(period.order_by("created_at", "id").values(*columns))
    # Subqueries, not id lists: a busy period has more ids than SQLite takes as parameters.
    ids = period.values("id")
    # The latest customer vote counts (a customer may change their mind).
    votes: dict[int, bool | None] = dict(
        Feedback.objects.filter(interaction_id__in=ids, helpful__isnull=False, suggestion_usage="")
        .order_by("created_at", "id")
        .values_list("interaction_id", "helpful")
    )
    started_from: dict[int | None, str] = dict(
        Conversation.objects.filter(source_interaction_id__in=ids).values_list(
            "source_interaction_id", "handoff_reason"
        )
    )
    conversation_ids = period.exclude(conversation_id=None).values("conversation_id")
    threads: dict[int, Any] = {
        c["id"]: c
        for c in Conversation.objects.filter(pk__in=conversation_ids).values(
            "id", "handoff_reason", "handed_off_at", "last_reopened_at"
        )
    }
    # Later questions of the same customers (up to the durable horizon): "asked again".
    later_by_asker: dict[str, list[tuple[dt.datetime, str, int | None, int]]] = defaultdict(list)
    later_rows = base.filter(created_at__gte=start, created_at__lt=end + durable_window).filter(
        Q(user_id__in=period.exclude(user_id=None).values("user_id"))
        | Q(session_key__in=period.exclude(session_key="").values("session_key"))
        | Q(conversation_id__in=conversation_ids)
    )
    for r in later_rows.values(*columns):
        entry = (r["created_at"], r["intent"], r["conversation_id"], r["id"])
        later_by_asker[asker_key(r)].append(entry)
        if r["conversation_id"] and asker_key(r) != f"c{r['conversation_id']}":
            later_by_asker[f"c{r['conversation_id']}"].append(entry)
    through = Interaction.cited_articles.through
    articles: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for iid, aid, title in (
        through.objects.filter(interaction_id__in=ids)
        .order_by("article_id")
        .values_list("interaction_id", "article_id", "article__title")
    ):
        articles[iid].append((aid, title))

    def again_within(row: dict[str, Any], horizon: dt.timedelta) -> bool:
        """Another question in the same thread, or on the same intent by the same customer."""
        for when, intent, conversation_id, other_id in later_by_asker.get(asker_key(row), []) + (
            later_by_asker.get(f"c{row['conversation_id']}", []) if row["conversation_id"] else []
        ):
            if other_id == row["id"] or not (
                row["created_at"] < when <= row["created_at"] + horizon
            ):
                continue
            same_thread = bool(row["conversation_id"]) and conversation_id == row["conversation_id"]
            if same_thread or (row["intent"] and intent == row["intent"]):
                return True
        return False

    out = []
    for r in rows:
        thread = threads.get(r["conversation_id"] or 0)
        handed_off_soon = bool(
            thread
            and thread["handed_off_at"]
            and r["created_at"] <= thread["handed_off_at"] <= r["created_at"] + window
        )
        why = ""
        if r["handoff_reason"] == "safety":
            outcome, why = "escalated", "safety"
        elif r["escalated"] or r["id"] in started_from or handed_off_soon:
            outcome = "escalated"
            why = started_from.get(r["id"]) or (thread or {}).get("handoff_reason") or "escalated"
        elif r["abstained"]:
            outcome, why = "abstained", r["handoff_reason"] or "not found"
        elif votes.get(r["id"]) is True:
            outcome = "confirmed"
        elif votes.get(r["id"]) is False:
            outcome, why = "unresolved", "rated not helpful"
        elif again_within(r, window):
            outcome, why = "unresolved", "asked again"
        elif now - r["created_at"] < window:
            outcome = "pending"
        else:
            outcome = "assumed"
        durable: bool | None = None
        if outcome in RESOLVED and now - r["created_at"] >= durable_window:
            reopened = bool(
                thread
                and thread["last_reopened_at"]
                and r["created_at"] < thread["last_reopened_at"] <= r["created_at"] + durable_window
            )
            durable = not reopened and not again_within(r, durable_window)
        no_result = r["handoff_reason"] != "safety" and (
            r["abstained"]
            or (outcome != "escalated" and r["confidence"] < min_confidence(r["audience"]))
        )
        out.append(
            QuestionOutcome(
                id=r["id"],
                question=redact(r["question"]),
                created_at=r["created_at"],
                channel=r["channel"],
                intent=r["intent"],
                language=r["language"],
                outcome=outcome,
                why=why,
                durable=durable,
                no_result=bool(no_result),
                conversation_id=r["conversation_id"],
                articles=articles.get(r["id"], []),
            )
        )
    return out


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summarize(outcomes: Iterable[QuestionOutcome]) -> dict[str, Any]:
    """Counts per outcome, resolved, durable and their rates over a set of questions."""
    rows = list(outcomes)
    counts = dict.fromkeys(OUTCOMES, 0)
    for o in rows:
        counts[o.outcome] += 1
    resolved = counts["confirmed"] + counts["assumed"]
    judged = [o for o in rows if o.durable is not None]
    durable = sum(1 for o in judged if o.durable)
    decided = len(rows) - counts["pending"]
    return {
        "questions": len(rows),
        **counts,
        "resolved": resolved,
        "resolution_rate": _rate(resolved, decided),
        "durable": durable,
        "durable_judged": len(judged),
        "durable_rate": _rate(durable, len(judged)),
        "no_result": sum(1 for o in rows if o.no_result),
        "safety": sum(1 for o in rows if o.why == "safety"),
    }


def breakdown(outcomes: list[QuestionOutcome], dimension: str) -> list[dict[str, Any]]:
    """summarize() per value of a dimension, the largest groups first."""
    groups: dict[str, list[QuestionOutcome]] = defaultdict(list)
    labels: dict[str, str] = {}
    for o in outcomes:
        for value in o.values(dimension):
            groups[value].append(o)
        if dimension == "article":
            labels.update({str(aid): title for aid, title in o.articles})
    rows = [
        {"value": value, "label": labels.get(value, value or "(none)"), **summarize(group)}
        for value, group in groups.items()
    ]
    rows.sort(key=lambda r: (-r["questions"], r["label"]))
    return rows


def select(
    outcomes: list[QuestionOutcome], *, metric: str = "", dimension: str = "", value: str = ""
) -> list[QuestionOutcome]:
    """The questions behind one number: an outcome (or resolved / durable / no_result /
    safety), optionally within one group of a dimension."""
    rows = outcomes
    if dimension in DIMENSIONS:
        rows = [o for o in rows if value in o.values(dimension)]
    if metric in OUTCOMES:
        return [o for o in rows if o.outcome == metric]
    if metric == "resolved":
        return [o for o in rows if o.outcome in RESOLVED]
    if metric == "durable":
        return [o for o in rows if o.durable]
    if metric == "not_durable":
        return [o for o in rows if o.durable is False]
    if metric == "no_result":
        return [o for o in rows if o.no_result]
    if metric == "safety":
        return [o for o in rows if o.why == "safety"]
    return rows


def no_result_queries(outcomes: list[QuestionOutcome], *, limit: int = 50) -> list[dict[str, Any]]:
    """No-result questions grouped case-insensitively, most frequent first, with their ids."""
    groups: dict[str, dict[str, Any]] = {}
    for o in outcomes:
        if not o.no_result:
            continue
        text = " ".join(o.question.split())
        entry = groups.setdefault(
            text.lower(),
            {"query": text, "times": 0, "abstained": 0, "ids": [], "last": o.created_at},
        )
        entry["times"] += 1
        entry["abstained"] += o.outcome == "abstained"
        entry["ids"].append(o.id)
        entry["last"] = max(entry["last"], o.created_at)
    rows = sorted(groups.values(), key=lambda r: (-r["times"], r["query"].lower()))
    return rows[:limit]


# --- Conversation numbers -------------------------------------------------------------------


@dataclass
class ConversationFacts:
    """One conversation with what the conversation numbers need (rows behind them)."""

    id: int
    subject: str
    created_at: dt.datetime
    channel: str
    intent: str
    language: str
    priority: int
    handoff_reason: str
    handed_off_in_period: bool
    ever_resolved: bool
    reopened: bool
    csat_score: int | None  # a rating given in the period
    sla_breached: bool | None  # None: no SLA clock (never handed off)


def conversation_facts(
    *, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None
) -> list[ConversationFacts]:
    """Conversations started, handed off or rated in [start, end)."""
    from support.selectors import conversation_sla

    now = now or timezone.now()
    in_period = (
        Q(created_at__gte=start, created_at__lt=end)
        | Q(handed_off_at__gte=start, handed_off_at__lt=end)
        | Q(csat_at__gte=start, csat_at__lt=end)
    )
    out = []
    for c in Conversation.objects.filter(in_period).order_by("created_at", "id"):
        handed = bool(c.handed_off_at and start <= c.handed_off_at < end)
        rated = bool(c.csat_at and start <= c.csat_at < end)
        out.append(
            ConversationFacts(
                id=c.pk,
                subject=redact(c.subject),
                created_at=c.created_at,
                channel=c.channel,
                intent=c.intent,
                language=c.language,
                priority=c.priority,
                handoff_reason=c.handoff_reason,
                handed_off_in_period=handed,
                ever_resolved=bool(c.resolved_at or c.reopen_count),
                reopened=c.reopen_count > 0,
                csat_score=c.csat_score if rated else None,
                sla_breached=conversation_sla(conversation=c, now=now).breached
                if handed and c.first_response_due_at
                else None,
            )
        )
    return out


def _started(facts: Iterable[ConversationFacts], start: dt.datetime, end: dt.datetime) -> list:
    return [f for f in facts if start <= f.created_at < end]


def conversation_summary(
    facts: list[ConversationFacts], *, start: dt.datetime, end: dt.datetime
) -> dict[str, Any]:
    started = _started(facts, start, end)
    handed = [f for f in started if f.handoff_reason]
    by_reason: dict[str, int] = defaultdict(int)
    for f in handed:
        by_reason[f.handoff_reason] += 1
    resolved_once = [f for f in started if f.ever_resolved]
    reopened = [f for f in resolved_once if f.reopened]
    ratings = [f.csat_score for f in facts if f.csat_score is not None]
    sla = [f for f in facts if f.sla_breached is not None]
    breached = [f for f in sla if f.sla_breached]
    return {
        "conversations": len(started),
        "handoffs": len(handed),
        "handoff_rate": _rate(len(handed), len(started)),
        "handoffs_by_reason": dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
        "resolved_once": len(resolved_once),
        "reopened": len(reopened),
        "reopen_rate": _rate(len(reopened), len(resolved_once)),
        "csat_ratings": len(ratings),
        "csat_average": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "csat_satisfied_rate": _rate(sum(1 for s in ratings if s >= 4), len(ratings)),
        "sla_tracked": len(sla),
        "sla_breached": len(breached),
        "sla_breach_rate": _rate(len(breached), len(sla)),
    }


def _group_value(facts: ConversationFacts, dimension: str) -> str:
    value = getattr(facts, dimension)
    return "" if value is None else str(value)  # priority 0 (urgent) is a value, not "none"


def conversation_breakdown(
    facts: list[ConversationFacts], dimension: str, *, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """conversation_summary() per channel, intent, language or priority."""
    groups: dict[str, list[ConversationFacts]] = defaultdict(list)
    for f in facts:
        groups[_group_value(f, dimension)].append(f)
    labels = {str(v): label for v, label in Priority.choices} if dimension == "priority" else {}
    rows = [
        {
            "value": value,
            "label": labels.get(value, value or "(none)"),
            **conversation_summary(group, start=start, end=end),
        }
        for value, group in groups.items()
    ]
    rows.sort(key=lambda r: (-r["conversations"], r["label"]))
    return rows


CONVERSATION_METRICS = ("started", "handoff", "reopened", "resolved_once", "csat", "sla_breached")


def conversation_select(
    facts: list[ConversationFacts],
    *,
    metric: str,
    start: dt.datetime,
    end: dt.datetime,
    dimension: str = "",
    value: str = "",
) -> list[ConversationFacts]:
    """The conversations behind one conversation number (metric "handoff:<reason>" too)."""
    rows = facts
    if dimension in {"channel", "intent", "language", "priority"}:
        rows = [f for f in rows if _group_value(f, dimension) == value]
    started = _started(rows, start, end)
    if metric == "started":
        return started
    if metric == "handoff":
        return [f for f in started if f.handoff_reason]
    if metric.startswith("handoff:"):
        return [f for f in started if f.handoff_reason == metric.split(":", 1)[1]]
    if metric == "resolved_once":
        return [f for f in started if f.ever_resolved]
    if metric == "reopened":
        return [f for f in started if f.ever_resolved and f.reopened]
    if metric == "csat":
        return [f for f in rows if f.csat_score is not None]
    if metric == "sla_breached":
        return [f for f in rows if f.sla_breached]
    return []
