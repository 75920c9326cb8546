"""What an editor typed, made valid: title and body checks, and the category and tags named
by the editor found or created.

Apart from `knowledge.services` (the writes and their workflow) because the importers use the
same checks and look-ups row by row; every message here is shown to the editor as is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from knowledge.conf import knowledge_conf
from knowledge.models import Category, Tag


def body_validate(body: str) -> None:
    """Refuse a body that is not text, holds a NUL or is over KB_MAX_ARTICLE_BODY_CHARS."""
    if not isinstance(body, str):
        raise ValidationError("The article body must be text.")
    if "\x00" in body:  # PostgreSQL text cannot store it: refuse before the INSERT fails
        raise ValidationError("The article body contains a NUL character; remove it.")
    if len(body) > knowledge_conf().max_article_body_chars:
        raise ValidationError(
            f"The article body is {len(body):,} characters; the limit is "
            f"{knowledge_conf().max_article_body_chars:,}."
        )


def title_validate(title: str) -> str:
    """The title stripped; refused when empty to the eye, with a NUL, or over 300 chars."""
    title = (title or "").strip()
    # Zero-width and direction-override characters (Unicode "format", Cf) show nothing.
    if not "".join(ch for ch in title if unicodedata.category(ch) != "Cf" and not ch.isspace()):
        raise ValidationError("An article needs a title (with visible characters).")
    if "\x00" in title:
        raise ValidationError("The title contains a NUL character; remove it.")
    if len(title) > 300:
        raise ValidationError("Titles are limited to 300 characters.")
    return title


def category_get_or_create(*, name: str) -> Category:
    name = name.strip()[:200]
    slug = slugify(name)[:200] or "general"
    category, _ = Category.objects.get_or_create(slug=slug, defaults={"name": name})
    return category


def tags_get_or_create(*, names: Iterable[str]) -> list[Tag]:
    tags = []
    for name in names:
        name = str(name).strip()[:100]
        if not name:
            continue
        slug = slugify(name)[:100] or name.lower()
        tag, _ = Tag.objects.get_or_create(slug=slug, defaults={"name": name})
        tags.append(tag)
    return tags


def category_and_tags_resolve(
    *,
    category: Category | None,
    new_category: str,
    tags: Iterable[Tag],
    tag_names: Iterable[str],
) -> tuple[Category | None, list[Tag]]:
    """The category and tags an editor chose: objects, plus names found or created."""
    if new_category.strip():
        category = category_get_or_create(name=new_category)
    return category, [*tags, *tags_get_or_create(names=tag_names)]
