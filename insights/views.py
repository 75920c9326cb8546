"""The editors' review queue of suggestions and the analytics dashboard."""

from __future__ import annotations

import csv
import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from insights import charts, resolution, selectors, services
from insights.models import MiningRun, Suggestion, SuggestionKind, SuggestionStatus
from knowledge import roles
from knowledge.access import role_required
from knowledge.rendering import render_markdown
from knowledge.services import EditConflict

logger = logging.getLogger(__name__)


# The insights pages: editors, reviewers and admins.
editor_required = role_required(
    roles.is_editor, "The insights pages are for editors, reviewers and admins."
)


def _get_suggestion(pk: int) -> Suggestion:
    return get_object_or_404(
        Suggestion.objects.select_related(
            "target_article", "other_article", "accepted_revision__article"
        ),
        pk=pk,
    )


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@editor_required
def suggestion_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in SuggestionKind.values:
        kind = ""
    status = request.GET.get("status", SuggestionStatus.OPEN)
    if status not in SuggestionStatus.values:
        status = SuggestionStatus.OPEN
    # Scores are comparable only within a kind: show one ranked table per kind.
    groups = [
        (value, label, list(selectors.suggestion_list(kind=value, status=status)[:100]))
        for value, label in SuggestionKind.choices
        if not kind or kind == value
    ]
    return render(
        request,
        "insights/suggestion_list.html",
        {
            "groups": groups,
            "kind": kind,
            "status": status,
            "kinds": SuggestionKind.choices,
            "statuses": SuggestionStatus.choices,
            "counts": selectors.suggestion_counts(),
            "last_run": MiningRun.objects.first(),
            "section": "queue",
        },
    )


def _highlighted_draft(suggestion: Suggestion) -> list[str]:
    return list(suggestion.draft_check.get("unsupported") or [])


def _stat_value(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, str) and len(value) > 19 and value[4:5] == "-" and "T" in value:
        return value[:10]  # an ISO timestamp: the day is enough here
    return value


@editor_required
def suggestion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    suggestion = _get_suggestion(pk)
    before_after = suggestion.before_after or {}
    rows = []
    after = before_after.get("after") or []
    for i, before in enumerate(before_after.get("before") or []):
        rows.append({"before": before, "after": after[i] if i < len(after) else None})
    stats = [
        (name.replace("_", " ").capitalize(), _stat_value(value))
        for name, value in (suggestion.evidence.get("stats") or {}).items()
    ]
    return render(
        request,
        "insights/suggestion_detail.html",
        {
            "s": suggestion,
            "stats": stats,
            "draft_html": mark_safe(render_markdown(suggestion.draft_body)),  # sanitized by nh3
            "unsupported": _highlighted_draft(suggestion),
            "before_after_rows": rows,
            "article_published": services.accepted_article_published(suggestion),
            "section": "queue",
        },
    )


@editor_required
@require_POST
def suggestion_accept(request: HttpRequest, pk: int) -> HttpResponse:
    suggestion = _get_suggestion(pk)
    try:
        revision = services.suggestion_accept(suggestion=suggestion, user=request.user)
    except (ValidationError, EditConflict) as exc:
        messages.error(request, _error_text(exc) if isinstance(exc, ValidationError) else str(exc))
        return redirect("insights:suggestion_detail", pk=pk)
    messages.success(
        request,
        f"Draft revision {revision.number} of “{revision.title}” created: submit it for review "
        "in the knowledge editor.",
    )
    return redirect("insights:suggestion_detail", pk=pk)


