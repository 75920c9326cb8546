"""Articles, their revisions, categories, tags and the audit log.

The database is the source of truth: search indexes are derived from the published revision
of each article and can always be rebuilt from these tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from knowledge.audience import Audience

# An article's visibility is its audience: one enum (knowledge.audience) under both names.
Visibility = Audience


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class RevisionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"
    REJECTED = "rejected", "Changes requested"
    # A newer revision was saved on top of this draft or review: only the newest is reviewed.
    SUPERSEDED = "superseded", "Superseded"


class Category(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=300, unique=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles")
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    locale = models.CharField(max_length=16, default="en")
    # One article in several languages (issue 15): a translation points at its source article.
    translation_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="translations"
    )
    # The source's revision number this translation was written from (set when the translation
    # is created and whenever one of its revisions is published): "stale" once the source has
    # published a newer revision.
    translated_from_number = models.PositiveIntegerField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_articles",
    )
    status = models.CharField(
        max_length=16, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT, db_index=True
    )
    # Identifier from an imported source (corpus id, file path): re-imports update, not duplicate.
    external_id = models.CharField(max_length=300, null=True, blank=True, unique=True)
    published_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    latest_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        permissions = [("review_article", "Can review and publish articles")]
        indexes = [models.Index(fields=["status", "visibility"])]
        constraints = [
            models.UniqueConstraint(
                fields=["translation_of", "locale"],
                condition=models.Q(translation_of__isnull=False),
                name="one_translation_per_language",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_live(self) -> bool:
        return self.status == ArticleStatus.PUBLISHED and self.published_revision_id is not None


class Revision(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    body = models.TextField(help_text="Markdown")
    # The sanitized HTML of `body`, rendered once when the revision is written: pages show
    # this instead of rendering Markdown per request (a large body takes seconds to render).
    body_html = models.TextField(blank=True, editable=False)
    summary = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    state = models.CharField(
        max_length=16, choices=RevisionState.choices, default=RevisionState.DRAFT
    )
    # The revision the author started from: the optimistic-concurrency check compares it
    # with the article's latest revision at save time.
    base_revision = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    restored_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["article_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="unique_revision_number")
        ]

    def __str__(self) -> str:
        return f"{self.article_id} r{self.number}"


class ArticleSlug(models.Model):
    """A slug an article was published under before its published title changed: redirects."""

    slug = models.SlugField(max_length=300, unique=True)
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="old_slugs")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.slug} -> {self.article_id}"


class AuditLog(models.Model):
    class Action(models.TextChoices):
        CREATE = "create"
        EDIT = "edit"
        SUBMIT = "submit"
        REVIEW = "review"
        PUBLISH = "publish"
        REJECT = "reject"
        ARCHIVE = "archive"
        RESTORE = "restore"
        IMPORT = "import"
        DELETE = "delete"
        UPDATE = "update"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    target_type = models.CharField(max_length=50)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_id} {self.action} {self.target_type}:{self.target_id}"
