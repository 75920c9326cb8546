"""Mining the support logs into suggestions, and what editors do with them.

`mine_logs` is the one entry point of the pipeline (run by `manage.py mine_logs` and by the
Celery beat task). Each run reads the logs of the last INSIGHTS_WINDOW_DAYS, so cluster sizes
mean something, but only touches suggestions whose evidence gained something new since the
previous successful run.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from insights import drafting, selectors
from insights.clustering import (
    cluster_items,
    cosine_pairs,
    question_key,
    recency_weight,
    strip_opener,
)
from insights.models import (
    DraftSource,
    MiningRun,
    Suggestion,
    SuggestionKind,
    SuggestionStatus,
)
from insights.selectors import LoggedQuestion
from knowledge import services as kb
from knowledge.models import Article, ArticleStatus, AuditLog, Revision, RevisionState

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


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
        window_start = now - dt.timedelta(days=_setting("INSIGHTS_WINDOW_DAYS", 90))
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
        _mine_new_articles(logged, new_ids, now=now, counts=counts, progress=progress)
        _mine_updates(
            logged,
            new_ids,
            now=now,
            since=since,
            start=window_start,
            counts=counts,
            progress=progress,
        )
        _mine_merges(now=now, since=since, counts=counts, progress=progress)
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


def _is_negative(q: LoggedQuestion) -> bool:
    return q.abstained or q.escalated or q.disliked


def _signal_weight(questions: Iterable[LoggedQuestion]) -> float:
    # An unanswered or escalated question is a knowledge gap; a disliked answer may only be
    # a poor article (the update-article miner covers that), so it counts half.
    return 1.0 if any(q.abstained or q.escalated for q in questions) else 0.5


def cluster_score(
    questions: Sequence[LoggedQuestion], *, now: dt.datetime, half_life_days: float
) -> float:
    """Rank of a question cluster: distinct askers, each weighted by recency and signal.

    score = sum over distinct askers a of 0.5 ** (age_a / half_life) * signal_a, where age_a
    is the days since a's latest question in the cluster and signal_a is 1 when any of a's
    questions went unanswered or was escalated, 0.5 when a only disliked an answer.
    """
    by_asker: dict[str, list[LoggedQuestion]] = defaultdict(list)
    for q in questions:
        by_asker[q.asker].append(q)
    score = 0.0
    for asked in by_asker.values():
        latest = max(q.created_at for q in asked)
        age_days = (now - latest).total_seconds() / 86400
        score += recency_weight(age_days, half_life_days=half_life_days) * _signal_weight(asked)
    return round(score, 6)


_PLACEHOLDERS = ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]")


def display_text(variants: Sequence[LoggedQuestion]) -> str:
    """The cleanest wording of a question: fewest redaction placeholders, no greeting."""

    def rank(q: LoggedQuestion) -> tuple:
        placeholders = sum(q.question.count(p) for p in _PLACEHOLDERS)
        return (placeholders, len(q.question), -q.created_at.timestamp(), q.id)

    return strip_opener(min(variants, key=rank).question)


def _question_rows(groups: Sequence[list[LoggedQuestion]]) -> list[dict[str, Any]]:
    rows = []
    for variants in groups:
        latest = max(variants, key=lambda q: (q.created_at, q.id))
        rows.append(
            {
                "text": display_text(variants),
                "count": len(variants),
                "askers": len({q.asker for q in variants}),
                "last_asked": latest.created_at.isoformat(),
                "interaction_id": latest.id,
                "audience": latest.audience,
                "abstained": sum(q.abstained for q in variants),
                "escalated": sum(q.escalated for q in variants),
                "disliked": sum(q.disliked for q in variants),
            }
        )
    return rows


def _find_cluster_match(keys: set[str], existing: Sequence[Suggestion]) -> Suggestion | None:
    """The earlier suggestion for (mostly) the same questions, if any."""
    best, best_overlap = None, 0.0
    for s in existing:
        old = set(s.member_keys or [])
        if not old:
            continue
        overlap = len(old & keys) / min(len(old), len(keys))
        if overlap > best_overlap or (overlap == best_overlap and best and s.pk < best.pk):
            best, best_overlap = s, overlap
    return best if best_overlap >= 0.5 else None


def _should_reopen(suggestion: Suggestion, size: int) -> bool:
    factor = float(_setting("INSIGHTS_REOPEN_GROWTH_FACTOR", 2.0))
    base = suggestion.size_at_dismissal or suggestion.cluster_size or 1
    return size >= math.ceil(base * factor)


def _mine_new_articles(
    logged: Sequence[LoggedQuestion],
    new_ids: set[int],
    *,
    now: dt.datetime,
    counts: dict[str, int],
    progress: Progress,
) -> None:
    negatives = [q for q in logged if _is_negative(q)]
    counts["negative_questions"] = len(negatives)
    if not any(q.id in new_ids for q in negatives):
        return
    by_key: dict[str, list[LoggedQuestion]] = defaultdict(list)
    for q in negatives:
        if q.question.strip():
            by_key[question_key(q.question)].append(q)
    # Keep the most recently asked questions when there are more than we cluster at once.
    limit = int(_setting("INSIGHTS_MAX_QUESTIONS", 3000))
    keys = sorted(by_key, key=lambda k: max(q.created_at for q in by_key[k]), reverse=True)[:limit]
    keys.sort()
    texts = [display_text(by_key[k]) for k in keys]
    progress("embed questions", 0, len(texts))
    from retrieval.embedding import get_embedder

    vectors = get_embedder().embed(texts) if texts else np.zeros((0, 0), dtype=np.float32)
    progress("embed questions", len(texts), len(texts))
    weights = [len({q.asker for q in by_key[k]}) for k in keys]
    clusters = cluster_items(
        vectors,
        keys=keys,
        threshold=float(_setting("INSIGHTS_CLUSTER_THRESHOLD", 0.5)),
        weights=weights,
    )
    counts["clusters"] = len(clusters)
    existing = list(Suggestion.objects.filter(kind=SuggestionKind.NEW_ARTICLE))
    min_size = int(_setting("INSIGHTS_MIN_CLUSTER_SIZE", 2))
    half_life = float(_setting("INSIGHTS_RECENCY_HALF_LIFE_DAYS", 14.0))
    window = int(_setting("INSIGHTS_WINDOW_DAYS", 90))
    for done, cluster in enumerate(clusters, start=1):
        progress("new-article suggestions", done, len(clusters))
        member_keys = [keys[m] for m in cluster.members]
        questions = [q for k in member_keys for q in by_key[k]]
        askers = {q.asker for q in questions}
        if len(askers) < min_size:
            continue
        if not any(q.id in new_ids for q in questions):
            counts["clusters_unchanged"] += 1
            continue
        match = _find_cluster_match(set(member_keys), existing)
        if match is not None and match.status == SuggestionStatus.ACCEPTED:
            counts["clusters_already_accepted"] += 1
            continue
        reopened = False
        if match is not None and match.status == SuggestionStatus.DISMISSED:
            if not _should_reopen(match, len(askers)):
                counts["clusters_kept_dismissed"] += 1
                continue
            reopened = True
        rows = _question_rows([by_key[k] for k in member_keys[:10]])
        ids = [q.id for q in questions]
        replies = selectors.agent_replies_for(interaction_ids=ids)
        comments = selectors.feedback_comments_for(interaction_ids=ids)
        stats = {
            "interactions": len(questions),
            "askers": len(askers),
            "distinct_questions": len(member_keys),
            "abstained": sum(q.abstained for q in questions),
            "escalated": sum(q.escalated for q in questions),
            "disliked": sum(q.disliked for q in questions),
            "first_seen": min(q.created_at for q in questions).isoformat(),
            "last_seen": max(q.created_at for q in questions).isoformat(),
            "cohesion": cluster.cohesion,
        }
        evidence = {
            "questions": rows,
            "agent_replies": replies,
            "feedback_comments": comments,
            "stats": stats,
        }
        title = rows[0]["text"][:300]
        rationale = (
            f"{stats['askers']} customers asked {stats['interactions']} times in the last "
            f"{window} days ({stats['abstained']} unanswered, {stats['escalated']} escalated, "
            f"{stats['disliked']} rated unhelpful); last asked "
            f"{max(q.created_at for q in questions):%Y-%m-%d}."
        )
        if not replies:
            rationale += " No agent reply was found: the draft lists the questions only."
        fields = {
            "title": title,
            "rationale": rationale,
            "score": cluster_score(questions, now=now, half_life_days=half_life),
            "evidence": evidence,
            "member_keys": member_keys,
            "cluster_size": len(askers),
        }
        suggestion = match or Suggestion(
            kind=SuggestionKind.NEW_ARTICLE, signature=f"cluster:{member_keys[0]}"
        )
        for name, value in fields.items():
            setattr(suggestion, name, value)
        if reopened:
            suggestion.status = SuggestionStatus.OPEN
            suggestion.rationale += (
                f" Re-opened: grew from {suggestion.size_at_dismissal} to {len(askers)} "
                "customers since it was dismissed."
            )
            counts["reopened"] += 1
        _draft_new_article(suggestion)
        created = suggestion.pk is None
        suggestion.save()
        if created:
            existing.append(suggestion)
        counts["created" if created else "updated"] += 1


def _mine_updates(
    logged: Sequence[LoggedQuestion],
    new_ids: set[int],
    *,
    now: dt.datetime,
    since: dt.datetime | None,
    start: dt.datetime,
    counts: dict[str, int],
    progress: Progress,
) -> None:
    citing: dict[int, list[LoggedQuestion]] = defaultdict(list)
    for q in logged:
        for article_id in q.cited:
            citing[article_id].append(q)
    flags = selectors.open_flags(start=start)
    candidate_ids = sorted(set(citing) | set(flags))
    articles = {
        a.pk: a
        for a in Article.objects.filter(pk__in=candidate_ids)
        .exclude(status=ArticleStatus.ARCHIVED)
        .select_related("published_revision", "latest_revision")
    }
    min_negative = int(_setting("INSIGHTS_MIN_NEGATIVE_ANSWERS", 2))
    existing = {
        s.signature: s
        for s in Suggestion.objects.filter(kind=SuggestionKind.UPDATE_ARTICLE).order_by("id")
    }
    # Questions that are also in an open new-article suggestion: the article may only be
    # cited for a topic it does not cover, which the editor should know before editing it.
    gap_suggestion_of: dict[str, int] = {}
    for pk, keys in Suggestion.objects.filter(
        kind=SuggestionKind.NEW_ARTICLE, status=SuggestionStatus.OPEN
    ).values_list("pk", "member_keys"):
        for key in keys or []:
            gap_suggestion_of.setdefault(key, pk)
    for done, article_id in enumerate(candidate_ids, start=1):
        progress("update-article suggestions", done, len(candidate_ids))
        article = articles.get(article_id)
        if article is None:
            continue
        answers = citing.get(article_id, [])
        negative = [q for q in answers if q.disliked or q.escalated]
        article_flags = flags.get(article_id, [])
        if len(negative) < min_negative and not article_flags:
            continue
        has_new = any(q.id in new_ids for q in negative) or any(
            since is None or dt.datetime.fromisoformat(f["at"]) >= since for f in article_flags
        )
        signature = f"update:{article_id}"
        match = existing.get(signature)
        if not has_new:
            counts["updates_unchanged"] += 1
            continue
        size = len(negative) + len(article_flags)
        if match is not None and match.status == SuggestionStatus.ACCEPTED:
            counts["updates_already_accepted"] += 1
            continue
        reopened = False
        if match is not None and match.status == SuggestionStatus.DISMISSED:
            if not _should_reopen(match, size):
                counts["updates_kept_dismissed"] += 1
                continue
            reopened = True
        last_change = article.published_at or article.updated_at
        age_days = max((now - last_change).total_seconds() / 86400, 0.0)
        impact, rate = update_impact(
            citing=len(answers) + len(article_flags),
            negative=size,
            age_days=age_days,
        )
        by_key: dict[str, list[LoggedQuestion]] = defaultdict(list)
        for q in sorted(negative, key=lambda q: (q.created_at, q.id), reverse=True):
            by_key[question_key(q.question)].append(q)
        rows = _question_rows(list(by_key.values())[:10])
        ids = [q.id for q in negative]
        in_gaps = [q for q in negative if question_key(q.question) in gap_suggestion_of]
        gap_ids = sorted({gap_suggestion_of[question_key(q.question)] for q in in_gaps})
        evidence = {
            "questions": rows,
            "agent_replies": selectors.agent_replies_for(interaction_ids=ids),
            "feedback_comments": selectors.feedback_comments_for(interaction_ids=ids),
            "flags": article_flags,
            "stats": {
                "answers_citing": len(answers),
                "negative_answers": len(negative),
                "flags": len(article_flags),
                "negative_rate": round(rate, 3),
                "days_since_published": round(age_days, 1),
                "negative_in_new_article_suggestions": len(in_gaps),
            },
            "related_suggestions": gap_ids[:10],
        }
        rationale = (
            f"Cited by {len(answers)} answers, {len(negative)} of them disliked or escalated"
            f"{f', and flagged {len(article_flags)} times by agents' if article_flags else ''}; "
            f"last published {age_days:.0f} days ago."
        )
        if in_gaps:
            rationale += (
                f" {len(in_gaps)} of the negative answers were to questions that also form "
                "new-article suggestions: the article may be cited for a topic it does not "
                "cover."
            )
        suggestion = match or Suggestion(kind=SuggestionKind.UPDATE_ARTICLE, signature=signature)
        suggestion.title = article.title
        suggestion.target_article = article
        suggestion.rationale = rationale
        suggestion.score = impact
        suggestion.evidence = evidence
        suggestion.cluster_size = size
        if reopened:
            suggestion.status = SuggestionStatus.OPEN
            suggestion.rationale += (
                f" Re-opened: negative signals grew from {suggestion.size_at_dismissal} to {size}."
            )
            counts["reopened"] += 1
        _draft_update(suggestion, article)
        created = suggestion.pk is None
        suggestion.save()
        existing[signature] = suggestion
        counts["created" if created else "updated"] += 1


def update_impact(*, citing: int, negative: int, age_days: float) -> tuple[float, float]:
    """Impact of reviewing an article, and the negative rate it is based on.

    impact = answers_citing * negative_rate * age_factor, where
      negative_rate = negative / (answers_citing + 2)   (two phantom good answers, so one bad
                      answer out of one is not a 100% rate), and
      age_factor = 1 + min(days since last published, 365) / 90   (older text is likelier to
                   be stale: +1 per quarter, capped at a year).
    Flags count as both a citing answer and a negative one.
    """
    rate = negative / (citing + 2) if citing else 0.0
    age_factor = 1 + min(age_days, 365.0) / 90.0
    return round(citing * rate * age_factor, 6), rate


def _article_text(article: Article, *, working: bool = False) -> tuple[str, str]:
    """Published text (what customers saw), or with working=True the latest revision (what
    editors are working on, which an accepted edit must build on)."""
    if working:
        revision = article.latest_revision or article.published_revision
    else:
        revision = article.published_revision or article.latest_revision
    if revision is None:
        return article.title, ""
    return revision.title, revision.body


def lexical_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the content words of two texts."""
    wa, wb = set(drafting.content_words(a)), set(drafting.content_words(b))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def _article_vectors(
    articles: Sequence[Article], texts: Sequence[str], *, counts: dict[str, int]
) -> np.ndarray:
    """One unit vector per article, from its stored chunk embeddings where it has them."""
    from retrieval.services import article_vectors

    vectors, reused = article_vectors(articles=articles, texts=texts)
    counts["article_vectors_reused"] = reused
    counts["article_vectors_embedded"] = len(articles) - reused
    return vectors