@editor_required
def suggestion_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit the draft, then accept it (the editor's text is never lost on an error)."""
    suggestion = _get_suggestion(pk)
    title = suggestion.draft_title or suggestion.title
    body = suggestion.draft_body
    base = suggestion.evidence.get("base_revision_id")
    error = ""
    if request.method == "POST":
        title = request.POST.get("title", "")
        body = request.POST.get("body", "")
        base = _int_or_none(request.POST.get("base_revision_id"))
        try:
            services.suggestion_accept(
                suggestion=suggestion,
                user=request.user,
                title=title,
                body=body,
                base_revision_id=base,
            )
        except ValidationError as exc:
            error = _error_text(exc)
        except EditConflict as exc:
            # Keep the editor's text; the next save builds on the revision they now know of.
            error = str(exc)
            base = exc.latest.pk if exc.latest else None
        else:
            messages.success(request, "Your edited draft was saved as a draft revision.")
            return redirect("insights:suggestion_detail", pk=pk)
    elif suggestion.status != SuggestionStatus.OPEN:
        messages.error(request, "This suggestion is no longer open.")
        return redirect("insights:suggestion_detail", pk=pk)
    return render(
        request,
        "insights/suggestion_edit.html",
        {"s": suggestion, "title": title, "body": body, "base": base, "error": error},
        status=400 if error else 200,
    )


@editor_required
@require_POST
def suggestion_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    suggestion = _get_suggestion(pk)
    try:
        services.suggestion_dismiss(
            suggestion=suggestion, user=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("insights:suggestion_detail", pk=pk)
    messages.success(request, "Suggestion dismissed: it comes back only if the problem grows.")
    return redirect("insights:suggestion_list")


@editor_required
@require_POST
def suggestion_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    suggestion = _get_suggestion(pk)
    try:
        services.suggestion_rerun(suggestion=suggestion)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        if not services.accepted_article_published(suggestion):
            messages.warning(
                request,
                "Re-run done, but the article is not published yet: customers can't see it.",
            )
        else:
            messages.success(request, "The questions were asked again: see before and after below.")
    return redirect("insights:suggestion_detail", pk=pk)


@editor_required
@require_POST
def mine_now(request: HttpRequest) -> HttpResponse:
    from insights.tasks import mine_logs

    mine_logs.delay()
    messages.success(request, "Mining started: new suggestions appear here when it finishes.")
    return redirect("insights:suggestion_list")


# --- Analytics ------------------------------------------------------------------------------


def _parse_range(request: HttpRequest) -> tuple[dt.date, dt.date, str]:
    """[start, end] dates from ?start=YYYY-MM-DD&end=YYYY-MM-DD (default: the last 30 days)."""
    today = timezone.localdate()
    error = ""
    try:
        end = dt.date.fromisoformat(request.GET.get("end") or today.isoformat())
        start = dt.date.fromisoformat(
            request.GET.get("start") or (end - dt.timedelta(days=29)).isoformat()
        )
    except ValueError:
        error = "Dates must look like 2026-01-31; showing the last 30 days instead."
        end, start = today, today - dt.timedelta(days=29)
    if start > end:
        error = "The start date was after the end date: they have been swapped."
        start, end = end, start
    if (end - start).days > 366:
        error = "Ranges are limited to one year: showing the year up to the end date."
        start = end - dt.timedelta(days=365)
    return start, end, error


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


_QUESTION_COLUMNS = [
    "value",
    "label",
    "questions",
    *resolution.OUTCOMES,
    "resolved",
    "resolution_rate",
    "durable",
    "durable_judged",
    "durable_rate",
    "no_result",
    "safety",
]
_CONVERSATION_COLUMNS = [
    "value",
    "label",
    "conversations",
    "handoffs",
    "handoff_rate",
    "resolved_once",
    "reopened",
    "reopen_rate",
    "csat_ratings",
    "csat_average",
    "csat_satisfied_rate",
    "sla_tracked",
    "sla_breached",
    "sla_breach_rate",
]
TABLES = {
    "questions_per_day": ["day", "questions", "abstained", "escalated"],
    "no_result_searches": ["query", "searches"],
    "top_cited": ["id", "title", "citations"],
    "most_disliked": ["id", "title", "disliked", "rated", "dislike_rate"],
    "summary": ["metric", "value"],
    "resolution": ["metric", "value", "definition"],
    **{f"resolution_by_{d}": _QUESTION_COLUMNS for d in resolution.DIMENSIONS},
    "no_result_questions": ["query", "times", "abstained"],
    "conversations": ["metric", "value", "definition"],
    "handoffs_by_reason": ["reason", "conversations", "rate"],
    **{
        f"conversations_by_{d}": _CONVERSATION_COLUMNS
        for d in ("channel", "intent", "language", "priority")
    },
}
_RESOLUTION_ROWS = [
    "questions",
    *resolution.OUTCOMES,
    "resolved",
    "resolution_rate",
    "durable",
    "durable_rate",
    "no_result",
]
_CONVERSATION_ROWS = [
    ("conversations", "started", ""),
    ("handoffs", "handoff", "handoff_rate"),
    ("handoff_rate", "handoff", "handoff_rate"),
    ("reopened", "reopened", "reopen_rate"),
    ("reopen_rate", "reopened", "reopen_rate"),
    ("csat_ratings", "csat", "csat"),
    ("csat_average", "csat", "csat"),
    ("csat_satisfied_rate", "csat", "csat"),
    ("sla_breached", "sla_breached", "sla_breached"),
    ("sla_breach_rate", "sla_breached", "sla_breached"),
]


def analytics_tables(start: dt.datetime, end: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    outcomes = resolution.question_outcomes(start=start, end=end)
    summary = selectors.analytics_summary(start=start, end=end, outcomes=outcomes)
    totals = resolution.summarize(outcomes)
    facts = resolution.conversation_facts(start=start, end=end)
    conversations = resolution.conversation_summary(facts, start=start, end=end)
    defs = resolution.DEFINITIONS
    return {
        "summary": [{"metric": k, "value": v} for k, v in summary.items()],
        "questions_per_day": selectors.questions_per_day(start=start, end=end),
        "no_result_searches": selectors.top_searches_without_results(start=start, end=end),
        "top_cited": selectors.top_cited_articles(start=start, end=end),
        "most_disliked": selectors.most_disliked_articles(start=start, end=end),
        "resolution": [
            {"metric": name, "value": totals[name], "definition": defs.get(name, "")}
            for name in _RESOLUTION_ROWS
        ],
        **{f"resolution_by_{d}": resolution.breakdown(outcomes, d) for d in resolution.DIMENSIONS},
        "no_result_questions": resolution.no_result_queries(outcomes),
        "conversations": [
            {
                "metric": name,
                "value": conversations[name],
                "definition": defs.get(key, ""),
                "link": link,
            }
            for name, link, key in _CONVERSATION_ROWS
        ],
        "handoffs_by_reason": [
            {
                "reason": reason,
                "conversations": n,
                "rate": n / conversations["conversations"]
                if conversations["conversations"]
                else None,
            }
            for reason, n in conversations["handoffs_by_reason"].items()
        ],
        **{
            f"conversations_by_{d}": resolution.conversation_breakdown(
                facts, d, start=start, end=end
            )
            for d in ("channel", "intent", "language", "priority")
        },
    }


def _csv_response(name: str, rows: list[dict[str, Any]], start: dt.date, end: dt.date):
    return _csv_rows(name, TABLES[name], rows, start, end)


def _csv_rows(
    name: str, columns: list[str], rows: list[dict[str, Any]], start: dt.date, end: dt.date
) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    safe_name = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:80]
    response["Content-Disposition"] = f'attachment; filename="{safe_name}_{start}_{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(columns)
    for row in rows:
        values = []
        for column in columns:
            value = row.get(column)
            if isinstance(value, float):
                value = f"{value:.4f}"
            text = "" if value is None else str(value)
            # Cells starting with = + - @ are formulas to spreadsheets: neutralise them.
            if text[:1] in ("=", "+", "-", "@") and not _is_number(text):
                text = "'" + text
            values.append(text)
        writer.writerow(values)
    return response


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@editor_required
def analytics(request: HttpRequest) -> HttpResponse:
    start, end, error = _parse_range(request)
    lo, hi = _bounds(start, end)
    tables = analytics_tables(lo, hi)
    export = request.GET.get("export", "")
    if export:
        if export not in TABLES:
            return HttpResponse(
                f"Unknown table {export!r}: use one of {', '.join(TABLES)}.",
                status=400,
                content_type="text/plain",
            )
        return _csv_response(export, tables[export], start, end)
    summary = {row["metric"]: row["value"] for row in tables["summary"]}
    per_day = tables["questions_per_day"]
    rates = [
        ("Resolved by self-service", summary["self_service_rate"]),
        ("Abstention", summary["abstention_rate"]),
        ("Escalation", summary["escalation_rate"]),
        ("Helpful (of rated)", summary["helpful_rate"]),
    ]
    charts_svg = {
        "per_day": charts.column_chart(
            [(d["day"].strftime("%m-%d"), d["questions"]) for d in per_day],
            title=f"Questions per day, {start} to {end}",
        ),
        "rates": charts.bar_chart(
            [(label, value or 0.0) for label, value in rates], title="Rates", percent=True
        ),
        "no_result": charts.bar_chart(
            [(r["query"], r["searches"]) for r in tables["no_result_searches"][:10]],
            title="Top searches with no result",
        ),
        "top_cited": charts.bar_chart(
            [(r["title"], r["citations"]) for r in tables["top_cited"][:10]],
            title="Most cited articles",
        ),
        "most_disliked": charts.bar_chart(
            [(r["title"], r["disliked"]) for r in tables["most_disliked"][:10]],
            title="Most disliked articles",
        ),
    }
    query = f"start={start}&end={end}"
    return render(
        request,
        "insights/analytics.html",
        {
            "start": start,
            "end": end,
            "error": error,
            "summary": summary,
            "rates": rates,
            "tables": tables,
            "charts": {k: mark_safe(v) for k, v in charts_svg.items()},  # built with escape()
            "export_base": f"{reverse('insights:analytics')}?{query}&export=",
            "rows_base": f"{reverse('insights:analytics_rows')}?{query}",
            "definitions": resolution.DEFINITIONS,
            "window_hours": settings.INSIGHTS_RESOLUTION_WINDOW_HOURS,
            "durable_days": settings.INSIGHTS_DURABLE_DAYS,
            "resolution_dimensions": [
                (d, tables[f"resolution_by_{d}"]) for d in resolution.DIMENSIONS
            ],
            "conversation_dimensions": [
                (d, tables[f"conversations_by_{d}"])
                for d in ("channel", "intent", "language", "priority")
            ],
            "section": "analytics",
        },
    )


ROW_LIMIT = 500


@editor_required
def analytics_rows(request: HttpRequest) -> HttpResponse:
    """The questions or conversations behind one number on the analytics page (or its CSV)."""
    start, end, error = _parse_range(request)
    lo, hi = _bounds(start, end)
    kind = request.GET.get("kind", "questions")
    metric = request.GET.get("metric", "")[:64]
    dimension = request.GET.get("by", "")[:32]
    value = request.GET.get("value", "")[:200]
    if kind == "conversations":
        facts = resolution.conversation_facts(start=lo, end=hi)
        picked: list[Any] = resolution.conversation_select(
            facts, metric=metric, start=lo, end=hi, dimension=dimension, value=value
        )
        columns = ["id", "subject", "created_at", "channel", "intent", "language", "priority",
                   "handoff_reason", "reopened", "csat_score", "sla_breached"]  # fmt: skip
    elif kind == "questions":
        outcomes = resolution.question_outcomes(start=lo, end=hi)
        picked = resolution.select(outcomes, metric=metric, dimension=dimension, value=value)
        text = " ".join(request.GET.get("text", "")[:500].split()).lower()
        if text:  # one line of "Questions with no result"
            picked = [o for o in picked if " ".join(o.question.split()).lower() == text]
        columns = ["id", "question", "created_at", "channel", "intent", "language", "outcome",
                   "why", "durable", "no_result", "conversation_id"]  # fmt: skip
    else:
        return HttpResponse(
            f"Unknown kind {kind[:40]!r}: use questions or conversations.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    rows = [{c: getattr(item, c) for c in columns} for item in picked]
    if request.GET.get("export") == "csv":
        return _csv_rows(f"{kind}_{metric or 'all'}", columns, rows, start, end)
    return render(
        request,
        "insights/analytics_rows.html",
        {
            "start": start,
            "end": end,
            "error": error,
            "kind": kind,
            "metric": metric,
            "dimension": dimension,
            "value": value,
            "definition": resolution.DEFINITIONS.get(metric.split(":", 1)[0], ""),
            "columns": columns,
            "rows": rows[:ROW_LIMIT],
            "total": len(rows),
            "limit": ROW_LIMIT,
            "csv_url": request.get_full_path() + "&export=csv",
            "section": "analytics",
        },
    )
