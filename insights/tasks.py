"""Background work for insights: the scheduled mining run (Celery beat: mine-logs)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

logger = logging.getLogger(__name__)


@shared_task(
    name="insights.tasks.mine_logs",
    ignore_result=True,
    # A database blip (failover, restart) is worth a retry; the next beat tick would also do.
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    max_retries=2,
)
def mine_logs() -> dict:
    """Mine the support logs into suggestions; returns the run's id and counts."""
    from insights.services import MiningInProgress
    from insights.services import mine_logs as run_mining

    try:
        run = run_mining()
    except MiningInProgress as exc:
        # Beat fires again later; a run already in progress covers this one.
        logger.info("mining skipped: %s", exc)
        return {"run": None, "status": "skipped", "reason": str(exc)}
    return {"run": run.pk, "status": run.status, "counts": run.counts}
