"""load_demo: users for every role, the bundled sample (or a corpus), idempotent re-runs."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from knowledge import roles
from knowledge.demo_data import assign_categories, category_for_title
from knowledge.importers import ImportRecord
from knowledge.models import Article, ArticleStatus, Visibility

pytestmark = pytest.mark.django_db


def _load(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", "--no-progress", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_bundled_sample_loads_users_and_articles_idempotently(tmp_path):
    out = _load("--corpus", str(tmp_path / "missing.jsonl"))
    assert "not found: loading the bundled sample KB" in out
    assert "created 12, updated 0, unchanged 0, skipped 0" in out
    assert "| editor   | editor-demo-pass" in out
    assert "/editor/" in out and "/agent/" in out and "/api/docs/" in out

    for username, password, role in [
        ("admin", "admin-demo-pass", "admin"),
        ("editor", "editor-demo-pass", "editor"),
        ("reviewer", "reviewer-demo-pass", "reviewer"),
        ("agent", "agent-demo-pass", "agent"),
        ("customer", "customer-demo-pass", "customer"),
    ]:
        user = authenticate(username=username, password=password)
        assert user is not None, username
        assert roles.role_name(user) == role
    assert authenticate(username="admin", password="admin-demo-pass").is_staff

    assert Article.objects.filter(status=ArticleStatus.PUBLISHED).count() == 12
    internal = Article.objects.filter(visibility=Visibility.INTERNAL)
    assert internal.count() == 4
    assert internal.filter(title="Internal: refund escalation policy").exists()

    out = _load("--corpus", str(tmp_path / "missing.jsonl"), "--no-index")
    assert "created 0, updated 0, unchanged 12" in out
    assert Article.objects.count() == 12


def test_corpus_gets_categories_and_internal_sample_articles(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"id": "c0", "title": "Picture and Sound", "text": "Adjust the picture."},
        {"id": "c1", "title": "Choosing a picture mode", "text": "Pick Standard."},
        {"id": "c2", "title": "Showing captions", "text": "Turn captions on."},
        {"id": "c3", "title": "Empty", "text": ""},
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = _load("--corpus", str(corpus), "--no-index")
    assert "created 3, updated 0, unchanged 0, skipped 1" in out
    assert "corpus.jsonl:4: empty text" in out
    categories = dict(Article.objects.values_list("external_id", "category__name"))
    assert categories["c1"] == "Picture & sound"
    assert categories["c2"] == "Accessibility"
    assert Article.objects.filter(visibility="internal").count() == 4
    assert Article.objects.filter(visibility="public").count() == 3


def test_category_from_keywords_and_chapters():
    assert category_for_title("Pairing the Bluetooth remote") == "Remote & accessories"
    assert category_for_title("The TV Won't Connect to the Internet") == "Troubleshooting"
    assert category_for_title("Something else entirely") == "General"
    records = [
        ImportRecord(external_id="1", title="TV Viewing", body="x", source="s"),
        ImportRecord(external_id="2", title="Using Timeshift", body="x", source="s"),
        ImportRecord(external_id="3", title="Own", body="x", source="s", category="Kept"),
    ]
    assign_categories(records)
    assert [r.category for r in records] == ["Watching TV", "Watching TV", "Kept"]
