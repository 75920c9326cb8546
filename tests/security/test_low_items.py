"""The low-severity side doors of issue 14, one test each (each failed before its fix)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from knowledge import import_services, services
from tests.factories import make_article

pytestmark = pytest.mark.django_db


def test_an_unknown_host_is_a_400_not_a_500():
    c = Client(raise_request_exception=False)
    assert c.get("/", HTTP_HOST="evil.example").status_code == 400
    assert c.get("/api/search", {"q": "x"}, HTTP_HOST="evil.example").status_code == 400


@pytest.mark.parametrize(
    "url",
    ["/search/?q=%00", "/api/search?q=%00", "/api/articles?category=%00", "/editor/?status=%00"],
)
def test_a_nul_in_query_parameters_is_dropped_never_a_500(url, admin_user):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from kb_platform.security import RejectBadRequests

    c = Client(raise_request_exception=False)
    c.force_login(admin_user)
    r = c.get(url)
    assert r.status_code < 500
    if url.startswith("/api/"):
        assert r["Content-Type"].startswith("application/json")
    # What the views get has no NUL (PostgreSQL cannot compare text with one).
    seen: dict[str, str] = {}

    def view(request):
        seen.update(request.GET.items())
        return HttpResponse("ok")

    RejectBadRequests(view)(RequestFactory().get(url))
    assert seen and not any("\x00" in v for v in seen.values())


def test_multipart_bodies_obey_max_request_bytes(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    upload = SimpleUploadedFile("big.bin", b"x" * 50_000)
    r = Client(raise_request_exception=False).post(
        "/widget/ask/stream/", {"q": "hello", "file": upload}
    )
    assert r.status_code == 400
    upload.seek(0)
    api = Client(raise_request_exception=False).post("/api/ask", {"question": "hi", "f": upload})
    assert api.status_code == 413 and api.json()["error"]["code"] == "payload_too_large"


def test_agent_error_responses_do_not_reflect_html(agent, reviewer):
    article = make_article(author=reviewer)
    c = Client()
    c.force_login(agent)
    payload = "<img src=x onerror=alert(1)>"
    r = c.post("/agent/flag/", {"article_id": article.pk, "reason": payload})
    assert r.status_code == 400 and r["Content-Type"].startswith("text/plain")
    r = c.post(
        "/agent/flag/", {"article_id": article.pk, "reason": payload}, HTTP_HX_REQUEST="true"
    )
    assert r.status_code == 400 and payload not in r.content.decode()
    assert "&lt;img" in r.content.decode()


def test_a_card_number_ending_a_sentence_is_redacted():
    from insights.redaction import redact

    assert "4111" not in redact("My card is 4111 1111 1111 1111.")
    assert "4111" not in redact("Charged 4111111111111111. Why?")
    assert redact("Version 4111111111111111.5 is a number") != "Version [CARD].5 is a number"


def test_yaml_aliases_in_front_matter_are_refused_quickly(tmp_path):
    import time

    from knowledge.importers import parse_markdown

    bomb = "---\n" + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for n in range(1, 9):
        prev = chr(ord("a") + n - 1)
        bomb += f"{chr(ord('a') + n)}: &{chr(ord('a') + n)} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    bomb += "title: Boom\n---\nBody\n"
    (tmp_path / "bomb.md").write_text(bomb)
    started = time.perf_counter()
    result = parse_markdown(tmp_path / "bomb.md")
    assert time.perf_counter() - started < 3.0  # the expanded bomb took 10 s and 105 MB
    assert not result.records
    assert "alias" in result.problems[0].reason


def test_a_nul_in_import_metadata_skips_that_record_and_names_it(reviewer, tmp_path):
    import json

    from knowledge.importers import parse_path
    from knowledge.models import Article

    path = tmp_path / "kb.jsonl"
    rows = [
        {"id": "ok", "title": "Fine", "text": "Fine text."},
        {"id": "bad", "title": "Bad", "text": "Text.", "category": "Bil\x00ling"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parsed = parse_path(path, max_body_chars=10_000)
    summary = import_services.articles_import(
        records=parsed.records,
        actor=reviewer,
        problems=[(p.source, p.reason) for p in parsed.problems],
    )
    assert summary.created == 1 and Article.objects.filter(external_id="ok").exists()
    assert any("kb.jsonl:2" in src and "NUL" in why for src, why in summary.skipped)


@pytest.mark.parametrize("title", ["\u200b\u200b", "\u202e", "\u2066\u200d\u2069", "\ufeff \u200c"])
def test_titles_without_visible_characters_are_refused(editor, title):
    with pytest.raises(ValidationError, match="visible"):
        services.article_create(title=title, body="Some text.", author=editor)


def test_internal_only_categories_are_not_on_the_portal(reviewer):
    from tests.factories import CategoryFactory

    staff = CategoryFactory(name="Staff HERON procedures")
    public = CategoryFactory(name="Remote")
    make_article(author=reviewer, title="Override", visibility="internal", category=staff)
    make_article(author=reviewer, title="Pair the remote", category=public)
    assert Client().get(f"/categories/{staff.slug}/").status_code == 404
    assert Client().get(f"/categories/{public.slug}/").status_code == 200


def test_another_site_cannot_drive_get_side_effects(reviewer):
    from support.models import ArticleViewCount, SearchLog

    article = make_article(author=reviewer, title="Pair the remote")
    cross = {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "no-cors"}
    Client().get(f"/articles/{article.slug}/", **cross)
    Client().get("/search/", {"q": "pair"}, **cross)
    Client().get("/api/search", {"q": "pair"}, **cross)
    assert not ArticleViewCount.objects.filter(article=article, views__gt=0).exists()
    assert SearchLog.objects.count() == 0
    # The control: the same requests from this site (or a user's own click) do count.
    Client().get(f"/articles/{article.slug}/", HTTP_SEC_FETCH_SITE="same-origin")
    Client().get(
        "/search/",
        {"q": "pair"},
        HTTP_SEC_FETCH_SITE="cross-site",
        HTTP_SEC_FETCH_MODE="navigate",
        HTTP_SEC_FETCH_USER="?1",
    )
    assert ArticleViewCount.objects.get(article=article).views == 1
    assert SearchLog.objects.count() == 1
