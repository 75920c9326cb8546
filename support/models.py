"""Conversations, logged answers (interactions), feedback, agent flags and search logs.

These are the raw material of the insights pipeline: every answer is stored with what was
retrieved, what was cited and how it was received, so it can be audited and replayed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from knowledge.models import Article


class Channel(models.TextChoices):
    PORTAL = "portal", "Customer portal"
    WIDGET = "widget", "Embedded widget"
    AGENT = "agent", "Agent assist"
    API = "api", "API"


class Interaction(models.Model):
    """One question answered (or abstained on), with everything needed to audit it."""

    question = models.TextField()
    audience = models.CharField(max_length=16, default="public")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PORTAL)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    session_key = models.CharField(max_length=64, blank=True)
    conversation = models.ForeignKey(
        "Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
    )
    answer_text = models.TextField(blank=True)
    abstained = models.BooleanField(default=False, db_index=True)
    escalated = models.BooleanField(default=False, db_index=True)
    backend = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=200, blank=True)
    prompt_version = models.CharField(max_length=32, blank=True)
    confidence = models.FloatField(default=0.0)
    grounding_score = models.FloatField(default=0.0)
    latency_ms = models.FloatField(default=0.0)
    first_token_ms = models.FloatField(default=0.0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    fallback_reason = models.CharField(max_length=300, blank=True)
    # generation.types.Answer.handoff_reason: "" (answered), "low_confidence", "safety", ...
    handoff_reason = models.CharField(max_length=32, blank=True, default="", db_index=True)
    # Triage of a customer's question (support.triage): for metrics per intent and language.
    intent = models.CharField(max_length=32, blank=True, default="", db_index=True)
    language = models.CharField(max_length=8, blank=True, default="")
    hits = models.JSONField(default=list, blank=True)
    citations = models.JSONField(default=list, blank=True)
    cited_articles = models.ManyToManyField(Article, blank=True, related_name="cited_in")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.question[:80]


class Priority(models.IntegerChoices):
    # support.triage's levels; lower sorts first in the agent queue. Only a hazard is URGENT.
    URGENT = 0, "Urgent"
    HIGH = 1, "High"
    NORMAL = 2, "Normal"
    LOW = 3, "Low"


class Conversation(models.Model):
    """One customer thread across portal, widget, API and e-mail (see support.threads)."""

    class Status(models.TextChoices):
        BOT = "bot", "With the assistant"
        WAITING_AGENT = "waiting_agent", "Waiting for an agent"
        AGENT_REPLIED = "agent_replied", "Agent replied"
        WAITING_CUSTOMER = "waiting_customer", "Waiting on customer"
        RESOLVED = "resolved", "Resolved"
        REOPENED = "reopened", "Reopened"

    class HandoffReason(models.TextChoices):
        NONE = "", "Not handed off"
        CUSTOMER_ASKED = "customer_asked", "Customer asked for a person"
        LOW_CONFIDENCE = "low_confidence", "Low confidence"
        SAFETY = "safety", "Safety"
        NEGATIVE_FEEDBACK = "negative_feedback", "Negative feedback"
        REPEATED_QUESTION = "repeated_question", "Repeated question"
        POLICY = "policy", "Policy"

    subject = models.CharField(max_length=300)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_conversations",
    )
    customer_name = models.CharField(max_length=200, blank=True)
    customer_email = models.EmailField(blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.WAITING_AGENT, db_index=True
    )
    handoff_reason = models.CharField(
        max_length=32, choices=HandoffReason.choices, default="", blank=True
    )
    urgent = models.BooleanField(default=False, db_index=True)
    # From the triage of its customer messages: the most pressing one sets all three.
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, default=Priority.NORMAL, db_index=True
    )
    intent = models.CharField(max_length=32, blank=True, default="", db_index=True)
    language = models.CharField(max_length=8, blank=True, default="")
    # SLA clocks (support.sla): started when the thread reaches a person, targets by priority.
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Resolved, then the customer came back: the reopen rate (docs/metrics.md) counts these.
    reopen_count = models.PositiveIntegerField(default=0)
    last_reopened_at = models.DateTimeField(null=True, blank=True)
    # What the agent needs so they never ask again: question, what was tried, articles, feedback.
    handoff_summary = models.TextField(blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    # Anonymous portal threads belong to a session; widget threads to a signed token.
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    # Part of every private thread link: rotating it revokes all links sent so far.
    link_nonce = models.CharField(max_length=32, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resolved_conversations",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_comment = models.TextField(blank=True)
    csat_at = models.DateTimeField(null=True, blank=True)
    # The agent the rating counts for (who resolved it, else who was assigned).
    csat_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="csat_ratings",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PORTAL)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    # The portal answer the customer escalated from, if any.
    source_interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_handed_off(self) -> bool:
        return self.status != self.Status.BOT


class Message(models.Model):
    class Role(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AGENT = "agent", "Agent"
        BOT = "bot", "Assistant"
        SYSTEM = "system", "System"

    class SuggestionUsage(models.TextChoices):
        NONE = "", "No suggestion"
        USED = "used", "Used as-is"
        EDITED = "edited", "Edited"
        DISCARDED = "discarded", "Discarded"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    body = models.TextField()
    # Internal notes (and the handoff summary) are for staff only: never shown or mailed to
    # the customer, never part of a customer-facing answer's history.
    internal = models.BooleanField(default=False)
    # A bot message shows this answer (citations, feedback).
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # The suggested reply the agent started from, and what they did with it.
    suggestion = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suggestion_usage = models.CharField(
        max_length=16, choices=SuggestionUsage.choices, default="", blank=True
    )
    # Triage of a customer message (support.triage.Triage.to_dict(): confidences, entities,
    # signals) and its headline fields; empty for agent, bot and system messages.
    triage = models.JSONField(default=dict, blank=True)
    intent = models.CharField(max_length=32, blank=True, default="", db_index=True)
    urgency = models.CharField(max_length=16, blank=True, default="")
    sentiment = models.CharField(max_length=16, blank=True, default="")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.body[:60]}"


class Feedback(models.Model):
    """A customer's "Was this helpful?" or an agent's verdict on a suggested reply."""

    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="feedback")
    helpful = models.BooleanField(null=True)
    comment = models.TextField(blank=True)
    suggestion_usage = models.CharField(
        max_length=16, choices=Message.SuggestionUsage.choices, default="", blank=True
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"feedback on {self.interaction_id}: helpful={self.helpful}"


class ArticleFlag(models.Model):
    """An agent saying an article is wrong or outdated: evidence for the insights pipeline."""

    class Reason(models.TextChoices):
        WRONG = "wrong", "Wrong"
        OUTDATED = "outdated", "Outdated"
        UNCLEAR = "unclear", "Unclear"
        MISSING = "missing", "Missing information"
        OTHER = "other", "Other"

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="flags")
    flagged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    comment = models.TextField(blank=True)
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.SET_NULL)
    resolved = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.reason} flag on article {self.article_id}"


class SearchLog(models.Model):
    """One search (portal, widget, agent sidebar, API): feeds "top searches with no result"."""

    query = models.CharField(max_length=500)
    audience = models.CharField(max_length=16, default="public")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PORTAL)
    results_count = models.PositiveIntegerField(default=0)
    top_article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.query


class ArticleViewCount(models.Model):
    """How often an article page was read on the portal: "popular articles" on the home page."""

    article = models.OneToOneField(Article, on_delete=models.CASCADE, related_name="view_count")
    views = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.article_id}: {self.views} views"


class OutgoingEmail(models.Model):
    """Mail queued in the database and sent by a Celery task: an SMTP outage loses nothing."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    to = models.EmailField()
    subject = models.CharField(max_length=300)
    body = models.TextField()
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.status}: {self.subject} -> {self.to}"


class ArticleFeedback(models.Model):
    """A portal reader's "Was this article helpful?" (one per session and article)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="reader_votes")
    helpful = models.BooleanField()
    session_key = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "session_key"], name="one_article_vote_per_session"
            )
        ]

    def __str__(self) -> str:
        return f"article {self.article_id}: helpful={self.helpful}"


class TriageIntent(models.Model):
    """The intent taxonomy editors extend: a name, a base priority and labelled examples."""

    name = models.SlugField(max_length=32, unique=True)
    label = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    examples = models.TextField(
        blank=True, help_text="One example message per line; the classifier learns from them."
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name


class TriageCorrection(models.Model):
    """An agent's correction of a message's intent: stored, shown, and learnt from."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="corrections")
    previous_intent = models.CharField(max_length=32, blank=True)
    intent = models.CharField(max_length=32)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.previous_intent} -> {self.intent}"
