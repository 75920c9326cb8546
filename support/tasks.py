"""Sending queued mail: load by id, call the outbox service, retry later on SMTP trouble."""

from __future__ import annotations

import logging

from celery import shared_task

from support import outbox

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="support.tasks.outbox_send", acks_late=True, max_retries=None)
def outbox_send(self, email_id: int) -> str:
    """Send one mail; on failure retry after the backoff the outbox recorded."""
    try:
        return outbox.outbox_deliver(email_id=int(email_id))
    except outbox.OutboxDeferred as exc:
        if self.request.is_eager:
            return "queued"  # no worker (demo): outbox_flush or the admin retries it
        raise self.retry(countdown=exc.countdown, exc=exc) from exc


@shared_task(name="support.tasks.outbox_flush")
def outbox_flush() -> int:
    """Beat: send every queued mail whose attempt is due (covers lost tasks)."""
    sent = 0
    for email_id in outbox.outbox_due():
        try:
            if outbox.outbox_deliver(email_id=email_id) == "sent":
                sent += 1
        except outbox.OutboxDeferred:
            continue
    return sent
