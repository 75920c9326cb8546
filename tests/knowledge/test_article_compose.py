"""Article create/edit is one service in one transaction for the editor UI and the API:
a refused save leaves no new category or tag behind, whichever door it came through."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from knowledge import services
from knowledge.models import Article, Category, RevisionState, Tag
from tests.factories import make_article

pytestmark = pytest.mark.django_db

STRAY = {"category": "Stray category", "tags": ["stray-tag-one", "stray-tag-two"]}


def _no_stray_rows() -> bool:
    return (
        not Category.objects.filter(name=STRAY["category"]).exists()
        and not Tag.objects.filter(name__in=STRAY["tags"]).exists()
    )


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_refused_api_create_leaves_no_stray_category_or_tags(editor, settings):
    settings.KB_MAX_ARTICLE_BODY_CHARS = 1000
    response = _api(editor).post(
        "/api/articles", {"title": "Big", "body": "x" * 1001, **STRAY}, "json"
    )
    assert response.status_code == 400, response.content
    assert "limit" in response.json()["error"]["message"]
    assert not Article.objects.filter(title="Big").exists()
    assert _no_stray_rows()


def test_accepted_api_create_keeps_its_category_and_tags(editor):
    # Control: the same payload within the limit creates exactly these rows.
    response = _api(editor).post("/api/articles", {"title": "Fine", "body": "Ok.", **STRAY}, "json")
    assert response.status_code == 201, response.content
    article = Article.objects.get(pk=response.json()["id"])
    assert article.category.name == STRAY["category"]
    assert sorted(t.name for t in article.tags.all()) == sorted(STRAY["tags"])


def test_refused_editor_create_leaves_no_stray_rows(client, editor, settings):
    settings.KB_MAX_ARTICLE_BODY_CHARS = 1000
    client.force_login(editor)
    response = client.post(
        reverse("knowledge:article_create"),
        {
            "title": "Big",
            "body": "x" * 1001,
            "visibility": "public",
            "locale": "en",
            "new_category": STRAY["category"],
            "tags": ", ".join(STRAY["tags"]),
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert not Article.objects.filter(title="Big").exists()
    assert _no_stray_rows()


def test_refused_edit_leaves_no_stray_rows(editor, reviewer):
    article = make_article(author=reviewer, title="Pair the remote", body="Hold Home.")
    stale = article.latest_revision_id
    services.revision_save(
        article=article, title="Pair the remote", body="Hold Back.", author=reviewer,
        base_revision_id=stale,
    )  # fmt: skip
    with pytest.raises(services.EditConflict):
        services.article_edit(
            article=Article.objects.get(pk=article.pk),
            author=editor,
            base_revision_id=stale,
            title="Pair the remote",
            body="Hold Menu.",
            new_category=STRAY["category"],
            tag_names=STRAY["tags"],
        )
    assert _no_stray_rows()


def test_create_with_submit_sends_the_draft_to_review(editor):
    article = services.article_create(
        title="New guide", body="Text.", author=editor, tag_names=["a"], submit=True
    )
    assert article.latest_revision.state == RevisionState.IN_REVIEW
    assert [t.name for t in article.tags.all()] == ["a"]
