"""Suggestions mined from the support logs, and the record of each mining run.

A suggestion is a proposal to editors: write a new article (a cluster of questions the KB did
not answer), review an article (cited by disliked or escalated answers, or flagged by agents),
or merge two near-duplicate articles. It keeps its evidence, an optional draft, and what
happened to it (accepted into a draft revision, or dismissed with a reason).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from knowledge.models import Article, Revision


class SuggestionKind(models.TextChoices):
    NEW_ARTICLE = "new_article", "New article"
    UPDATE_ARTICLE = "update_article", "Update article"
    MERGE = "merge", "Merge articles"


class SuggestionStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"


class DraftSource(models.TextChoices):
    NONE = "", "No draft"
    LLM = "llm", "Drafted by the LLM"
    EXTRACTIVE = "extractive", "Extracted from evidence"


class Suggestion(models.Model):
    kind = models.CharField(max_length=20, choices=SuggestionKind.choices, db_index=True)
    status = models.CharField(
        max_length=16,
        choices=SuggestionStatus.choices,
        default=SuggestionStatus.OPEN,
        db_index=True,
    )
    title = models.CharField(max_length=300)
    rationale = models.TextField(blank=True)
    score = models.FloatField(default=0.0, db_index=True)
    # Representative questions (with counts and recency), agents' replies, feedback comments,
    # flags and statistics: everything already redacted, ready to show.
    evidence = models.JSONField(default=dict, blank=True)
    target_article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The second article of a merge suggestion.
    other_article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Identity across mining runs: "update:<article id>", "merge:<a>-<b>", or for question
    # clusters a hash of the first representative question. Clusters are matched by the
    # overlap of `member_keys` (hashes of normalised questions), since members change.
    signature = models.CharField(max_length=100, db_index=True)
    member_keys = models.JSONField(default=list, blank=True)
    # Distinct customers/sessions (new article), negative answers + flags (update), 1 (merge).
    cluster_size = models.PositiveIntegerField(default=0)
    size_at_dismissal = models.PositiveIntegerField(null=True, blank=True)
    draft_title = models.CharField(max_length=300, blank=True)
    draft_body = models.TextField(blank=True)
    draft_source = models.CharField(
        max_length=16, choices=DraftSource.choices, default=DraftSource.NONE, blank=True
    )
    # Result of the lexical support check: unsupported sentences, whether an LLM draft was
    # rejected and why.
    draft_check = models.JSONField(default=dict, blank=True)
    accepted_revision = models.ForeignKey(
        Revision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    dismissed_reason = models.TextField(blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)
    # {"before": [{question, answered, cited}], "after": [...], "after_at": iso}
    before_after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-score", "id"]
        indexes = [models.Index(fields=["kind", "status", "-score"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title[:80]}"


class MiningRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Logs newer than this were new to this run (the previous successful run's start).
    since = models.DateTimeField(null=True, blank=True)
    # High-water marks: interactions and feedback with larger ids are new to the next run
    # (ids, unlike timestamps, also catch rows committed after a run read the table).
    max_interaction_id = models.BigIntegerField(default=0)
    max_feedback_id = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"mining run {self.pk} ({self.status})"
