"""Triage in the thread: how a customer message is stored with its triage, how the thread's
priority, intent and language follow its messages, the SLA clocks those priorities set, and
an agent's correction of a message's intent.

Apart from `support.threads` (the handoff state machine and the messages) because this is the
part that reads the triage models (`support.triage`, `support.triage_store`) and moves the
SLA targets; the thread's writes call into it, it never calls back.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from support import triage, triage_store
from support.conf import sla_targets
from support.models import Conversation, Message, Priority, TriageCorrection
from support.validation import user_or_none


@transaction.atomic
def customer_message_create(
    *,
    conversation: Conversation,
    body: str,
    author: Any = None,
    result: triage.Triage | None = None,
) -> Message:
    """The one way a customer message enters a thread: stored with its triage (support.triage),
    which may raise the conversation's priority. `result`: a triage already made of `body`."""
    if result is None:
        earlier = conversation.messages.filter(role=Message.Role.CUSTOMER).count()
        result = triage_store.triage_text(body, previous_contacts=earlier)
    message = Message.objects.create(
        conversation=conversation,
        role=Message.Role.CUSTOMER,
        author=user_or_none(author),
        body=body,
        triage=result.to_dict(),
        intent=result.intent,
        urgency=result.urgency,
        sentiment=result.sentiment,
        priority=result.priority,
    )
    hazard_new = result.intent == "safety" and not conversation.urgent
    if hazard_new:
        conversation.urgent = True
        conversation.save(update_fields=["urgent"])
        verdict = result.safety
        Message.objects.create(
            conversation=conversation,
            role=Message.Role.SYSTEM,
            internal=True,
            body="Safety (urgent): the customer reports a hazard "
            f"({verdict.get('category') or 'hazard'}, rule {verdict.get('rule') or '?'}). Tell "
            "them to stop using and unplug the device if it is safe to, and to call emergency "
            "services if anyone is in danger; no manual troubleshooting.",
        )
    conversation_triage_refresh(conversation=conversation)
    return message


def conversation_triage_refresh(*, conversation: Conversation) -> Conversation:
    """Priority, intent and language from the customer messages: the most pressing one sets
    them (among equals the earliest: the question that opened the thread, not a follow-up
    like "the link expired"); a safety conversation is always URGENT."""
    top = (
        conversation.messages.filter(role=Message.Role.CUSTOMER, priority__isnull=False)
        .order_by("priority", "created_at", "id")
        .values("priority", "intent", "triage")
        .first()
    )
    if top is None:
        return conversation
    priority = Priority.URGENT if conversation.urgent else int(top["priority"] or Priority.NORMAL)
    language = str((top["triage"] or {}).get("language", ""))[:8]
    fields = []
    if (conversation.intent, conversation.language) != (top["intent"], language):
        conversation.intent, conversation.language = top["intent"], language
        fields += ["intent", "language"]
    if priority != conversation.priority:
        conversation.priority = priority
        fields += ["priority", *sla_retarget(conversation)]
    if fields:
        conversation.save(update_fields=fields)
    return conversation


def sla_start(conversation: Conversation) -> list[str]:
    """Start the SLA clocks at the handoff (targets by priority); the fields to save."""
    start = conversation.handed_off_at or timezone.now()
    targets = sla_targets()
    conversation.first_response_at = None
    conversation.first_response_due_at = start + targets.first_response(conversation.priority)
    conversation.resolution_due_at = start + targets.resolution(conversation.priority)
    return ["first_response_at", "first_response_due_at", "resolution_due_at"]


def sla_retarget(conversation: Conversation) -> list[str]:
    """A new priority moves the running clocks' targets (still counted from the handoff)."""
    if conversation.handed_off_at is None or conversation.first_response_due_at is None:
        return []
    targets = sla_targets()
    start = conversation.handed_off_at
    conversation.first_response_due_at = start + targets.first_response(conversation.priority)
    conversation.resolution_due_at = start + targets.resolution(conversation.priority)
    return ["first_response_due_at", "resolution_due_at"]


@transaction.atomic
def triage_correct(*, message: Message, intent: str, user: Any = None) -> TriageCorrection:
    """An agent corrects a message's intent: stored, applied (priority included), and learnt
    from (support.triage_store trains on corrections)."""
    intents = triage_store.intents()
    if message.role != Message.Role.CUSTOMER:
        raise ValidationError("Only a customer's message has a triage to correct.")
    if intent not in intents:
        raise ValidationError(
            f"Unknown intent {str(intent)[:40]!r}: choose one of {', '.join(sorted(intents))}."
        )
    correction = TriageCorrection.objects.create(
        message=message,
        previous_intent=message.intent,
        intent=intent,
        corrected_by=user_or_none(user),
    )
    urgency = message.urgency or "normal"
    if intent != "safety" and urgency == "urgent":
        urgency = "high"  # not a hazard after all, but it was alarming: keep it near the top
    elif intent == "safety":
        urgency = "urgent"
    message.intent, message.urgency = intent, urgency
    message.priority = triage.priority_for(intent=intent, urgency=urgency, intents=intents)
    message.triage = {
        **(message.triage or {}),
        "intent": intent,
        "intent_confidence": 1.0,
        "confidence_band": "high",
        "urgency": urgency,
        "priority": message.priority,
        "priority_name": triage.PRIORITY_NAMES[message.priority],
        "corrected": True,
        "predicted_intent": correction.previous_intent,
    }
    message.save(update_fields=["intent", "urgency", "priority", "triage"])
    conversation = message.conversation
    customer = conversation.messages.filter(role=Message.Role.CUSTOMER)
    urgent = customer.filter(intent="safety").exists()
    if urgent != conversation.urgent:
        conversation.urgent = urgent
        conversation.save(update_fields=["urgent"])
    conversation_triage_refresh(conversation=conversation)
    triage_store.invalidate()
    return correction
