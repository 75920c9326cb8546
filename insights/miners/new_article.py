"""New-article suggestions: clusters of unanswered, escalated or disliked questions."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from insights import selectors
from insights.clustering import cluster_items, question_key, recency_weight
from insights.lifecycle import suggestion_decide, suggestion_store
from insights.miners.base import MiningContext, display_text, question_rows
from insights.models import Suggestion, SuggestionKind
from insights.selectors import LoggedQuestion
from insights.suggestion_drafts import draft_new_article


def is_negative(q: LoggedQuestion) -> bool:
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


class NewArticleMiner:
    kind = SuggestionKind.NEW_ARTICLE
    counts_prefix = "clusters"

    def mine(self, ctx: MiningContext) -> None:
        counts, conf = ctx.counts, ctx.conf
        negatives = [q for q in ctx.logged if is_negative(q)]
        counts["negative_questions"] = len(negatives)
        if not any(q.id in ctx.new_ids for q in negatives):
            return
        by_key: dict[str, list[LoggedQuestion]] = defaultdict(list)
        for q in negatives:
            if q.question.strip():
                by_key[question_key(q.question)].append(q)
        # Keep the most recently asked questions when there are more than we cluster at once.
        keys = sorted(by_key, key=lambda k: max(q.created_at for q in by_key[k]), reverse=True)
        keys = sorted(keys[: conf.max_questions])
        texts = [display_text(by_key[k]) for k in keys]
        ctx.progress("embed questions", 0, len(texts))
        from retrieval.embedding import get_embedder

        vectors = get_embedder().embed(texts) if texts else np.zeros((0, 0), dtype=np.float32)
        ctx.progress("embed questions", len(texts), len(texts))
        weights = [len({q.asker for q in by_key[k]}) for k in keys]
        clusters = cluster_items(
            vectors, keys=keys, threshold=conf.cluster_threshold, weights=weights
        )
        counts["clusters"] = len(clusters)
        existing = list(Suggestion.objects.filter(kind=self.kind))
        for done, cluster in enumerate(clusters, start=1):
            ctx.progress("new-article suggestions", done, len(clusters))
            member_keys = [keys[m] for m in cluster.members]
            questions = [q for k in member_keys for q in by_key[k]]
            askers = {q.asker for q in questions}
            if len(askers) < conf.min_cluster_size:
                continue
            if not any(q.id in ctx.new_ids for q in questions):
                counts["clusters_unchanged"] += 1
                continue
            match = _find_cluster_match(set(member_keys), existing)
            outcome = suggestion_decide(
                match,
                size=len(askers),
                growth_factor=conf.reopen_growth_factor,
                counts=counts,
                counts_prefix=self.counts_prefix,
            )
            if not outcome.proceeds:
                continue
            rows = question_rows([by_key[k] for k in member_keys[:10]])
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
            rationale = (
                f"{stats['askers']} customers asked {stats['interactions']} times in the last "
                f"{conf.window_days} days ({stats['abstained']} unanswered, "
                f"{stats['escalated']} escalated, {stats['disliked']} rated unhelpful); last "
                f"asked {max(q.created_at for q in questions):%Y-%m-%d}."
            )
            if not replies:
                rationale += " No agent reply was found: the draft lists the questions only."
            before = match.size_at_dismissal if match is not None else 0
            suggestion = suggestion_store(
                outcome=outcome,
                match=match,
                kind=self.kind,
                signature=f"cluster:{member_keys[0]}",
                size=len(askers),
                fields={
                    "title": rows[0]["text"][:300],
                    "rationale": rationale,
                    "score": cluster_score(
                        questions, now=ctx.now, half_life_days=conf.recency_half_life_days
                    ),
                    "evidence": {
                        "questions": rows,
                        "agent_replies": replies,
                        "feedback_comments": comments,
                        "stats": stats,
                    },
                    "member_keys": member_keys,
                },
                reopen_note=(
                    f"grew from {before} to {len(askers)} customers since it was dismissed."
                ),
                draft=draft_new_article,
                counts=counts,
            )
            if match is None:
                existing.append(suggestion)
