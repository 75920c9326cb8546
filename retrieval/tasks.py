"""Background indexing: load by id, call a service, retry transient failures with backoff."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from retrieval import services

logger = logging.getLogger(__name__)

# Database hiccups and a busy index lock are worth retrying; bugs are not.
TRANSIENT = (OperationalError, InterfaceError, TimeoutError, ConnectionError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 6,
    "acks_late": True,
}


@shared_task(name="retrieval.tasks.index_article", **RETRY)
def index_article(article_id: int) -> None:
    """Chunk, embed and index one published article."""
    services.article_index(article_id=int(article_id))


@shared_task(name="retrieval.tasks.unindex_article", **RETRY)
def unindex_article(article_id: int) -> None:
    """Drop an archived/deleted article from the indexes."""
    services.article_unindex(article_id=int(article_id))


@shared_task(name="retrieval.tasks.rebuild_index", **RETRY)
def rebuild_index() -> dict:
    """Full rebuild (bulk imports, model change): unchanged text is not re-embedded."""
    return services.index_rebuild()


@shared_task(name="retrieval.tasks.reconcile_index", **RETRY)
def reconcile_index() -> dict:
    """Scheduled: repair index drift left by lost index tasks (e.g. broker down at publish)."""
    return services.index_reconcile()
