"""The customer thread: one conversation per customer across portal, widget, API and e-mail.

Every write on a conversation goes through here: the handoff state machine (with its reason
and the summary the agent reads), customer and agent messages, internal notes, resolution
and CSAT. Agent replies reach the customer in-app and by e-mail (queued in the outbox).
The private thread link is `support.thread_links`; how a customer message is stored with its
triage, priority and SLA clocks is `support.thread_triage`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from support import outbox, triage
from support.models import Channel, Conversation, Interaction, Message, Priority
from support.thread_links import thread_link_url
from support.thread_triage import customer_message_create, sla_retarget, sla_start
from support.validation import (
    MAX_MESSAGE_CHARS,
    body_validate,
    comment_validate,
    drop_nul,
    user_or_none,
)

logger = logging.getLogger(__name__)

S = Conversation.Status
R = Conversation.HandoffReason

# The handoff state machine: which status may follow which. Anything else is refused.
TRANSITIONS: dict[str, set[str]] = {
    S.BOT: {S.WAITING_AGENT, S.RESOLVED},
    S.WAITING_AGENT: {S.AGENT_REPLIED, S.WAITING_CUSTOMER, S.RESOLVED},
    S.AGENT_REPLIED: {S.WAITING_AGENT, S.WAITING_CUSTOMER, S.RESOLVED},
    S.WAITING_CUSTOMER: {S.WAITING_AGENT, S.AGENT_REPLIED, S.RESOLVED},
    S.RESOLVED: {S.REOPENED},
    S.REOPENED: {S.AGENT_REPLIED, S.WAITING_CUSTOMER, S.RESOLVED},
}
# What needs an agent now: the queue opens on these.
NEEDS_ACTION = (S.WAITING_AGENT, S.REOPENED)
# Reasons that put the conversation at the top of the queue.
URGENT_REASONS = {R.SAFETY}
CSAT_SCORES = (1, 2, 3, 4, 5)


def conversation_transition(*, conversation: Conversation, to: str) -> Conversation:
    """Move along the state machine; an illegal move is a ValidationError naming both states."""
    if to not in S.values:
        raise ValidationError(f"Unknown status {to!r}.")
    if to == conversation.status:
        return conversation
    if to not in TRANSITIONS[conversation.status]:
        raise ValidationError(
            f"A conversation that is {S(conversation.status).label.lower()} cannot become "
            f"{S(to).label.lower()}."
        )
    conversation.status = to
    fields = ["status", "updated_at"]
    if to == S.REOPENED:
        conversation.reopen_count += 1
        conversation.last_reopened_at = timezone.now()
        fields += ["reopen_count", "last_reopened_at"]
    if to != S.RESOLVED and conversation.resolved_at:
        conversation.resolved_at = None
        fields.append("resolved_at")
    conversation.save(update_fields=fields)
    return conversation


# --- The thread a question belongs to ---------------------------------------------------


def conversation_for_ask(
    *,
    channel: str,
    user: Any,
    session_key: str,
    subject: str,
    conversation: Conversation | None = None,
) -> Conversation:
    """The thread to ask in: the given one unless it is resolved, else a new bot thread."""
    if conversation is not None and conversation.status != S.RESOLVED:
        return conversation
    customer = user_or_none(user)
    return Conversation.objects.create(
        subject=subject[:300] or "Question",
        customer=customer,
        customer_name=_display_name(customer),
        customer_email=getattr(customer, "email", "") or "",
        channel=channel if channel in Channel.values else Channel.PORTAL,
        status=S.BOT,
        session_key=(session_key or "")[:64],
    )


def _display_name(user: Any) -> str:
    if user is None:
        return ""
    return (user.get_full_name() or user.get_username())[:200]


@transaction.atomic
def thread_record_answer(
    *,
    conversation: Conversation,
    question: str,
    interaction: Interaction,
    user: Any,
    question_triage: triage.Triage | None = None,
) -> Message:
    """The question and the bot's answer, in order, in the customer's thread."""
    customer_message_create(
        conversation=conversation, body=question, author=user, result=question_triage
    )
    interaction.conversation = conversation
    interaction.save(update_fields=["conversation"])
    bot = Message.objects.create(
        conversation=conversation,
        role=Message.Role.BOT,
        body=interaction.answer_text or "(no answer)",
        interaction=interaction,
    )
    conversation.save(update_fields=["updated_at"])
    return bot


def repeated_question(*, conversation: Conversation, question: str) -> bool:
    """The customer asked (nearly) the same thing before in this thread: the bot is not helping."""
    norm = _norm(question)
    earlier = conversation.messages.filter(role=Message.Role.CUSTOMER).values_list(
        "body", flat=True
    )
    return bool(norm) and any(_norm(body) == norm for body in earlier)


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", (text or "").lower()))


# --- Handoff --------------------------------------------------------------------------------


def handoff_summary_build(*, conversation: Conversation) -> str:
    """What the agent needs so they never ask again: question, tries, articles, feedback."""
    messages = list(conversation.messages.filter(internal=False).select_related("interaction"))
    questions = [m.body for m in messages if m.role == Message.Role.CUSTOMER]
    answers = [m for m in messages if m.role == Message.Role.BOT and m.interaction_id]
    lines = [f"Question: {questions[0] if questions else conversation.subject}"]
    if len(questions) > 1:
        lines.append("Follow-ups: " + " | ".join(q[:200] for q in questions[1:6]))
    if answers:
        lines.append(f"Tried: {len(answers)} automatic answer(s).")
        for m in answers[-3:]:
            inter = m.interaction
            assert inter is not None  # answers are the bot messages with an interaction
            verdict = "abstained" if inter.abstained else "answered"
            votes = list(
                inter.feedback.filter(suggestion_usage="").values_list("helpful", flat=True)
            )
            if False in votes:
                verdict += ", customer said not helpful"
            elif True in votes:
                verdict += ", customer said helpful"
            lines.append(f"- {inter.question[:160]} -> {verdict}: {inter.answer_text[:240]}")
        articles: dict[Any, str] = {}
        for m in answers:
            for c in m.interaction.citations if m.interaction else []:
                articles.setdefault(
                    c.get("article_id"), f"{c.get('title')} (/articles/{c.get('slug')}/)"
                )
        if articles:
            lines.append("Articles shown: " + "; ".join(list(articles.values())[:6]))
    else:
        lines.append("Tried: no automatic answer.")
    return "\n".join(lines)


@transaction.atomic
def conversation_handoff(
    *,
    conversation: Conversation,
    reason: str,
    name: str = "",
    email: str = "",
    note: str = "",
    user: Any = None,
    require_contact: bool = False,
) -> Conversation:
    """Hand the thread to a person: waiting for agent, with a reason and a summary.

    A conversation already with a person keeps its state (a second request adds the note).
    `require_contact` (anonymous forms): name and a valid e-mail address are needed, so the
    reply can reach the customer.
    """
    if reason not in R.values or not reason:
        raise ValidationError(f"Unknown handoff reason {reason!r}.")
    name = drop_nul(name or "").strip()[:200]
    email = drop_nul(email or "").strip()
    if require_contact and not name:
        raise ValidationError("Please tell us your name.")
    if email or require_contact:
        validate_email(email)
    note = drop_nul(note or "").strip()
    if len(note) > MAX_MESSAGE_CHARS:
        raise ValidationError("The note is too long.")
    customer = user_or_none(user)
    fields = ["updated_at"]
    if name:
        conversation.customer_name, fields = name, [*fields, "customer_name"]
    if email:
        conversation.customer_email, fields = email, [*fields, "customer_email"]
    if customer is not None and conversation.customer_id is None:
        conversation.customer, fields = customer, [*fields, "customer"]
    if note:
        customer_message_create(conversation=conversation, body=note, author=customer)
    first_handoff = conversation.status in {S.BOT, S.RESOLVED}
    if reason in URGENT_REASONS and not conversation.urgent:
        conversation.urgent, fields = True, [*fields, "urgent"]
    if reason in URGENT_REASONS and conversation.priority != Priority.URGENT:
        conversation.priority, fields = Priority.URGENT, [*fields, "priority"]
    if first_handoff:
        conversation.handoff_reason = reason
        conversation.handed_off_at = timezone.now()
        conversation.handoff_summary = handoff_summary_build(conversation=conversation)
        fields += ["handoff_reason", "handed_off_at", "handoff_summary"]
        fields += sla_start(conversation)
        conversation.save(update_fields=fields)
        conversation_transition(
            conversation=conversation,
            to=S.WAITING_AGENT if conversation.status == S.BOT else S.REOPENED,
        )
        Message.objects.create(
            conversation=conversation,
            role=Message.Role.SYSTEM,
            internal=True,
            body=f"Handed to a person ({R(reason).label.lower()}).\n\n"
            + conversation.handoff_summary,
        )
        _mail_handoff_received(conversation)
    else:
        fields += sla_retarget(conversation) if "priority" in fields else []
        conversation.save(update_fields=fields)
    return conversation


def _mail_handoff_received(conversation: Conversation) -> None:
    body = (
        f"Hello {conversation.customer_name or 'there'},\n\n"
        "we have received your request and a member of our support team will reply soon.\n"
        f"Your request: {conversation.subject}\n\n"
        f"Read the conversation and reply at any time:\n{thread_link_url(conversation)}\n"
    )
    if not agents_online():
        body += f"\n{settings.KB_AGENTS_OFFLINE_MESSAGE}\n"
    outbox.email_queue(
        to=conversation.customer_email,
        subject=f"[Request #{conversation.pk}] We received your request",
        body=body,
        conversation=conversation,
    )


_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HOURS_RE = re.compile(r"^\s*(\w{3})-(\w{3})\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*$")


def agents_online(now: dt.datetime | None = None) -> bool:
    """Inside KB_OFFICE_HOURS ("mon-fri 09:00-17:00", local TIME_ZONE); empty: always."""
    spec = settings.KB_OFFICE_HOURS.strip().lower()
    if not spec:
        return True
    match = _HOURS_RE.match(spec)
    if not match or match.group(1) not in _DAYS or match.group(2) not in _DAYS:
        logger.error("KB_OFFICE_HOURS=%r is not like 'mon-fri 09:00-17:00': ignored", spec)
        return True
    local = timezone.localtime(now or timezone.now())
    first, last = _DAYS.index(match.group(1)), _DAYS.index(match.group(2))
    start = dt.time(int(match.group(3)), int(match.group(4)))
    end = dt.time(int(match.group(5)), int(match.group(6)))
    in_days = first <= local.weekday() <= last
    return in_days and start <= local.time() < end


# --- Messages -------------------------------------------------------------------------------


@transaction.atomic
def conversation_create(
    *,
    subject: str,
    body: str,
    customer: Any = None,
    name: str = "",
    email: str = "",
    channel: str = Channel.PORTAL,
) -> Conversation:
    """Open a support conversation (straight to a person) with the customer's first message."""
    subject = (subject or "").strip()[:300] or "Support request"
    body = body_validate(body)
    customer = user_or_none(customer)
    conversation = Conversation.objects.create(
        subject=subject,
        customer=customer,
        customer_name=(name or _display_name(customer))[:200],
        customer_email=email or (customer.email if customer else ""),
        channel=channel if channel in Channel.values else Channel.PORTAL,
        status=S.WAITING_AGENT,
        handoff_reason=R.CUSTOMER_ASKED,
        handed_off_at=timezone.now(),
        handoff_summary=f"Question: {body[:500]}\nTried: no automatic answer.",
    )
    sla_start(conversation)
    conversation.save()
    message = customer_message_create(conversation=conversation, body=body, author=customer)
    if message.intent == "safety":  # a hazard is why a person must see it, whatever the form
        conversation.handoff_reason = R.SAFETY
        conversation.save(update_fields=["handoff_reason"])
    conversation.refresh_from_db()
    return conversation


