"""Mining the support logs into suggestions, and what editors do with them.

`mine_logs` is the one entry point of the pipeline (run by `manage.py mine_logs` and by the
Celery beat task). Each run reads the logs of the last INSIGHTS_WINDOW_DAYS, so cluster sizes
mean something, but only touches suggestions whose evidence gained something new since the
previous successful run. The miners (one per suggestion kind, `insights.miners`) share one
suggestion lifecycle (`insights.lifecycle`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from insights import selectors
from insights.conf import insights_conf
from insights.miners import MINERS, MiningContext
from insights.miners.base import Progress
from insights.miners.new_article import cluster_score as cluster_score
from insights.miners.update_article import update_impact as update_impact
from insights.models import MiningRun, Suggestion, SuggestionKind, SuggestionStatus
from knowledge import services as kb
from knowledge.audience import Audience
from knowledge.models import Article, ArticleStatus, AuditLog, Revision, RevisionState

logger = logging.getLogger(__name__)


def _noop_progress(stage: str, done: int, total: int) -> None:
    return None


# --- Mining ---------------------------------------------------------------------------------


class MiningInProgress(Exception):
    """Another mining run holds the lock: two at once would create duplicate suggestions."""


MINING_LOCK_KEY = "insights:mine_logs:lock"
MINING_LOCK_SECONDS = 3600  # a crashed run frees the lock after an hour at the latest


def mine_logs(*, now: dt.datetime | None = None, progress: Progress | None = None) -> MiningRun:
    """Turn the logs into new/updated suggestions; record the run with its counts.

    Raises MiningInProgress when another run is under way (the lock lives in the cache:
    shared between processes when CACHE_URL points at Redis).
    """
    if not cache.add(MINING_LOCK_KEY, timezone.now().isoformat(), timeout=MINING_LOCK_SECONDS):
        raise MiningInProgress(
            f"Another mining run is in progress (since {cache.get(MINING_LOCK_KEY)}); "
            "try again when it has finished."
        )
    try:
        return _mine_logs(now=now or timezone.now(), progress=progress or _noop_progress)
    finally:
        cache.delete(MINING_LOCK_KEY)


def _mine_logs(*, now: dt.datetime, progress: Progress) -> MiningRun:
    conf = insights_conf()
    previous = selectors.last_successful_run()
    since = previous.started_at if previous else None
    max_interaction, max_feedback = selectors.high_water_marks()
    run = MiningRun.objects.create(
        started_at=now,
        since=since,
        max_interaction_id=max_interaction,
        max_feedback_id=max_feedback,
    )
    counts: dict[str, int] = defaultdict(int)
    try:
        window_start = now - dt.timedelta(days=conf.window_days)
        logged = selectors.interactions_in_window(start=window_start, end=now)
        # New: interactions logged, or rated, after the previous run read the tables.
        old_interaction = previous.max_interaction_id if previous else 0
        old_feedback = previous.max_feedback_id if previous else 0
        new_ids = {q.id for q in logged if q.id > old_interaction}
        if previous is not None:
            new_ids |= selectors.interactions_with_feedback_after(
                feedback_id=old_feedback, interaction_ids=[q.id for q in logged]
            )
        counts["interactions_in_window"] = len(logged)
        counts["new_interactions"] = len(new_ids)
        progress("read logs", 1, 1)
        context = MiningContext(
            logged=logged,
            new_ids=new_ids,
            now=now,
            since=since,
            window_start=window_start,
            conf=conf,
            counts=counts,
            progress=progress,
        )
        for miner in MINERS.values():
            miner.mine(context)
        _rerun_published(counts=counts, progress=progress)
    except Exception as exc:
        logger.exception("mining run %s failed", run.pk)
        run.status = MiningRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"[:2000]
        run.finished_at = timezone.now()
        run.counts = dict(counts)
        run.save()
        raise
    run.status = MiningRun.Status.DONE
    run.finished_at = timezone.now()
    run.counts = dict(counts)
    run.save()
    logger.info("mining run %s done: %s", run.pk, run.counts)
    return run


# --- Editor actions -------------------------------------------------------------------------


def _locked_open(suggestion: Suggestion) -> Suggestion:
    locked = Suggestion.objects.select_for_update().get(pk=suggestion.pk)
    if locked.status != SuggestionStatus.OPEN:
        raise ValidationError(f"This suggestion was already {locked.get_status_display().lower()}.")
    return locked


def _before_rows(suggestion: Suggestion) -> list[dict[str, Any]]:
    """How the triggering questions were answered when they were logged."""
    from support.models import Interaction

    rows = suggestion.evidence.get("questions", [])
    ids = [r.get("interaction_id") for r in rows if r.get("interaction_id")]
    interactions = {
        i.pk: i for i in Interaction.objects.filter(pk__in=ids).prefetch_related("cited_articles")
    }
    out = []
    for r in rows:
        interaction = interactions.get(r.get("interaction_id"))
        cited = (
            [{"id": a.pk, "title": a.title} for a in interaction.cited_articles.all()]
            if interaction
            else []
        )
        out.append(
            {
                "question": r["text"],
                "audience": r.get("audience", Audience.PUBLIC),
                "answered": bool(interaction and not interaction.abstained),
                "cited": cited,
                # How that wording was received over all its askers (answered is not solved).
                "disliked": r.get("disliked", 0),
                "escalated": r.get("escalated", 0),
            }
        )
    return out


@transaction.atomic
def suggestion_accept(
    *,
    suggestion: Suggestion,
    user: Any,
    title: str | None = None,
    body: str | None = None,
    base_revision_id: int | None = None,
) -> Revision:
    """Turn a suggestion into a draft revision in the normal review flow (and audit it).

    New article: a new draft article. Update or merge: a new draft revision of the target
    article, built on `base_revision_id` (default: the revision the draft was made from);
    raises EditConflict if someone saved a newer revision since, so nothing is overwritten.
    """
    suggestion = _locked_open(suggestion)
    title = (title if title is not None else suggestion.draft_title or suggestion.title).strip()
    body = body if body is not None else suggestion.draft_body
    if not body or not body.strip():
        raise ValidationError("The draft is empty: write the article text before accepting.")
    summary = f"From insights suggestion #{suggestion.pk}"
    if suggestion.kind == SuggestionKind.NEW_ARTICLE:
        evidence = suggestion.evidence
        audiences = {q.get("audience", Audience.PUBLIC) for q in evidence.get("questions", [])}
        # Agents' replies are internal text: a draft built from them starts internal, and an
        # editor makes it public deliberately (publishing it then needs a reviewer).
        public = audiences == {Audience.PUBLIC} and not evidence.get("agent_replies")
        visibility = Audience.PUBLIC if public else Audience.INTERNAL
        article = kb.article_create(
            title=title, body=body, author=user, summary=summary, visibility=visibility
        )
        revision = article.latest_revision
        assert revision is not None
    else:
        target = suggestion.target_article
        if target is None:
            raise ValidationError("The article this suggestion is about no longer exists.")
        target = Article.objects.get(pk=target.pk)
        if base_revision_id is None:
            base_revision_id = suggestion.evidence.get(
                "base_revision_id", target.latest_revision_id
            )
        revision = kb.revision_save(
            article=target,
            title=title,
            body=body,
            author=user,
            base_revision_id=base_revision_id,
            summary=summary,
        )
    suggestion.status = SuggestionStatus.ACCEPTED
    suggestion.accepted_revision = revision
    suggestion.accepted_by = user if getattr(user, "is_authenticated", False) else None
    suggestion.accepted_at = timezone.now()
    suggestion.before_after = {"before": _before_rows(suggestion)}
    suggestion.save()
    kb.audit_record(
        actor=user,
        action=AuditLog.Action.REVIEW,
        target=suggestion,
        detail={
            "decision": "accepted",
            "kind": suggestion.kind,
            "article": revision.article_id,
            "revision": revision.number,
            "edited": body != suggestion.draft_body or title != suggestion.draft_title,
        },
    )
    return revision


@transaction.atomic
def suggestion_dismiss(*, suggestion: Suggestion, user: Any, reason: str) -> Suggestion:
    """Dismiss with a reason; the cluster stays quiet until it grows by the re-open factor."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why this suggestion is dismissed (a few words are enough).")
    suggestion = _locked_open(suggestion)
    suggestion.status = SuggestionStatus.DISMISSED
    suggestion.dismissed_reason = reason[:2000]
    suggestion.dismissed_by = user if getattr(user, "is_authenticated", False) else None
    suggestion.dismissed_at = timezone.now()
    suggestion.size_at_dismissal = suggestion.cluster_size
    suggestion.save()
    kb.audit_record(
        actor=user,
        action=AuditLog.Action.REVIEW,
        target=suggestion,
        detail={"decision": "dismissed", "reason": reason[:500]},
    )
    return suggestion


