"""Update-article suggestions: articles cited by disliked or escalated answers, or flagged."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict

from insights import selectors
from insights.clustering import question_key
from insights.lifecycle import suggestion_decide, suggestion_store
from insights.miners.base import MiningContext, question_rows
from insights.models import Suggestion, SuggestionKind, SuggestionStatus
from insights.selectors import LoggedQuestion
from insights.suggestion_drafts import draft_update
from knowledge.models import Article, ArticleStatus


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


def _open_gap_suggestions() -> dict[str, int]:
    """Question key -> the open new-article suggestion holding it."""
    gap_suggestion_of: dict[str, int] = {}
    for pk, keys in Suggestion.objects.filter(
        kind=SuggestionKind.NEW_ARTICLE, status=SuggestionStatus.OPEN
    ).values_list("pk", "member_keys"):
        for key in keys or []:
            gap_suggestion_of.setdefault(key, pk)
    return gap_suggestion_of


class UpdateArticleMiner:
    kind = SuggestionKind.UPDATE_ARTICLE
    counts_prefix = "updates"

    def mine(self, ctx: MiningContext) -> None:
        counts, conf, since = ctx.counts, ctx.conf, ctx.since
        citing: dict[int, list[LoggedQuestion]] = defaultdict(list)
        for q in ctx.logged:
            for article_id in q.cited:
                citing[article_id].append(q)
        flags = selectors.open_flags(start=ctx.window_start)
        candidate_ids = sorted(set(citing) | set(flags))
        articles = {
            a.pk: a
            for a in Article.objects.filter(pk__in=candidate_ids)
            .exclude(status=ArticleStatus.ARCHIVED)
            .select_related("published_revision", "latest_revision")
        }
        existing = {
            s.signature: s for s in Suggestion.objects.filter(kind=self.kind).order_by("id")
        }
        # Questions that are also in an open new-article suggestion: the article may only be
        # cited for a topic it does not cover, which the editor should know before editing.
        gap_suggestion_of = _open_gap_suggestions()
        for done, article_id in enumerate(candidate_ids, start=1):
            ctx.progress("update-article suggestions", done, len(candidate_ids))
            article = articles.get(article_id)
            if article is None:
                continue
            answers = citing.get(article_id, [])
            negative = [q for q in answers if q.disliked or q.escalated]
            article_flags = flags.get(article_id, [])
            if len(negative) < conf.min_negative_answers and not article_flags:
                continue
            has_new = any(q.id in ctx.new_ids for q in negative) or any(
                since is None or dt.datetime.fromisoformat(f["at"]) >= since for f in article_flags
            )
            if not has_new:
                counts["updates_unchanged"] += 1
                continue
            signature = f"update:{article_id}"
            match = existing.get(signature)
            size = len(negative) + len(article_flags)
            outcome = suggestion_decide(
                match,
                size=size,
                growth_factor=conf.reopen_growth_factor,
                counts=counts,
                counts_prefix=self.counts_prefix,
            )
            if not outcome.proceeds:
                continue
            last_change = article.published_at or article.updated_at
            age_days = max((ctx.now - last_change).total_seconds() / 86400, 0.0)
            impact, rate = update_impact(
                citing=len(answers) + len(article_flags), negative=size, age_days=age_days
            )
            by_key: dict[str, list[LoggedQuestion]] = defaultdict(list)
            for q in sorted(negative, key=lambda q: (q.created_at, q.id), reverse=True):
                by_key[question_key(q.question)].append(q)
            ids = [q.id for q in negative]
            in_gaps = [q for q in negative if question_key(q.question) in gap_suggestion_of]
            gap_ids = sorted({gap_suggestion_of[question_key(q.question)] for q in in_gaps})
            rationale = (
                f"Cited by {len(answers)} answers, {len(negative)} of them disliked or "
                "escalated"
                f"{f', and flagged {len(article_flags)} times by agents' if article_flags else ''}"
                f"; last published {age_days:.0f} days ago."
            )
            if in_gaps:
                rationale += (
                    f" {len(in_gaps)} of the negative answers were to questions that also form "
                    "new-article suggestions: the article may be cited for a topic it does not "
                    "cover."
                )
            before = match.size_at_dismissal if match is not None else 0
            existing[signature] = suggestion_store(
                outcome=outcome,
                match=match,
                kind=self.kind,
                signature=signature,
                size=size,
                fields={
                    "title": article.title,
                    "target_article": article,
                    "rationale": rationale,
                    "score": impact,
                    "evidence": {
                        "questions": question_rows(list(by_key.values())[:10]),
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
                    },
                },
                reopen_note=f"negative signals grew from {before} to {size}.",
                draft=functools.partial(draft_update, article=article),
                counts=counts,
            )
