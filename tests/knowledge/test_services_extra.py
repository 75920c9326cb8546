"""Service fixes and additions made for the editor: stale instances, article_edit."""

from __future__ import annotations

import pytest

from knowledge import services
from knowledge.models import Article, ArticleStatus
from tests.factories import make_article

pytestmark = pytest.mark.django_db


def test_metadata_update_from_stale_instance_keeps_a_publish(editor, reviewer):
    article = make_article(author=editor, publish=False)
    stale = Article.objects.get(pk=article.pk)
    services.revision_publish(revision=article.latest_revision, published_by=reviewer)
    services.article_update_metadata(article=stale, updated_by=editor, visibility="internal")
    fresh = Article.objects.get(pk=article.pk)
    assert fresh.status == ArticleStatus.PUBLISHED
    assert fresh.published_revision_id == article.latest_revision_id
    assert fresh.visibility == "internal"


def test_article_edit_only_metadata_makes_no_revision(editor):
    article = make_article(author=editor, publish=False)
    latest = article.latest_revision
    result = services.article_edit(
        article=article, author=editor, base_revision_id=latest.pk,
        title=latest.title, body=latest.body, locale="de",
    )  # fmt: skip
    assert result is None
    article.refresh_from_db()
    assert article.locale == "de" and article.revisions.count() == 1


def test_article_edit_conflict_writes_nothing(editor, reviewer):
    article = make_article(author=editor, publish=False)
    base = article.latest_revision_id
    services.revision_save(
        article=article, title=article.title, body="theirs", author=reviewer,
        base_revision_id=base,
    )  # fmt: skip
    stale = Article.objects.get(pk=article.pk)
    stale.latest_revision_id = base
    with pytest.raises(services.EditConflict):
        services.article_edit(
            article=stale, author=editor, base_revision_id=base, title=article.title,
            body="mine", visibility="internal",
        )  # fmt: skip
    fresh = Article.objects.get(pk=article.pk)
    assert fresh.visibility == "public"
    assert fresh.latest_revision.body == "theirs"
