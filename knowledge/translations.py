"""Translations: one article in several languages (issue 15).

A translation is an article of its own (its own revisions, review and publish) linked to its
source (`Article.translation_of`); it remembers the source revision it was made from, so the
editor can show a translation as stale once the source is revised after it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from knowledge.conf import knowledge_conf
from knowledge.models import Article, AuditLog
from knowledge.services import article_create, audit_record, require_editor


def _translation_root(article: Article) -> Article:
    """The source article of a family of translations (an article without a source is one)."""
    return article.translation_of if article.translation_of_id else article  # type: ignore[return-value]


@transaction.atomic
def article_translation_create(
    *, source: Article, locale: str, title: str, body: str, author: Any
) -> Article:
    """A draft translation of `source` into `locale`, linked to it, for the normal review.

    A translation of a translation becomes a translation of the source; one per language.
    """
    require_editor(author)
    root = _translation_root(source)
    locale = (locale or "").strip().lower()
    if locale not in knowledge_conf().languages:
        raise ValidationError(
            f"Unknown language {locale!r}: use one of {', '.join(knowledge_conf().languages)}."
        )
    if locale == root.locale:
        raise ValidationError(f"The source article is already in {locale!r}.")
    if Article.objects.filter(translation_of=root, locale=locale).exists():
        raise ValidationError(f"This article already has a {locale!r} translation: edit that one.")
    revision = root.published_revision or root.latest_revision
    article = article_create(
        title=title,
        body=body,
        author=author,
        category=root.category,
        tags=list(root.tags.all()),
        visibility=root.visibility,
        locale=locale,
        summary=f"Translation ({locale}) of {root.title}"[:300],
    )
    article.translation_of = root
    article.translated_from_number = revision.number if revision is not None else None
    article.save(update_fields=["translation_of", "translated_from_number", "updated_at"])
    audit_record(
        actor=author,
        action=AuditLog.Action.UPDATE,
        target=root,
        detail={"translation_added": locale, "translation_id": article.pk},
    )
    return article
