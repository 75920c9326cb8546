"""Reads of the knowledge base that filter by audience or check permissions."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from knowledge import roles
from knowledge.audience import Audience
from knowledge.models import Article, ArticleStatus, AuditLog, Revision, Visibility


def article_list_for_audience(*, audience: str) -> QuerySet[Article]:
    """Published articles a given audience ('public' or 'internal') may read."""
    qs = Article.objects.filter(
        status=ArticleStatus.PUBLISHED, published_revision__isnull=False
    ).select_related("published_revision", "category")
    if audience != Audience.INTERNAL:
        qs = qs.filter(visibility=Visibility.PUBLIC)
    return qs


def article_current_slug(*, old_slug: str, audience: str) -> str | None:
    """The slug an article now has when `old_slug` is one it was published under before."""
    return (
        article_list_for_audience(audience=audience)
        .filter(old_slugs__slug=old_slug)
        .values_list("slug", flat=True)
        .first()
    )


def article_visible_to(*, user: Any, article: Article) -> bool:
    if roles.is_editor(user):
        return True
    if not article.is_live:
        return False
    return article.visibility == Visibility.PUBLIC or roles.is_agent(user)


def article_list_for_editor(
    *,
    status: str | None = None,
    query: str = "",
    visibility: str | None = None,
    category: Any = None,
) -> QuerySet[Article]:
    qs = Article.objects.select_related("category", "latest_revision", "owner").prefetch_related(
        "tags"
    )
    if status:
        qs = qs.filter(status=status)
    if visibility:
        qs = qs.filter(visibility=visibility)
    if category is not None:
        qs = qs.filter(category=category)
    if query:
        qs = qs.filter(title__icontains=query)
    return qs.order_by("-updated_at")


def revisions_in_review() -> QuerySet[Revision]:
    return (
        Revision.objects.filter(state="in_review")
        .select_related("article", "author")
        .order_by("created_at")
    )


def audit_for_article(*, article: Article) -> QuerySet[AuditLog]:
    return AuditLog.objects.filter(target_type="article", target_id=str(article.pk)).select_related(
        "actor"
    )


def articles_for_export(*, include_internal: bool = False) -> list[dict[str, Any]]:
    """Published articles as JSONL-ready dicts (the format `import_kb` reads back)."""
    qs = article_list_for_audience(
        audience=Audience.INTERNAL if include_internal else Audience.PUBLIC
    )
    rows = []
    for article in qs.prefetch_related("tags").order_by("pk"):
        revision = article.published_revision
        if revision is None:  # excluded by the audience filter; narrows the type
            continue
        rows.append(
            {
                "id": article.external_id or f"kb-{article.pk}",
                "title": revision.title,
                "text": revision.body,
                "category": article.category.name if article.category else "",
                "tags": [t.name for t in article.tags.all()],
                "visibility": article.visibility,
                "slug": article.slug,
                "locale": article.locale,
            }
        )
    return rows


def article_status_counts() -> dict[str, int]:
    """Number of articles per status, every status present (zero when none)."""
    counts = dict(Article.objects.values_list("status").annotate(n=Count("id")))
    return {value: counts.get(value, 0) for value in ArticleStatus.values}


def audit_entries(
    *, article_id: int | None = None, actor: str = "", action: str = ""
) -> QuerySet[AuditLog]:
    qs = AuditLog.objects.select_related("actor")
    if article_id:
        qs = qs.filter(target_type="article", target_id=str(article_id))
    if actor:
        qs = qs.filter(actor__username__iexact=actor)
    if action:
        qs = qs.filter(action=action)
    return qs


def article_translation_status(*, article: Article, languages: list[str]) -> list[dict[str, Any]]:
    """Per language of the article's family: its version and whether it is missing, a draft,
    stale (the source published a newer revision since it was translated) or current."""
    root = article.translation_of if article.translation_of_id else article
    assert root is not None
    source_number = root.published_revision.number if root.published_revision else None
    versions = {a.locale: a for a in Article.objects.filter(translation_of=root)}
    out: list[dict[str, Any]] = []
    for code in languages:
        if code == root.locale:
            continue
        version = versions.get(code)
        if version is None:
            state = "missing"
        elif not version.is_live:
            state = "draft"
        elif (
            source_number is not None
            and version.translated_from_number is not None
            and version.translated_from_number < source_number
        ):
            state = "stale"
        else:
            state = "current"
        out.append({"locale": code, "article": version, "state": state})
    return out


def article_language_versions(*, article: Article, audience: str) -> dict[str, Article]:
    """Live versions of the article in each language that `audience` may see, by locale."""
    root = article.translation_of if article.translation_of_id else article
    assert root is not None
    family = article_list_for_audience(audience=audience).filter(
        pk__in=[root.pk, *root.translations.values_list("pk", flat=True)]
    )
    return {a.locale: a for a in family}
