"""Merge suggestions: near-duplicate published articles of the same audience."""

from __future__ import annotations

import functools
from collections.abc import MutableMapping, Sequence

import numpy as np

from insights import drafting
from insights.clustering import cosine_pairs
from insights.lifecycle import suggestion_decide, suggestion_store
from insights.miners.base import MiningContext
from insights.models import Suggestion, SuggestionKind
from insights.suggestion_drafts import article_text, draft_merge
from knowledge.models import Article, ArticleStatus

# A pair is one piece of evidence: a merge's size never grows, so under the one lifecycle
# rule a dismissed merge stays dismissed.
MERGE_SIZE = 1


def lexical_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the content words of two texts."""
    wa, wb = set(drafting.content_words(a)), set(drafting.content_words(b))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def _article_vectors(
    articles: Sequence[Article], texts: Sequence[str], *, counts: MutableMapping[str, int]
) -> np.ndarray:
    """One unit vector per article, from its stored chunk embeddings where it has them."""
    from retrieval.services import article_vectors

    vectors, reused = article_vectors(articles=articles, texts=texts)
    counts["article_vectors_reused"] = reused
    counts["article_vectors_embedded"] = len(articles) - reused
    return vectors


class MergeMiner:
    kind = SuggestionKind.MERGE
    counts_prefix = "merges"

    def mine(self, ctx: MiningContext) -> None:
        counts, conf = ctx.counts, ctx.conf
        published = Article.objects.filter(
            status=ArticleStatus.PUBLISHED, published_revision__isnull=False
        )
        if ctx.since is not None and not published.filter(published_at__gte=ctx.since).exists():
            return
        articles = list(published.select_related("published_revision").order_by("id"))
        if len(articles) < 2:
            return
        texts = []
        for a in articles:
            title, body = article_text(a)
            texts.append(f"{title}\n{body[:2000]}")
        ctx.progress("embed articles", 0, len(texts))
        vectors = _article_vectors(articles, texts, counts=counts)
        ctx.progress("embed articles", len(texts), len(texts))
        pairs = cosine_pairs(vectors, threshold=conf.merge_threshold)
        existing = {s.signature: s for s in Suggestion.objects.filter(kind=self.kind)}
        for done, (i, j, similarity) in enumerate(pairs, start=1):
            ctx.progress("merge suggestions", done, len(pairs))
            lexical = lexical_similarity(texts[i], texts[j])
            if lexical < conf.merge_min_lexical:
                continue
            a, b = articles[i], articles[j]  # ordered by id: the older article is kept
            if a.visibility != b.visibility:
                # Merging would move internal text into a public article's draft: never.
                continue
            signature = f"merge:{a.pk}-{b.pk}"
            match = existing.get(signature)
            outcome = suggestion_decide(
                match,
                size=MERGE_SIZE,
                growth_factor=conf.reopen_growth_factor,
                counts=counts,
                counts_prefix=self.counts_prefix,
            )
            if not outcome.proceeds:
                continue
            existing[signature] = suggestion_store(
                outcome=outcome,
                match=match,
                kind=self.kind,
                signature=signature,
                size=MERGE_SIZE,
                fields={
                    "title": f"{a.title} + {b.title}"[:300],
                    "target_article": a,
                    "other_article": b,
                    "score": similarity,
                    "rationale": (
                        "The two articles are near-duplicates: embedding similarity "
                        f"{similarity:.2f}, word overlap {lexical:.2f}. Merge the second into "
                        "the first, then archive it."
                    ),
                    "evidence": {
                        "articles": [
                            {
                                "id": x.pk,
                                "title": x.title,
                                "slug": x.slug,
                                "visibility": x.visibility,
                            }
                            for x in (a, b)
                        ],
                        "stats": {"similarity": similarity, "lexical": round(lexical, 3)},
                    },
                },
                reopen_note="",  # unreachable: the size never grows
                draft=functools.partial(draft_merge, a=a, b=b),
                counts=counts,
            )