def accepted_article_published(suggestion: Suggestion) -> bool:
    """Has the revision created from this suggestion (or a later one) been published?"""
    revision = suggestion.accepted_revision
    if revision is None:
        return False
    if revision.state == RevisionState.PUBLISHED:
        return True
    article = revision.article
    published = article.published_revision
    return bool(
        article.status == ArticleStatus.PUBLISHED
        and published is not None
        and published.number >= revision.number
    )


def suggestion_rerun(*, suggestion: Suggestion) -> Suggestion:
    """Ask the triggering questions again and store how they are answered now."""
    from generation.services import answer_question

    if suggestion.status != SuggestionStatus.ACCEPTED or suggestion.accepted_revision is None:
        raise ValidationError("Only accepted suggestions can be re-run.")
    before = suggestion.before_after.get("before") or _before_rows(suggestion)
    article_id = suggestion.accepted_revision.article_id
    after = []
    for row in before:
        answer = answer_question(row["question"], audience=row.get("audience", Audience.PUBLIC))
        cited, seen = [], set()
        for c in answer.citations:
            if c.article_id not in seen:
                seen.add(c.article_id)
                cited.append({"id": c.article_id, "title": c.title})
        after.append(
            {
                "question": row["question"],
                "answered": not answer.abstained,
                "cited": cited,
                "cites_accepted_article": article_id in seen,
            }
        )
    suggestion.before_after = {
        "before": before,
        "after": after,
        "after_at": timezone.now().isoformat(),
        "published": accepted_article_published(suggestion),
    }
    suggestion.save(update_fields=["before_after", "updated_at"])
    return suggestion


def _rerun_published(*, counts: dict[str, int], progress: Progress) -> None:
    """Before/after for accepted suggestions whose article went live since the last run."""
    pending = [
        s
        for s in Suggestion.objects.filter(
            status=SuggestionStatus.ACCEPTED, accepted_revision__isnull=False
        ).select_related("accepted_revision__article__published_revision")
        if not s.before_after.get("published") and accepted_article_published(s)
    ]
    for done, suggestion in enumerate(pending, start=1):
        progress("re-run published suggestions", done, len(pending))
        try:
            suggestion_rerun(suggestion=suggestion)
            counts["reruns"] += 1
        except Exception:
            # One failing re-run must not stop the mining run; the button can retry it.
            logger.exception("re-run of suggestion %s failed", suggestion.pk)
            counts["rerun_failures"] += 1
