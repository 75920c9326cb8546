"""The scheduled mining task on a real Celery worker (PostgreSQL + Redis, via `make test`)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.utils import timezone

from insights.models import MiningRun, Suggestion
from insights.tasks import mine_logs
from kb_platform.celery import app as celery_app
from tests.insights.conftest import log_question


@pytest.mark.integration
def test_worker_mines_the_logs(celery_worker_process) -> None:
    now = timezone.now()
    log_question("soundbar HDMI ARC no sound", session="a", abstained=True, now=now)
    log_question("no sound from soundbar on HDMI ARC", session="b", escalated=True, now=now)
    # An explicit connection: earlier eager tests may have left the app's producer pool
    # bound to the default broker.
    with celery_app.connection_for_write(celery_worker_process["CELERY_BROKER_URL"]) as conn:
        mine_logs.apply_async(connection=conn)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = MiningRun.objects.filter(status=MiningRun.Status.DONE).first()
        if run is not None:
            break
        time.sleep(0.2)
    else:
        log = Path(celery_worker_process["WORKER_LOG"]).read_text()
        pytest.fail(f"the worker did not finish a mining run in 30 s:\n{log[-3000:]}")
    assert run.counts["negative_questions"] == 2
    assert Suggestion.objects.filter(kind="new_article").count() == 1
    assert "insights.tasks.mine_logs" in Path(celery_worker_process["WORKER_LOG"]).read_text()