@transaction.atomic
def customer_reply(*, conversation: Conversation, body: str, user: Any = None) -> Message:
    """The customer writes in their thread: back to the agent; a resolved thread reopens."""
    body = body_validate(body)
    message = customer_message_create(conversation=conversation, body=body, author=user)
    if conversation.status == S.RESOLVED:
        conversation_transition(conversation=conversation, to=S.REOPENED)
        # A reopened request is a new wait for the customer: the SLA clocks start again.
        conversation.handed_off_at = timezone.now()
        conversation.save(update_fields=["handed_off_at", *sla_start(conversation)])
    elif conversation.status in {S.AGENT_REPLIED, S.WAITING_CUSTOMER}:
        conversation_transition(conversation=conversation, to=S.WAITING_AGENT)
    elif conversation.status == S.BOT:
        reason = R.SAFETY if message.intent == "safety" else R.CUSTOMER_ASKED
        conversation_handoff(conversation=conversation, reason=reason, user=user)
    else:
        conversation.save(update_fields=["updated_at"])
    return message


@transaction.atomic
def agent_reply(
    *,
    conversation: Conversation,
    body: str,
    author: Any,
    suggestion: Interaction | None = None,
    resolve: bool = False,
) -> Message:
    """An agent's reply: shown in the thread and mailed to the customer with the thread link."""
    from support.services import suggestion_feedback, suggestion_usage_classify

    body = body_validate(body)
    usage = ""
    if suggestion is not None:
        usage = suggestion_usage_classify(suggestion_text=suggestion.answer_text, sent_text=body)
    message = Message.objects.create(
        conversation=conversation,
        role=Message.Role.AGENT,
        author=user_or_none(author),
        body=body,
        suggestion=suggestion,
        suggestion_usage=usage,
    )
    if usage and suggestion is not None:
        suggestion_feedback(interaction=suggestion, usage=usage, user=author, sent_text=body)
    if conversation.handed_off_at is not None and conversation.first_response_at is None:
        conversation.first_response_at = message.created_at
        conversation.save(update_fields=["first_response_at"])
    if conversation.status in {S.BOT, S.RESOLVED}:
        # Reaching out on a bot thread or a closed one: it becomes a handled conversation.
        conversation_transition(
            conversation=conversation,
            to=S.WAITING_AGENT if conversation.status == S.BOT else S.REOPENED,
        )
    if conversation.status != S.AGENT_REPLIED:
        conversation_transition(conversation=conversation, to=S.AGENT_REPLIED)
    if conversation.assigned_to_id is None and user_or_none(author) is not None:
        conversation.assigned_to = author
        conversation.save(update_fields=["assigned_to", "updated_at"])
    if resolve:
        conversation_resolve(conversation=conversation, by=author, reply=message)
    else:
        outbox.email_queue(
            to=conversation.customer_email,
            subject=f"[Request #{conversation.pk}] {conversation.subject[:200]}",
            body=f"{body}\n\n--\nRead the conversation and reply: "
            f"{thread_link_url(conversation)}\n",
            conversation=conversation,
            message=message,
        )
    return message