def _mine_merges(
    *,
    now: dt.datetime,
    since: dt.datetime | None,
    counts: dict[str, int],
    progress: Progress,
) -> None:
    published = Article.objects.filter(
        status=ArticleStatus.PUBLISHED, published_revision__isnull=False
    )
    if since is not None and not published.filter(published_at__gte=since).exists():
        return
    articles = list(published.select_related("published_revision").order_by("id"))
    if len(articles) < 2:
        return
    texts = []
    for a in articles:
        title, body = _article_text(a)
        texts.append(f"{title}\n{body[:2000]}")
    progress("embed articles", 0, len(texts))
    vectors = _article_vectors(articles, texts, counts=counts)
    progress("embed articles", len(texts), len(texts))
    pairs = cosine_pairs(vectors, threshold=float(_setting("INSIGHTS_MERGE_THRESHOLD", 0.92)))
    min_lexical = float(_setting("INSIGHTS_MERGE_MIN_LEXICAL", 0.5))
    existing = {s.signature: s for s in Suggestion.objects.filter(kind=SuggestionKind.MERGE)}
    for done, (i, j, similarity) in enumerate(pairs, start=1):
        progress("merge suggestions", done, len(pairs))
        lexical = lexical_similarity(texts[i], texts[j])
        if lexical < min_lexical:
            continue
        a, b = articles[i], articles[j]  # ordered by id: the older article is kept
        if a.visibility != b.visibility:
            # Merging would move internal text into a public article's draft: never silently.
            continue
        signature = f"merge:{a.pk}-{b.pk}"
        match = existing.get(signature)
        if match is not None and match.status != SuggestionStatus.OPEN:
            continue
        suggestion = match or Suggestion(kind=SuggestionKind.MERGE, signature=signature)
        suggestion.title = f"{a.title} + {b.title}"[:300]
        suggestion.target_article = a
        suggestion.other_article = b
        suggestion.score = similarity
        suggestion.cluster_size = 1
        suggestion.rationale = (
            f"The two articles are near-duplicates: embedding similarity {similarity:.2f}, "
            f"word overlap {lexical:.2f}. Merge the second into the first, then archive it."
        )
        suggestion.evidence = {
            "articles": [
                {"id": a.pk, "title": a.title, "slug": a.slug, "visibility": a.visibility},
                {"id": b.pk, "title": b.title, "slug": b.slug, "visibility": b.visibility},
            ],
            "stats": {"similarity": similarity, "lexical": round(lexical, 3)},
        }
        _draft_merge(suggestion, a, b)
        created = suggestion.pk is None
        suggestion.save()
        existing[signature] = suggestion
        counts["created" if created else "updated"] += 1


