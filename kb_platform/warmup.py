"""Warm-up of the serving process, so the first request after start is as fast as the rest.

Imported from kb_platform/wsgi.py, i.e. only where requests are served: `runserver` (in its
serving child, before it binds the port) and every gunicorn worker; never by other
manage.py commands. Loads the embedding model and the current index version and runs one
search through them (lazy imports, FAISS/BM25 files, first-call costs), which took ~22 s
inside the first request of a fresh `make demo`. Without a broker it also moves index tasks
off the request thread (retrieval/background.py).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from knowledge.audience import Audience

logger = logging.getLogger(__name__)

_done = False


def warm_up() -> float | None:
    """Warm the process once; returns the seconds it took (None when off or already done)."""
    global _done
    if _done or not settings.KB_WARMUP_ON_START:
        return None
    _done = True
    from django.db import connection

    from retrieval import background
    from retrieval import services as retrieval

    if settings.CELERY_TASK_ALWAYS_EAGER:
        background.enable()
    started = time.perf_counter()
    had_connection = connection.connection is not None
    try:
        retrieval.search("warm up", audience=Audience.PUBLIC, top_k=1)
        # An index without the multilingual leg (`make demo` builds English first): add it
        # now, in the background, rather than on the first foreign question.
        retrieval.add_missing_multilingual_leg()
    except Exception:  # a missing index or model must not stop the server from starting
        logger.warning("warm-up search failed; the first request pays the loading", exc_info=True)
    try:
        from support import triage_store

        triage_store.triage_text("warm up")  # trains the triage classifier (about a second)
    except Exception:
        logger.warning("warm-up triage failed; the first message pays the training", exc_info=True)
    finally:
        if not had_connection and not connection.in_atomic_block:
            connection.close()  # the one the search opened; requests open their own
    took = time.perf_counter() - started
    logger.info("warm-up done in %.1f s: embedding model, index and triage loaded", took)
    return took
