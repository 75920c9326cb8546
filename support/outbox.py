"""Outgoing mail: queued in the database, sent by a Celery task, retried with backoff.

An SMTP server that refuses or times out leaves the mail queued with its error visible to
admins (Django admin, "Outgoing e-mails"); nothing is lost, and the beat task
`support.tasks.outbox_flush` retries what is due even if the broker lost the task.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from support.models import Conversation, Message, OutgoingEmail
from support.validation import drop_nul

logger = logging.getLogger(__name__)


class OutboxDeferred(Exception):
    """The send failed and will be retried after `countdown` seconds."""

    def __init__(self, message: str, countdown: int) -> None:
        super().__init__(message)
        self.countdown = countdown


def _backoff_seconds(attempts: int) -> int:
    return int(min(600, 5 * 2 ** max(0, attempts - 1)))


def email_queue(
    *,
    to: str,
    subject: str,
    body: str,
    conversation: Conversation | None = None,
    message: Message | None = None,
) -> OutgoingEmail | None:
    """Queue one mail; the send task is enqueued after commit. No address: nothing to send."""
    if not to:
        return None
    email = OutgoingEmail.objects.create(
        to=to,
        subject=drop_nul(subject).replace("\n", " ")[:300],
        body=drop_nul(body),
        conversation=conversation,
        message=message,
        next_attempt_at=timezone.now(),
    )

    enqueue_send(email_id=email.pk)
    return email


def enqueue_send(*, email_id: int) -> None:
    """After commit: hand the mail to a worker (eager in the demo)."""

    def enqueue() -> None:
        from support.tasks import outbox_send

        try:
            outbox_send.delay(email_id)
        except Exception:  # broker down: the row stays queued and outbox_flush sends it
            logger.warning("could not enqueue mail %s; outbox_flush will send it", email_id)

    transaction.on_commit(enqueue)


def outbox_deliver(*, email_id: int) -> str:
    """Send one queued mail now. Returns its status; raises OutboxDeferred to retry later."""
    with transaction.atomic():
        email = (
            OutgoingEmail.objects.select_for_update(skip_locked=True).filter(pk=email_id).first()
        )
        if email is None or email.status in {
            OutgoingEmail.Status.SENT,
            OutgoingEmail.Status.FAILED,
        }:
            return email.status if email is not None else "missing"
        email.attempts += 1
        try:
            connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
            EmailMessage(
                subject=email.subject,
                body=email.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[email.to],
                connection=connection,
            ).send()
        except Exception as exc:  # SMTP refusal, timeout, DNS, TLS: all worth a retry
            email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            countdown = _backoff_seconds(email.attempts)
            if email.attempts >= settings.KB_EMAIL_MAX_ATTEMPTS:
                email.status = OutgoingEmail.Status.FAILED
                email.next_attempt_at = None
            else:
                email.status = OutgoingEmail.Status.QUEUED
                email.next_attempt_at = timezone.now() + dt.timedelta(seconds=countdown)
            email.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            logger.warning(
                "mail %s to %s failed (attempt %s): %s",
                email.pk,
                email.to,
                email.attempts,
                email.last_error,
            )
            if email.status == OutgoingEmail.Status.FAILED:
                return email.status
            failed_with = email.last_error
        else:
            email.status = OutgoingEmail.Status.SENT
            email.sent_at = timezone.now()
            email.next_attempt_at = None
            email.save(update_fields=["attempts", "status", "sent_at", "next_attempt_at"])
            return email.status
    raise OutboxDeferred(failed_with, countdown)


def outbox_due(*, now: Any = None, limit: int = 100) -> list[int]:
    """Ids of queued mails whose (next) attempt is due."""
    now = now or timezone.now()
    return list(
        OutgoingEmail.objects.filter(status=OutgoingEmail.Status.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_retry(*, email: OutgoingEmail) -> OutgoingEmail:
    """Admin action: send a failed (or waiting) mail again now."""
    email.status = OutgoingEmail.Status.QUEUED
    email.next_attempt_at = timezone.now()
    email.save(update_fields=["status", "next_attempt_at"])
    return email