# --- Drafts ---------------------------------------------------------------------------------


def _evidence_texts(evidence: dict) -> list[str]:
    texts = [q["text"] for q in evidence.get("questions", [])]
    texts += [r["text"] for r in evidence.get("agent_replies", [])]
    texts += [c["text"] for c in evidence.get("feedback_comments", [])]
    texts += [f["text"] for f in evidence.get("flags", []) if f.get("text")]
    return texts


def _apply_draft(
    suggestion: Suggestion,
    *,
    task: str,
    evidence: list[str],
    extractive: tuple[str, str],
) -> None:
    """LLM draft when configured and supported by the evidence; extractive otherwise."""
    min_support = float(_setting("INSIGHTS_DRAFT_MIN_SUPPORT", 0.6))
    check: dict[str, Any] = {}
    from generation.backends import llm_configured

    if llm_configured():
        llm = _llm_draft(task=task, evidence=evidence)
        if "error" in llm:
            check["llm_error"] = llm["error"]
        else:
            # The body carries the claims; the title is a label and is not checked.
            report = drafting.check_support(llm["body"], evidence, min_support=min_support)
            # Reject when more than one sentence in five is not backed by the evidence; keep
            # but flag the unsupported sentences otherwise, so the editor checks them.
            if report.ratio < 0.8:
                check["llm_rejected"] = True
                check["llm_unsupported"] = report.unsupported
                check["llm_title"] = llm["title"]
            else:
                suggestion.draft_title = llm["title"][:300]
                suggestion.draft_body = llm["body"]
                suggestion.draft_source = DraftSource.LLM
                check.update(report.to_dict())
                check["llm_rationale"] = llm.get("rationale", "")
                check["llm_sources"] = llm.get("sources", [])
                suggestion.draft_check = check
                return
    title, body = extractive
    report = drafting.check_support(
        body, evidence, min_support=min_support, headings=drafting.EXTRACTIVE_HEADINGS
    )
    check.update(report.to_dict())
    suggestion.draft_title = title[:300]
    suggestion.draft_body = body
    suggestion.draft_source = DraftSource.EXTRACTIVE
    suggestion.draft_check = check


