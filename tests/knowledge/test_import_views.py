"""Import and export from the editor UI: dry run first, zip folders, safe unpacking."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge.models import Article, ArticleStatus, AuditLog
from tests.factories import make_article

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.knowledge.urls")]


def _jsonl_upload(rows, name="kb.jsonl"):
    data = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"
    return SimpleUploadedFile(name, data.encode(), content_type="application/x-ndjson")


def _post(client, upload, **fields):
    data = {"format": "auto", "visibility": "public", "category": "", "file": upload}
    data.update(fields)
    return client.post("/editor/import/", data)


def test_dry_run_shows_summary_and_writes_nothing(client, editor):
    client.force_login(editor)
    upload = _jsonl_upload([{"id": "a", "title": "A", "text": "a"}, "{broken"])
    page = _post(client, upload, dry_run="on").content.decode()
    assert "Dry run: nothing was written" in page
    assert "Would have created <strong>1</strong>" in page
    assert "kb.jsonl:2" in page and "invalid JSON" in page
    assert Article.objects.count() == 0


def test_editor_imports_drafts_but_may_not_publish(client, editor):
    client.force_login(editor)
    page = _post(client, _jsonl_upload([{"id": "a", "title": "A", "text": "a"}]), publish="on")
    assert "Only reviewers and admins can publish" in page.content.decode()
    assert Article.objects.count() == 0
    page = _post(client, _jsonl_upload([{"id": "a", "title": "A", "text": "a"}]))
    assert "Import finished" in page.content.decode()
    article = Article.objects.get(external_id="a")
    assert article.status == ArticleStatus.DRAFT and article.owner == editor
    assert AuditLog.objects.get(action="import").actor == editor


def test_reviewer_imports_zip_of_markdown_and_publishes(client, reviewer):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("kb/remote.md", "---\ntitle: Pair the remote\nid: m1\n---\nHold Back.\n")
        archive.writestr("kb/sub/wifi.md", "# Connect to Wi-Fi\n\nOpen Settings.\n")
    upload = SimpleUploadedFile("kb.zip", buffer.getvalue(), content_type="application/zip")
    client.force_login(reviewer)
    page = _post(client, upload, publish="on", category="Imported").content.decode()
    assert "Created <strong>2</strong>" in page
    assert set(Article.objects.values_list("status", flat=True)) == {ArticleStatus.PUBLISHED}
    assert set(Article.objects.values_list("category__name", flat=True)) == {"Imported"}


def test_zip_slip_and_wrong_file_types_are_refused(client, reviewer, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../evil.md", "# Evil\n\nx")
    client.force_login(reviewer)
    page = _post(client, SimpleUploadedFile("kb.zip", buffer.getvalue())).content.decode()
    assert "Unsafe path in the archive" in page
    page = _post(client, SimpleUploadedFile("kb.exe", b"MZ")).content.decode()
    assert "upload a .jsonl, .md, .html file" in page
    page = _post(client, SimpleUploadedFile("kb.zip", b"not a zip")).content.decode()
    assert "not a valid zip archive" in page
    assert Article.objects.count() == 0


def test_export_download_round_trips(client, editor, reviewer):
    make_article(author=reviewer, title="Public one", body="Public text")
    make_article(author=reviewer, title="Internal one", body="Secret", visibility="internal")
    client.force_login(editor)
    response = client.get("/editor/export.jsonl")
    assert response["Content-Disposition"] == 'attachment; filename="kb-export-public.jsonl"'
    rows = [json.loads(line) for line in response.content.decode().splitlines()]
    assert [r["title"] for r in rows] == ["Public one"]
    response = client.get("/editor/export.jsonl", {"internal": "1"})
    rows = [json.loads(line) for line in response.content.decode().splitlines()]
    assert {r["title"] for r in rows} == {"Public one", "Internal one"}