@transaction.atomic
def note_add(*, conversation: Conversation, body: str, author: Any) -> Message:
    """An internal note: staff only, never shown or mailed to the customer."""
    body = body_validate(body, what="note")
    message = Message.objects.create(
        conversation=conversation,
        role=Message.Role.AGENT,
        author=user_or_none(author),
        body=body,
        internal=True,
    )
    conversation.save(update_fields=["updated_at"])
    return message


@transaction.atomic
def conversation_resolve(
    *, conversation: Conversation, by: Any, reply: Message | None = None
) -> Conversation:
    """Resolved; the customer gets the reply (if any) and a one-click rating by e-mail."""
    conversation_transition(conversation=conversation, to=S.RESOLVED)
    conversation.resolved_by = user_or_none(by)
    conversation.resolved_at = timezone.now()
    conversation.save(update_fields=["resolved_by", "resolved_at", "updated_at"])
    link = thread_link_url(conversation)
    rate = "\n".join(f"  {n} {'*' * n}: {link}rate/?score={n}" for n in reversed(CSAT_SCORES))
    body = (f"{reply.body}\n\n--\n" if reply is not None else "") + (
        "We have marked your request as resolved. How did we do? One click rates us:\n"
        f"{rate}\n\nNot solved? Reply in the conversation and it reopens: {link}\n"
    )
    outbox.email_queue(
        to=conversation.customer_email,
        subject=f"[Request #{conversation.pk}] Resolved: {conversation.subject[:200]}",
        body=body,
        conversation=conversation,
        message=reply,
    )
    return conversation