def _llm_draft(*, task: str, evidence: list[str]) -> dict[str, Any]:
    from generation.backends import LLMError, get_llm_backend

    messages = drafting.draft_messages(task=task, evidence=evidence[:40])
    try:
        result = get_llm_backend().complete_json(
            messages,
            drafting.DRAFT_SCHEMA,
            max_tokens=int(_setting("INSIGHTS_DRAFT_MAX_TOKENS", 1024)),
        )
    except LLMError as exc:
        logger.warning("LLM draft failed, using the extractive draft: %s", exc)
        return {"error": str(exc)[:300]}
    title = str(result.get("title") or "").strip()
    body = str(result.get("body") or "").strip()
    if not title or not body:
        return {"error": "the LLM returned an empty title or body"}
    sources = [s for s in result.get("sources") or [] if isinstance(s, int)]
    return {
        "title": title,
        "body": body,
        "rationale": str(result.get("rationale") or "")[:1000],
        "sources": sources,
    }


def _questions_and_replies(evidence: dict) -> tuple[list[str], list[str]]:
    """The customers' questions and the agents' replies recorded in a suggestion's evidence."""
    questions = [q["text"] for q in evidence.get("questions", [])]
    replies = [r["text"] for r in evidence.get("agent_replies", [])]
    return questions, replies


