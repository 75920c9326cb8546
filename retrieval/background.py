"""Index tasks off the request thread when no broker is configured (the embedded demo).

With Celery eager (no CELERY_BROKER_URL) an index task used to run inside the publishing
request: seconds of chunking and embedding before the editor saw the page. The serving
process (kb_platform/warmup.py) switches this on: tasks then run one at a time, in order,
on a single background thread, after the commit that announced them. Commands and tests
keep running them inline, so a finished command or a test sees a fresh index.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_enabled = False


def enable(on: bool = True) -> None:
    """Run eager index tasks on the background thread from now on (the serving process)."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled


def submit(name: str, run: Callable[[], Any]) -> Future[None]:
    """Queue `run` for the background thread; failures are logged, never raised."""
    global _executor
    with _lock:
        if _executor is None:
            # Its worker thread is joined at interpreter exit: queued index work finishes.
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-index")
        return _executor.submit(_run, name, run)


def _run(name: str, run: Callable[[], Any]) -> None:
    from django.db import connection

    try:
        run()
    except Exception:
        logger.exception("background %s failed: the index catches up on the next rebuild", name)
    finally:
        connection.close()  # this thread's own connection; the next task opens a fresh one


def wait(timeout: float | None = 60) -> None:
    """Block until everything queued so far has run (tests, shutdown)."""
    submit("wait", lambda: None).result(timeout=timeout)


def enqueue(task_name: str, *args: Any) -> None:
    """Send an index task (retrieval.tasks): on the background thread when it is on and no
    broker is configured, else to Celery (inline when eager: commands and tests). A broker
    outage is logged, never raised into the publisher or the search that asked."""
    from django.conf import settings

    from retrieval import tasks

    task = getattr(tasks, task_name)
    if settings.CELERY_TASK_ALWAYS_EAGER and enabled():
        # No broker, serving process: off the request thread.
        submit(task_name, lambda: task.apply(args=args, throw=True))
        return
    try:
        task.delay(*args)
    except Exception:
        logger.exception("could not enqueue %s%r: run rebuild_index later", task_name, args)