def conversation_update(
    *,
    conversation: Conversation,
    status: str | None = None,
    assigned_to: Any = None,
    unassign: bool = False,
    by: Any = None,
) -> Conversation:
    """Change status (along the state machine) and/or assignee."""
    if status is not None:
        if status == S.RESOLVED and conversation.status != S.RESOLVED:
            conversation_resolve(conversation=conversation, by=by)
        else:
            conversation_transition(conversation=conversation, to=status)
    if assigned_to is not None or unassign:
        conversation.assigned_to = user_or_none(assigned_to)
        conversation.save(update_fields=["assigned_to", "updated_at"])
    return conversation


def csat_submit(*, conversation: Conversation, score: Any, comment: str = "") -> Conversation:
    """The customer's rating of a resolved conversation (1-5), counted for the resolving agent."""
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = 0
    if score not in CSAT_SCORES:
        raise ValidationError("Choose a rating from 1 to 5.")
    if conversation.status != S.RESOLVED and conversation.csat_score is None:
        raise ValidationError("You can rate a conversation once it is resolved.")
    conversation.csat_score = score
    conversation.csat_comment = comment_validate(comment) or conversation.csat_comment
    conversation.csat_at = timezone.now()
    conversation.csat_agent_id = conversation.resolved_by_id or conversation.assigned_to_id
    conversation.save(
        update_fields=["csat_score", "csat_comment", "csat_at", "csat_agent", "updated_at"]
    )
    return conversation
