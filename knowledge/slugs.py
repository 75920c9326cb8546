"""Article slugs: unique, derived from published titles, old ones kept as redirects."""

from __future__ import annotations

from django.utils.text import slugify

from knowledge.models import Article, ArticleSlug


def unique_article_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:280] or "article"
    slug = base
    n = 2
    qs = Article.objects.all()
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    old = ArticleSlug.objects.all()
    if exclude_pk:
        old = old.exclude(article_id=exclude_pk)
    while qs.filter(slug=slug).exists() or old.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


def _slug_derived_from(slug: str, title: str) -> bool:
    base = slugify(title)[:280] or "article"
    return slug == base or (slug.startswith(f"{base}-") and slug[len(base) + 1 :].isdigit())


def slug_follow_published_title(article: Article, *, title: str) -> None:
    """Slugs come from published titles, never from a draft's: customers see the URL.

    A slug made from an earlier title (the first draft's, or the previous published one)
    moves to the new published title; a slug that was public before stays as a redirect.
    Slugs set explicitly (an import's `slug`) are kept.
    """
    if title == article.title or not _slug_derived_from(article.slug, article.title):
        return
    if _slug_derived_from(article.slug, title):
        return
    new_slug = unique_article_slug(title, exclude_pk=article.pk)
    if article.published_revision_id is not None:
        ArticleSlug.objects.update_or_create(slug=article.slug, defaults={"article": article})
    ArticleSlug.objects.filter(slug=new_slug, article=article).delete()
    article.slug = new_slug