def _draft_new_article(suggestion: Suggestion) -> None:
    evidence = suggestion.evidence
    questions, replies = _questions_and_replies(evidence)
    _apply_draft(
        suggestion,
        task=(
            "Write a new help-center article that answers these customer questions, using "
            "the agents' replies as the source of the answer."
        ),
        evidence=_evidence_texts(evidence),
        extractive=drafting.extractive_new_article(questions=questions, replies=replies),
    )


def _draft_update(suggestion: Suggestion, article: Article) -> None:
    title, body = _article_text(article, working=True)
    # Accepting checks the article has not changed since this draft was made from it.
    suggestion.evidence["base_revision_id"] = article.latest_revision_id
    evidence = suggestion.evidence
    questions, replies = _questions_and_replies(evidence)
    _apply_draft(
        suggestion,
        task=(
            "Propose an edited version of the article (evidence [1]) that fixes what customers "
            "and agents reported; keep everything in it that is still correct."
        ),
        evidence=[f"{title}\n\n{body}", *_evidence_texts(evidence)],
        extractive=drafting.extractive_update(
            title=title, body=body, questions=questions, replies=replies
        ),
    )


def _draft_merge(suggestion: Suggestion, a: Article, b: Article) -> None:
    title_a, body_a = _article_text(a, working=True)
    suggestion.evidence["base_revision_id"] = a.latest_revision_id
    title_b, body_b = _article_text(b)
    _apply_draft(
        suggestion,
        task="Merge these two overlapping articles into one, keeping every distinct fact.",
        evidence=[f"{title_a}\n\n{body_a}", f"{title_b}\n\n{body_b}"],
        extractive=drafting.extractive_merge(title=title_a, body=body_a, other_body=body_b),
    )


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
                "audience": r.get("audience", "public"),
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
        audiences = {q.get("audience", "public") for q in evidence.get("questions", [])}
        # Agents' replies are internal text: a draft built from them starts internal, and an
        # editor makes it public deliberately (publishing it then needs a reviewer).
        public = audiences == {"public"} and not evidence.get("agent_replies")
        visibility = "public" if public else "internal"
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
        answer = answer_question(row["question"], audience=row.get("audience", "public"))
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
