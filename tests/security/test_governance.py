"""Governance side doors (issue 14): each test here failed on the code before its fix."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from knowledge import services
from knowledge.importers import ImportRecord
from knowledge.models import Article, ArticleStatus, Visibility
from tests.factories import make_article

pytestmark = pytest.mark.django_db


# --- 1. Making content public is publishing ----------------------------------------------------


def test_editor_cannot_make_a_published_internal_article_public(editor, reviewer):
    article = make_article(author=reviewer, title="Staff only", visibility="internal")
    with pytest.raises(ValidationError, match="reviewers"):
        services.article_update_metadata(article=article, updated_by=editor, visibility="public")
    article.refresh_from_db()
    assert article.visibility == Visibility.INTERNAL


def test_editor_form_cannot_flip_a_live_internal_article_public(editor, reviewer):
    article = make_article(author=reviewer, title="Staff only", visibility="internal")
    latest = article.latest_revision
    c = Client()
    c.force_login(editor)
    r = c.post(
        f"/editor/articles/{article.pk}/edit/",
        {
            "title": latest.title,
            "body": latest.body,
            "visibility": "public",
            "locale": "en",
            "base_revision_id": latest.pk,
        },
    )
    assert r.status_code == 200 and b"reviewers" in r.content
    article.refresh_from_db()
    assert article.visibility == Visibility.INTERNAL


def test_reviewer_may_make_it_public_and_editor_may_make_it_internal(editor, reviewer):
    article = make_article(author=reviewer, title="Was internal", visibility="internal")
    services.article_update_metadata(article=article, updated_by=reviewer, visibility="public")
    assert Article.objects.get(pk=article.pk).visibility == Visibility.PUBLIC
    services.article_update_metadata(article=article, updated_by=editor, visibility="internal")
    assert Article.objects.get(pk=article.pk).visibility == Visibility.INTERNAL
    # A never-published draft may be public: it still has to pass review to go live.
    draft = make_article(author=editor, title="New draft", visibility="internal", publish=False)
    services.article_update_metadata(article=draft, updated_by=editor, visibility="public")


def _record(**kw):
    base = {"external_id": "kb-1", "title": "Staff only", "body": "Internal steps.", "source": "x"}
    return ImportRecord(**{**base, **kw})


def test_reimport_without_visibility_keeps_the_existing_value(reviewer, editor):
    services.articles_import(records=[_record(visibility="internal")], actor=reviewer)
    article = Article.objects.get(external_id="kb-1")
    assert article.visibility == Visibility.INTERNAL and article.status == ArticleStatus.PUBLISHED
    # Re-import (as a reviewer, publishing) of a record that says nothing about visibility.
    services.articles_import(records=[_record(body="Internal steps, v2.")], actor=reviewer)
    article.refresh_from_db()
    assert article.visibility == Visibility.INTERNAL
    # An editor's draft re-import naming `public` is refused for that record, with a reason.
    summary = services.articles_import(
        records=[_record(visibility="public")], actor=editor, publish=False
    )
    article.refresh_from_db()
    assert article.visibility == Visibility.INTERNAL
    assert summary.skipped and "reviewer" in summary.skipped[0][1]


# --- 2. The answer cache never serves withdrawn content ----------------------------------------


@pytest.fixture
def lagging_index(monkeypatch):
    """Publish/withdraw announcements are lost (broker down): the index keeps its version."""
    monkeypatch.setattr(services, "_announce", lambda signal, article_id: None)


def test_cached_answer_is_not_served_after_its_article_is_archived(
    settings, reviewer, lagging_index
):
    from django.core.cache import cache

    from generation import services as generation
    from retrieval.services import index_rebuild

    settings.ANSWER_CACHE_SECONDS = 300
    cache.clear()
    article = make_article(
        author=reviewer,
        title="Descale the WALRUS-2208 kettle",
        body="Fill the WALRUS-2208 kettle with vinegar and boil it twice to descale it.",
    )
    index_rebuild()
    q = "How do I descale the WALRUS-2208 kettle?"
    first = generation.answer_question(q, audience="public")
    assert any(c.article_id == article.pk for c in first.citations), "the control: it is cited"
    assert generation.answer_question(q, audience="public").from_cache
    services.article_archive(article=article, archived_by=reviewer)
    again = generation.answer_question(q, audience="public")
    assert not again.from_cache
    assert all(c.article_id != article.pk for c in again.citations)
    assert "walrus" not in again.text.lower() or again.abstained
