"""The answer cache: first-turn answers keyed on the question, the index version and every
setting that shapes an answer, re-validated against the database on every hit.

A hit is only served while each article it shows is still published, visible to the audience
and at the revision it was cached with: the index version in the key lags the database while an
index task is slow or the broker is down (issue 14: a withdrawn article must never come back
from the cache).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.core.cache import cache

from generation import safety
from generation.conf import generation_conf
from generation.prompts import PROMPT_VERSION
from generation.types import Answer, Citation
from retrieval.conf import retrieval_conf
from retrieval.types import AUDIENCES, PUBLIC

logger = logging.getLogger(__name__)
# Bump when the extractive answerer changes what it writes: cached answers then go stale.
EXTRACTIVE_VERSION = "extractive-span-v2"


def key(question: str, audience: str) -> str | None:
    """Cache key of a first-turn question, or None when caching is off or there is no index.

    The index version is part of the key, so publishing, archiving or editing any article
    (a new index version) makes every cached answer stale at once; so are the settings that
    shape an answer.
    """
    conf = generation_conf()
    if conf.cache_seconds <= 0:
        return None
    from retrieval.services import current_index_version

    version = current_index_version()
    if not version:
        return None
    material = repr(
        (
            question,
            audience,
            version,
            PROMPT_VERSION,
            EXTRACTIVE_VERSION,
            conf.llm.base_url,
            conf.llm.model,
            conf.min_confidence_public,
            conf.min_confidence_internal,
            conf.confidence_model,
            retrieval_conf().search_mode,
            retrieval_conf().rescore_order_model,
            safety.ruleset_version(),
            conf.max_sources,
        )
    )
    return f"kb:answer:{audience}:" + hashlib.sha256(material.encode()).hexdigest()


def get(key: str | None) -> Answer | None:
    """A cached answer, served only while every article it shows is still live for its audience.

    The index version in the key lags the database while an index task is slow or the broker
    is down, so a hit is re-validated here (one query): each cited, retrieved or suggested
    article must still be published, visible to the audience and at the same published
    revision as when the answer was cached.
    """
    if key is None:
        return None
    try:
        data = cache.get(key)
    except Exception:  # a cache outage must never break answering
        logger.warning("answer cache unavailable", exc_info=True)
        return None
    if not data or "answer" not in data or "articles" not in data:
        return None
    if _live_article_revisions(data["articles"], _audience(key)) != data["articles"]:
        try:
            cache.delete(key)
        except Exception:
            logger.warning("answer cache unavailable", exc_info=True)
        return None
    return answer_from_dict(data["answer"])


def _audience(key: str) -> str:
    # The key names its audience ("kb:answer:<audience>:<hash>"); anything else counts as public.
    parts = key.split(":")
    return parts[2] if len(parts) == 4 and parts[2] in AUDIENCES else PUBLIC


def _shown_article_ids(answer: dict[str, Any]) -> list[str]:
    ids = {c.get("article_id") for c in answer.get("citations", [])}
    ids |= {h.get("article_id") for h in answer.get("hits", [])}
    ids |= {n.get("id") for n in answer.get("nearest_articles", [])}
    return sorted(str(i) for i in ids if i is not None)


def _live_article_revisions(article_ids: Any, audience: str) -> dict[str, int]:
    """{article id: published revision id} of those of `article_ids` live for `audience`."""
    if not article_ids:
        return {}
    from knowledge.models import Article, ArticleStatus, Visibility

    qs = Article.objects.filter(
        pk__in=[int(i) for i in article_ids],
        status=ArticleStatus.PUBLISHED,
        published_revision__isnull=False,
    )
    if audience == PUBLIC:
        qs = qs.filter(visibility=Visibility.PUBLIC)
    return {str(pk): rev for pk, rev in qs.values_list("pk", "published_revision_id")}


def put(key: str, answer: Answer) -> None:
    data = answer.to_dict()
    try:
        shown = _shown_article_ids(data)
        live = _live_article_revisions(shown, _audience(key))
        if len(live) != len(shown):
            return  # an article it shows was withdrawn while it was being answered
        cache.set(key, {"answer": data, "articles": live}, generation_conf().cache_seconds)
    except Exception:
        logger.warning("answer cache unavailable", exc_info=True)


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """Rebuild an Answer from Answer.to_dict() (the 'done' event's payload)."""
    fields = dict(data)
    fields["citations"] = [Citation(**c) for c in data.get("citations", [])]
    return Answer(**fields)
