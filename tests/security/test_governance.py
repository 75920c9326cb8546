"""Governance side doors (issue 14): each test here failed on the code before its fix."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from knowledge import import_services, services
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
    import_services.articles_import(records=[_record(visibility="internal")], actor=reviewer)
    article = Article.objects.get(external_id="kb-1")
    assert article.visibility == Visibility.INTERNAL and article.status == ArticleStatus.PUBLISHED
    # Re-import (as a reviewer, publishing) of a record that says nothing about visibility.
    import_services.articles_import(records=[_record(body="Internal steps, v2.")], actor=reviewer)
    article.refresh_from_db()
    assert article.visibility == Visibility.INTERNAL
    # An editor's draft re-import naming `public` is refused for that record, with a reason.
    summary = import_services.articles_import(
        records=[_record(visibility="public")], actor=editor, publish=False
    )
    article.refresh_from_db()
    assert article.visibility == Visibility.INTERNAL
    assert summary.skipped and "reviewer" in summary.skipped[0][1]


# --- 2. The answer cache never serves withdrawn content ----------------------------------------


@pytest.fixture
def lagging_index(monkeypatch):
    """Publish/withdraw announcements are lost (broker down): the index keeps its version."""
    monkeypatch.setattr(services, "announce_after_commit", lambda signal, article_id: None)


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


# --- 6. Slugs come from published titles -------------------------------------------------------


def test_a_drafts_first_title_never_reaches_the_slug(editor, reviewer):
    article = make_article(author=editor, title="Secret project HERON launch", publish=False)
    latest = article.latest_revision
    revision = services.revision_save(
        article=article,
        title="Pair the remote",
        body=latest.body,
        author=editor,
        base_revision_id=latest.pk,
    )
    services.revision_publish(revision=revision, published_by=reviewer)
    article.refresh_from_db()
    assert "heron" not in article.slug and article.slug == "pair-the-remote"
    assert Client().get("/articles/secret-project-heron-launch/").status_code == 404
    assert Client().get("/articles/pair-the-remote/").status_code == 200


def test_a_renamed_published_article_redirects_from_its_old_slug(reviewer, editor):
    article = make_article(author=reviewer, title="Pair the remote")
    revision = services.revision_save(
        article=article,
        title="Pair the Bluetooth remote",
        body=article.latest_revision.body,
        author=editor,
        base_revision_id=article.latest_revision_id,
    )
    # Until the new title is published, the slug is the published one.
    assert Article.objects.get(pk=article.pk).slug == "pair-the-remote"
    services.revision_publish(revision=revision, published_by=reviewer)
    article.refresh_from_db()
    assert article.slug == "pair-the-bluetooth-remote"
    r = Client().get("/articles/pair-the-remote/")
    assert r.status_code == 301 and r["Location"].endswith("/articles/pair-the-bluetooth-remote/")
    # A new article cannot take the old slug over.
    other = make_article(author=reviewer, title="Pair the remote")
    assert other.slug != "pair-the-remote"
    # Withdrawn: the old slug does not redirect (nor reveal where).
    services.article_archive(article=article, archived_by=reviewer)
    assert Client().get("/articles/pair-the-remote/").status_code == 404


def test_an_explicit_import_slug_is_kept(reviewer):
    import_services.articles_import(
        records=[_record(slug="kept-slug", visibility="public")], actor=reviewer
    )
    assert Article.objects.get(external_id="kb-1").slug == "kept-slug"


# --- 8. Rendering and diff cost are bounded ----------------------------------------------------


def test_pathological_markdown_renders_without_error():
    from knowledge.rendering import render_markdown

    nested = "".join("    " * i + "- x\n" for i in range(300))
    inline = "- " * 3000 + "x"
    assert "<li>" in render_markdown(nested)
    assert "<li>" in render_markdown(inline)
    html = render_markdown("[" * 4000)
    assert html.count("[") == 4000


def test_pages_show_stored_html_and_answer_fast_for_a_hostile_body(
    reviewer, agent, settings, monkeypatch
):
    import time

    from knowledge import services as kb_services
    from knowledge import views as kb_views

    settings.KB_MAX_ARTICLE_BODY_CHARS = 200_000
    body = "".join("  " * i + "- x\n" for i in range(300)) + "\n\n" + "[a](" * 8000
    article = make_article(author=reviewer, title="Hostile body", body=body)
    assert article.published_revision.body_html
    pages = {
        "portal": (Client(), f"/articles/{article.slug}/"),
        "agent": (agent, f"/agent/articles/{article.pk}/"),
        "editor": (reviewer, f"/editor/articles/{article.pk}/"),
        "revision": (reviewer, f"/editor/articles/{article.pk}/revisions/1/"),
    }

    # The promise is structural: the body is rendered once, at publish, and pages show the
    # stored HTML. A page that rendered it again fails here, however fast the machine is.
    def no_render(text: str) -> str:
        raise AssertionError("a page rendered the article body again")

    for module in (kb_services, kb_views):
        monkeypatch.setattr(module, "render_markdown", no_render)
    for name, (who, url) in pages.items():
        c = who if isinstance(who, Client) else Client()
        if not isinstance(who, Client):
            c.force_login(who)
        started = time.perf_counter()
        r = c.get(url)
        elapsed = time.perf_counter() - started
        assert r.status_code == 200, name
        # A loose ceiling, not a benchmark: the super-linear renderer took 16.6 s here; a
        # shared 2-core CI box has taken 1.1 s for the agent page with stored HTML.
        assert elapsed < 5.0, f"{name} took {elapsed:.2f} s"


def test_word_diffs_of_long_lines_are_bounded():
    import random
    import time

    from knowledge.diffing import diff_lines, diff_split

    rng = random.Random(1)
    words = ["a", "b", "the", ",", "."]
    old = " ".join(rng.choice(words) for _ in range(2000))
    new = " ".join(rng.choice(words) for _ in range(2000))
    started = time.perf_counter()
    rows = diff_lines(old, new)
    diff_split(old, new)
    diff_lines("- a\n" * 50_000, "- b\n" * 50_000)
    assert time.perf_counter() - started < 3.0  # a quadratic word diff took 11 s on 4 KB
    assert [r.kind for r in rows] == ["del", "add"]


def test_the_review_queue_is_paginated(editor, reviewer):
    for n in range(25):
        article = make_article(author=editor, title=f"Queued {n}", publish=False)
        services.revision_submit(revision=article.latest_revision, submitted_by=editor)
    c = Client()
    c.force_login(reviewer)
    first = c.get("/editor/review/")
    assert first.status_code == 200
    assert first.content.count(b"Approve &amp; publish") == 20
    assert c.get("/editor/review/?page=2").content.count(b"Approve &amp; publish") == 5


# --- 7. Public API fields only -----------------------------------------------------------------


def test_public_api_article_carries_no_revision_metadata(reviewer, editor):
    article = make_article(author=reviewer, title="Pair the remote", summary="Fixed per TICKET-991")
    r = Client().get(f"/api/articles/{article.pk}")
    assert r.status_code == 200
    revision = r.json()["published_revision"]
    assert revision["body"] and "summary" not in revision and "author" not in revision
    assert "ticket-991" not in r.content.decode().lower()
    assert reviewer.username not in r.content.decode()
    # The control: editors do see them.
    c = Client()
    c.force_login(editor)
    staff = c.get(f"/api/articles/{article.pk}").json()["published_revision"]
    assert staff["summary"] == "Fixed per TICKET-991" and staff["author"] == reviewer.username


def test_anonymous_answers_do_not_say_how_they_were_made(reviewer, agent, settings):
    from retrieval.services import index_rebuild

    settings.LLM_BASE_URL = ""
    make_article(author=reviewer, title="Reset your password", body="Open Settings, press Reset.")
    index_rebuild()
    hidden = ("backend", "model", "prompt_version", "fallback_reason")
    body = (
        Client()
        .post("/api/ask", {"question": "How do I reset my password?"}, "application/json")
        .json()
    )
    assert body["text"] and not any(name in body for name in hidden)
    stream = b"".join(
        Client().post("/ask/stream/", {"q": "How do I reset my password?"}).streaming_content
    ).decode()
    assert "prompt_version" not in stream and '"backend"' not in stream
    # Staff still get them.
    c = Client()
    c.force_login(agent)
    staff = c.post("/api/ask", {"question": "How do I reset my password?"}, "application/json")
    assert staff.json()["backend"] == "extractive"


# --- 9. The Django admin goes through governance -----------------------------------------------


def test_admin_cannot_edit_a_published_revision_or_flip_status(admin_user, reviewer):
    from knowledge.models import AuditLog, Revision

    article = make_article(author=reviewer, title="Pair the remote", visibility="internal")
    revision = article.published_revision
    c = Client()
    c.force_login(admin_user)
    page = c.get(f"/admin/knowledge/revision/{revision.pk}/change/")
    assert page.status_code == 200 and b'name="body"' not in page.content
    r = c.post(
        f"/admin/knowledge/revision/{revision.pk}/change/",
        {
            "article": article.pk,
            "number": 1,
            "title": "x",
            "body": "EDITED IN ADMIN",
            "state": "draft",
        },
    )
    assert r.status_code == 403
    assert Revision.objects.get(pk=revision.pk).body != "EDITED IN ADMIN"
    form = c.get(f"/admin/knowledge/article/{article.pk}/change/")
    assert b'name="visibility"' not in form.content and b'name="status"' not in form.content
    # What the admin may change (here the locale) goes through the service and is audited.
    before = AuditLog.objects.count()
    r = c.post(
        f"/admin/knowledge/article/{article.pk}/change/",
        {
            "locale": "de",
            "owner": reviewer.pk,
            "visibility": "public",
            "status": "draft",
            "revisions-TOTAL_FORMS": "1",
            "revisions-INITIAL_FORMS": "1",
            "revisions-0-id": revision.pk,
            "revisions-0-article": article.pk,
        },
    )
    assert r.status_code == 302, r.content[:2000]
    article.refresh_from_db()
    assert (article.visibility, article.status, article.locale) == ("internal", "published", "de")
    assert AuditLog.objects.count() == before + 1


def test_drift_check_sees_a_revision_changed_in_place(reviewer):
    from knowledge.models import Revision
    from retrieval.services import index_drift, index_rebuild

    article = make_article(author=reviewer, title="Pair the remote", body="Hold Back and Play.")
    index_rebuild()
    assert index_drift()["to_index"] == []
    # The body changes under the same revision id (a raw SQL fix, an old admin form).
    Revision.objects.filter(pk=article.published_revision_id).update(body="Hold Home.")
    assert index_drift()["to_index"] == [article.pk]


# --- Four-eyes review -------------------------------------------------------------------------


def test_a_reviewer_cannot_approve_their_own_revision(reviewer, admin_user, settings):
    article = make_article(author=reviewer, title="Own change", publish=False)
    with pytest.raises(ValidationError, match="Four-eyes"):
        services.revision_publish(revision=article.latest_revision, published_by=reviewer)
    services.revision_publish(revision=article.latest_revision, published_by=admin_user)
    assert Article.objects.get(pk=article.pk).status == ArticleStatus.PUBLISHED
    settings.KB_REVIEW_FOUR_EYES = False  # configurable: a one-person team
    other = make_article(author=reviewer, title="Solo team", publish=False)
    services.revision_publish(revision=other.latest_revision, published_by=reviewer)
