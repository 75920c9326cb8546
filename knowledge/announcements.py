"""How knowledge tells the apps that index it about published and withdrawn articles.

Signals (`knowledge.signals`) are sent after commit, so an indexer never sees uncommitted
rows and knowledge never imports the apps that index it. Apart from `knowledge.services`
because imports and demo data batch them (`bulk_changes`): one catch-up for 10,000 articles.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

from knowledge.models import Article
from knowledge.signals import knowledge_bulk_changed

_bulk_state = threading.local()


@contextmanager
def bulk_changes(*, announce: bool = True) -> Iterator[None]:
    """Hold back per-article announcements; send one `knowledge_bulk_changed` at the end.

    Imports wrap their work in this, so 10,000 imported articles cause one index catch-up
    (after commit) rather than 10,000 single-article index tasks. announce=False: the caller
    rebuilds the index itself right after, so no catch-up is sent at all.
    """
    depth = getattr(_bulk_state, "depth", 0)
    _bulk_state.depth = depth + 1
    try:
        yield
    finally:
        _bulk_state.depth = depth
    if depth == 0 and announce:
        transaction.on_commit(lambda: knowledge_bulk_changed.send(sender=Article))


def announce_after_commit(signal: Any, article_id: int) -> None:
    """Send `signal` for the article after commit, unless inside `bulk_changes`."""
    if getattr(_bulk_state, "depth", 0):
        return
    transaction.on_commit(lambda: signal.send(sender=Article, article_id=article_id))
