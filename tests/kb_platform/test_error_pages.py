"""Error pages explain what happened in words a customer understands, and lose nothing."""

import pytest
from django.test import Client

from knowledge.models import Article

pytestmark = pytest.mark.django_db


def test_unknown_page_gets_the_friendly_404_with_search(client):
    response = client.get("/no-such-page-anywhere/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "We couldn't find that page" in body
    assert 'action="/search/"' in body


def test_oversized_form_post_is_refused_clearly(client, settings, editor):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    client.force_login(editor)
    response = client.post(
        "/editor/articles/new/", {"title": "Big", "body": "x" * 10_000, "visibility": "public"}
    )
    assert response.status_code == 400
    assert "malformed or too large" in response.content.decode()
    assert not Article.objects.filter(title="Big").exists()


def test_post_without_csrf_token_explains_the_form_expired(editor):
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    response = client.post("/editor/articles/new/", {"title": "No token", "body": "text"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    assert not Article.objects.filter(title="No token").exists()
