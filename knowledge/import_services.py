"""Importing parsed records into the KB: create or update articles in one transaction.

Parsing lives in `knowledge.importers` (no database); this module decides what each record
does to the KB through the article services, so imports are audited and reviewed alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from knowledge.announcements import bulk_changes
from knowledge.article_input import category_get_or_create, tags_get_or_create
from knowledge.models import Article, ArticleStatus, AuditLog, Visibility
from knowledge.services import (
    article_create,
    article_create_published,
    article_update_metadata,
    require_editor,
    require_reviewer,
    revision_publish,
    revision_save,
)


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    dry_run: bool = False

    def as_detail(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": len(self.skipped),
            "skipped_examples": [f"{s}: {r}" for s, r in self.skipped[:20]],
        }


class _DryRunRollback(Exception):
    pass


def articles_import(
    *,
    records: Iterable[Any],
    actor: Any = None,
    publish: bool = True,
    default_visibility: str = Visibility.PUBLIC,
    default_category: str = "",
    source_name: str = "",
    problems: Iterable[tuple[str, str]] = (),
    dry_run: bool = False,
) -> ImportSummary:
    """Create or update articles from parsed import records, all in one transaction.

    Records are matched by external_id: an existing article gets a new revision only when
    its title or text changed. A database failure rolls back the whole import; a dry run
    does all the work and then rolls it back, so its counts are exactly what a real run does.
    Indexing happens once at the end (bulk_changes), not per article.
    """
    require_editor(actor)
    if publish:
        require_reviewer(actor)
    if default_visibility not in Visibility.values:
        raise ValidationError(f"Unknown visibility {default_visibility!r}: use public or internal.")
    summary = ImportSummary(dry_run=dry_run, skipped=list(problems))
    try:
        with transaction.atomic(), bulk_changes():
            for record in records:
                try:
                    # A savepoint per record: one refused record must not poison the rest.
                    with transaction.atomic():
                        outcome = _import_one(
                            record,
                            actor=actor,
                            publish=publish,
                            default_visibility=default_visibility,
                            default_category=default_category,
                        )
                except ValidationError as exc:
                    summary.skipped.append((record.source, "; ".join(exc.messages)))
                    continue
                if outcome == "created":
                    summary.created += 1
                elif outcome == "updated":
                    summary.updated += 1
                elif outcome == "unchanged":
                    summary.unchanged += 1
                else:
                    summary.skipped.append((record.source, outcome))
            AuditLog.objects.create(
                actor=actor if getattr(actor, "is_authenticated", False) else None,
                action=AuditLog.Action.IMPORT,
                target_type="import",
                target_id=timezone.now().strftime("%Y%m%d%H%M%S"),
                target_repr=(source_name or "import")[:300],
                detail={**summary.as_detail(), "publish": publish},
            )
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        pass
    return summary


def _import_one(
    record: Any,
    *,
    actor: Any,
    publish: bool,
    default_visibility: str,
    default_category: str,
) -> str:
    category_name = record.category or default_category
    category = category_get_or_create(name=category_name) if category_name else None
    tags = tags_get_or_create(names=record.tags)
    existing = (
        Article.objects.select_related("latest_revision")
        .filter(external_id=record.external_id)
        .first()
    )
    # A re-import keeps what the record does not mention: the import default applies only to
    # new articles (it once turned existing internal articles public, live, with no review).
    visibility = record.visibility or (existing.visibility if existing else default_visibility)
    if existing is None:
        slug = record.slug.strip() if record.slug else ""
        if slug:
            slug = slugify(slug)[:300]
            if not slug or Article.objects.filter(slug=slug).exists():
                slug = ""
        kwargs: dict[str, Any] = {
            "title": record.title,
            "body": record.body,
            "author": actor,
            "category": category,
            "tags": tags,
            "visibility": visibility,
            "locale": record.locale or "en",
            "summary": "Imported",
            "external_id": record.external_id,
            "slug": slug or None,
        }
        if publish:
            article_create_published(**kwargs)
        else:
            article_create(**kwargs)
        return "created"
    if existing.status == ArticleStatus.ARCHIVED:
        return f"article {existing.pk} with this id is archived; unarchive it to re-import"
    latest = existing.latest_revision
    text_changed = latest is None or latest.body != record.body or latest.title != record.title
    meta_changed = (
        (category is not None and existing.category_id != category.pk)
        or existing.visibility != visibility
        or (record.tags and {t.pk for t in existing.tags.all()} != {t.pk for t in tags})
    )
    if meta_changed:
        article_update_metadata(
            article=existing,
            updated_by=actor,
            category=category if category is not None else ...,
            tags=tags if record.tags else None,
            visibility=visibility,
        )
    if text_changed:
        revision = revision_save(
            article=existing,
            title=record.title,
            body=record.body,
            author=actor,
            base_revision_id=existing.latest_revision_id,
            summary="Re-imported",
        )
        if publish:
            revision_publish(revision=revision, published_by=actor, self_review=True)
        return "updated"
    if publish and latest is not None and existing.published_revision_id != latest.pk:
        revision_publish(revision=latest, published_by=actor, self_review=True)
        return "updated"
    return "updated" if meta_changed else "unchanged"
