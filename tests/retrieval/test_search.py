"""Search end to end over the database, with the fake embedder (fast, deterministic)."""

from __future__ import annotations

import pytest

from retrieval import services
from tests.factories import make_article

pytestmark = pytest.mark.django_db


def test_published_article_is_found_with_highlighted_snippet(admin_user):
    make_article(
        author=admin_user,
        title="Reset your router",
        body="## Steps\n\nUnplug the router, wait ten seconds and plug it back in.",
    )
    make_article(author=admin_user, title="Billing cycles", body="Invoices are sent monthly.")
    services.index_rebuild()
    result = services.search("how do I reset the router", audience="public")
    assert result.hits, result
    top = result.hits[0]
    assert top.title == "Reset your router"
    assert "<mark>router</mark>" in top.snippet_html
    assert top.chunks[0].heading_path == "Steps"
    assert 0.0 <= result.confidence <= 1.0
    assert result.index_version
