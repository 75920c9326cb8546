"""`rebuild_index` and `normalize_kb`: both rebuild through the same progress loop."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from retrieval import services
from tests.factories import make_article

pytestmark = pytest.mark.django_db

MANUAL_BODY = "Open the menu.\n\nTry Now\n\nPress **OK** to reset the picture."


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), verbosity=0)
    return out.getvalue()


def _stats(output: str) -> dict:
    return json.loads(output[output.index("{") :])


def test_normalize_kb_dry_run_reports_without_publishing(admin_user):
    make_article(author=admin_user, title="Picture reset", body=MANUAL_BODY)
    before = services.current_index_version()
    output = _run("normalize_kb", "--dry-run")
    assert "1 of 1 live articles read differently once cleaned" in output
    assert "Picture reset" in output
    assert services.current_index_version() == before


def test_normalize_kb_rebuilds_the_index_from_the_cleaned_text(admin_user):
    article = make_article(author=admin_user, title="Picture reset", body=MANUAL_BODY)
    before = services.current_index_version()
    stats = _stats(_run("normalize_kb"))
    assert stats["articles"] == 1 and stats["version"] != before
    assert stats["version"] == services.current_index_version()
    hit = services.search("reset the picture", audience="public", mode="lexical").hits[0]
    assert hit.article_id == article.pk
    assert "Try Now" not in " ".join(c.text for c in hit.chunks)


def test_rebuild_index_prints_the_same_stats(admin_user):
    make_article(author=admin_user, title="Picture reset", body=MANUAL_BODY)
    stats = _stats(_run("rebuild_index"))
    assert stats["articles"] == 1 and stats["failed_articles"] == []
    assert stats["version"] == services.current_index_version()
