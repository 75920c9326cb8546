"""Editor pages: who may see and do what, the edit-conflict flow, preview, diffs, restore."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from knowledge import services
from knowledge.models import Article, ArticleStatus, AuditLog, Category, RevisionState
from tests.factories import UserFactory, make_article

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.knowledge.urls")]

ROLES = ("anonymous", "customer", "agent", "editor", "reviewer", "admin")


@pytest.fixture
def users(customer, agent, editor, reviewer, admin_user):
    return {
        "anonymous": None,
        "customer": customer,
        "agent": agent,
        "editor": editor,
        "reviewer": reviewer,
        "admin": admin_user,
    }


@pytest.fixture
def article(reviewer):
    return make_article(author=reviewer, title="Pair the remote", body="Hold **Back**.")


def _client_for(users, role: str) -> Client:
    client = Client()
    if users[role] is not None:
        client.force_login(users[role])
    return client


EDITOR_OK = {"anonymous": 302, "customer": 403, "agent": 403, "editor": 200, "reviewer": 200,
             "admin": 200}  # fmt: skip
REVIEWER_OK = {**EDITOR_OK, "editor": 403}
EDITOR_POST = {**EDITOR_OK, "editor": 302, "reviewer": 302, "admin": 302}
REVIEWER_POST = {**EDITOR_POST, "editor": 403}

# (method, url template, expected status per role)
PAGES = [
    ("get", "/editor/", EDITOR_OK),
    ("get", "/editor/articles/new/", EDITOR_OK),
    ("get", "/editor/articles/{pk}/", EDITOR_OK),
    ("get", "/editor/articles/{pk}/edit/", EDITOR_OK),
    ("get", "/editor/articles/{pk}/history/", EDITOR_OK),
    ("get", "/editor/articles/{pk}/revisions/1/", EDITOR_OK),
    ("get", "/editor/audit/", EDITOR_OK),
    ("get", "/editor/review/", REVIEWER_OK),
    ("get", "/editor/import/", EDITOR_OK),
    ("get", "/editor/export.jsonl", EDITOR_OK),
    ("post", "/editor/preview/", EDITOR_OK),
    ("post", "/editor/articles/{pk}/archive/", REVIEWER_POST),
    ("post", "/editor/articles/{pk}/revisions/1/restore/", EDITOR_POST),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "url", "expected"), PAGES, ids=[p[1] for p in PAGES])
def test_permissions_per_role(users, article, role, method, url, expected):
    client = _client_for(users, role)
    path = url.format(pk=article.pk)
    response = getattr(client, method)(path, {"body": "Hi"} if method == "post" else None)
    assert response.status_code == expected[role]
    if role == "anonymous":
        assert response["Location"].startswith("/accounts/login/?next=")
    elif expected[role] == 403:
        assert b"You can't do that" in response.content
        assert b"editor" in response.content or b"reviewer" in response.content


def test_state_changes_are_post_only(client, editor, article):
    client.force_login(editor)
    for path in (
        f"/editor/articles/{article.pk}/submit/",
        f"/editor/articles/{article.pk}/revisions/1/restore/",
        "/editor/preview/",
    ):
        assert client.get(path).status_code == 405
    assert article.revisions.count() == 1


def test_forms_need_csrf_token(editor, article):
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    response = client.post(f"/editor/articles/{article.pk}/revisions/1/restore/")
    assert response.status_code == 403
    assert article.revisions.count() == 1


def test_unknown_ids_are_404(client, editor, article):
    client.force_login(editor)
    assert client.get("/editor/articles/99999/").status_code == 404
    assert client.get("/editor/articles/99999/edit/").status_code == 404
    assert client.get(f"/editor/articles/{article.pk}/revisions/42/").status_code == 404
    assert client.get(f"/editor/articles/{article.pk}/history/?a=1&b=42").status_code == 404
    assert client.post(f"/editor/articles/{article.pk}/revisions/42/restore/").status_code == 404
    assert client.post(f"/editor/articles/{article.pk}/explode/").status_code == 404


def test_list_filters_and_counts(client, editor, reviewer):
    make_article(author=reviewer, title="Wi-Fi setup", visibility="public")
    make_article(author=reviewer, title="Refund escalation", visibility="internal")
    make_article(author=editor, title="Wi-Fi draft", publish=False)
    client.force_login(editor)
    page = client.get("/editor/", {"q": "wi-fi"}).content.decode()
    assert "Wi-Fi setup" in page and "Wi-Fi draft" in page and "Refund escalation" not in page
    page = client.get("/editor/", {"status": "draft"}).content.decode()
    assert "Wi-Fi draft" in page and "Wi-Fi setup" not in page
    page = client.get("/editor/", {"visibility": "internal"}).content.decode()
    assert "Refund escalation" in page and "Wi-Fi setup" not in page
    assert re.search(r"Published</span> <strong>2</strong>", page)
    assert re.search(r"Draft</span> <strong>1</strong>", page)


def _form(**overrides):
    data = {
        "title": "Connect to Wi-Fi",
        "category": "",
        "new_category": "",
        "tags": "",
        "visibility": "public",
        "locale": "en",
        "body": "Open **Settings**.",
        "summary": "",
        "base_revision_id": "",
    }
    data.update(overrides)
    return data


def test_create_with_new_category_tags_and_submit(client, editor):
    client.force_login(editor)
    response = client.post(
        "/editor/articles/new/",
        _form(new_category="Network & apps", tags="wifi, network, wifi", save_submit="1"),
    )
    article = Article.objects.get(title="Connect to Wi-Fi")
    assert response.status_code == 302
    assert response["Location"] == f"/editor/articles/{article.pk}/"
    assert article.category.name == "Network & apps"
    assert sorted(t.name for t in article.tags.all()) == ["network", "wifi"]
    assert article.status == ArticleStatus.IN_REVIEW
    assert article.latest_revision.state == RevisionState.IN_REVIEW


def test_bad_input_gets_clear_messages_and_keeps_text(client, editor, settings):
    settings.KB_MAX_ARTICLE_BODY_CHARS = 1000
    client.force_login(editor)
    response = client.post("/editor/articles/new/", _form(title="", body="x" * 1001))
    page = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in page
    assert "1,001 characters; the limit is 1,000" in page
    assert "x" * 1001 in page  # nothing typed is lost
    assert Article.objects.count() == 0


def test_request_over_upload_limit_is_refused_whole(editor, settings):
    # Django refuses the request (in the CSRF middleware, before the view): nothing is saved.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    client.get("/editor/articles/new/")  # sets the CSRF cookie, as a browser would have it
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/editor/articles/new/", _form(body="y" * 5000, csrfmiddlewaretoken=token)
    )
    assert response.status_code == 400
    assert Article.objects.count() == 0


def test_edit_conflict_keeps_users_text_and_shows_diff(client, editor, reviewer, article):
    client.force_login(editor)
    page = client.get(f"/editor/articles/{article.pk}/edit/").content.decode()
    base_id = re.search(r'name="base_revision_id" value="(\d+)"', page).group(1)
    # Meanwhile the reviewer saves a new revision.
    services.revision_save(
        article=article, title=article.title, body="Hold **Back** and **Play**.",
        author=reviewer, base_revision_id=int(base_id),
    )  # fmt: skip
    mine = "Hold **Back** for 3 seconds. <my edit>"
    response = client.post(
        f"/editor/articles/{article.pk}/edit/",
        _form(title="Pair the remote", body=mine, base_revision_id=base_id, new_category="Fresh"),
    )
    page = response.content.decode()
    assert response.status_code == 409
    assert not Category.objects.filter(name="Fresh").exists()  # rolled back with the save
    assert 'value="Fresh"' in page  # ...but kept in the form
    assert "while you were editing" in page and "riley_reviewer" in page
    assert "Hold **Back** for 3 seconds. &lt;my edit&gt;</textarea>" in page
    assert "<ins>" in page and "<del>" in page and "&lt;my edit&gt;" in page
    assert article.revisions.count() == 2
    new_base = re.search(r'name="base_revision_id" value="(\d+)"', page).group(1)
    assert new_base == str(article.revisions.get(number=2).pk)
    # Saving again after reviewing the conflict goes through.
    response = client.post(
        f"/editor/articles/{article.pk}/edit/",
        _form(title="Pair the remote", body=mine, base_revision_id=new_base),
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.latest_revision.body == mine
    assert article.latest_revision.number == 3


def test_metadata_only_edit_makes_no_revision(client, editor, article):
    client.force_login(editor)
    response = client.post(
        f"/editor/articles/{article.pk}/edit/",
        _form(title=article.title, body="Hold **Back**.", visibility="internal",
              base_revision_id=article.latest_revision_id),
    )  # fmt: skip
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.visibility == "internal"
    assert article.revisions.count() == 1


def test_live_preview_renders_sanitized_html(client, editor, settings):
    client.force_login(editor)
    response = client.post(
        "/editor/preview/",
        {
            "body": "## Steps\n\n1. Press **Home**\n\n"
            "<img src=x onerror=alert(1)><script>x()</script>"
        },
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert '<h2 id="steps">Steps</h2>' in html and "<strong>Home</strong>" in html
    assert "onerror" not in html and "<script" not in html and "x()" not in html
    settings.KB_MAX_ARTICLE_BODY_CHARS = 1000
    html = client.post("/editor/preview/", {"body": "z" * 1001}).content.decode()
    assert "the limit is 1,000" in html


def test_history_diff_is_escaped(client, editor, article):
    services.revision_save(
        article=article, title=article.title, body="<script>alert('x')</script> Hold Back.",
        author=editor, base_revision_id=article.latest_revision_id,
    )  # fmt: skip
    client.force_login(editor)
    page = client.get(f"/editor/articles/{article.pk}/history/", {"a": 1, "b": 2}).content
    page = page.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<ins>" in page and "<del>" in page


def test_restore_via_view_creates_new_revision_and_audits(client, editor, article):
    services.revision_save(
        article=article, title=article.title, body="Wrong text",
        author=editor, base_revision_id=article.latest_revision_id,
    )  # fmt: skip
    client.force_login(editor)
    response = client.post(f"/editor/articles/{article.pk}/revisions/1/restore/")
    assert response.status_code == 302
    article.refresh_from_db()
    latest = article.latest_revision
    assert latest.number == 3
    assert latest.body == "Hold **Back**."
    assert latest.restored_from.number == 1
    entry = AuditLog.objects.filter(action="restore").get()
    assert entry.actor == editor and entry.detail == {"from_revision": 1, "new_revision": 3}


def test_review_flow_through_views(client, editor, reviewer):
    draft = make_article(author=editor, title="New policy", publish=False)
    client.force_login(editor)
    client.post(f"/editor/articles/{draft.pk}/submit/")
    draft.refresh_from_db()
    assert draft.status == ArticleStatus.IN_REVIEW
    # An editor may not publish their own work.
    assert client.post(f"/editor/articles/{draft.pk}/publish/").status_code == 403

    client.force_login(reviewer)
    queue = client.get("/editor/review/").content.decode()
    assert "New policy" in queue and "new article" in queue
    response = client.post(f"/editor/articles/{draft.pk}/reject/", {"note": ""})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.latest_revision.state == RevisionState.IN_REVIEW  # no note, no rejection
    client.post(
        f"/editor/articles/{draft.pk}/reject/", {"note": "Add the steps", "next": "/editor/review/"}
    )
    draft.refresh_from_db()
    assert draft.latest_revision.state == RevisionState.REJECTED
    assert "Add the steps" in client.get(f"/editor/articles/{draft.pk}/").content.decode()

    client.force_login(editor)
    client.post(f"/editor/articles/{draft.pk}/submit/")
    client.force_login(reviewer)
    response = client.post(
        f"/editor/articles/{draft.pk}/publish/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == f"/editor/articles/{draft.pk}/"  # no open redirect
    draft.refresh_from_db()
    assert draft.status == ArticleStatus.PUBLISHED
    client.post(f"/editor/articles/{draft.pk}/archive/")
    draft.refresh_from_db()
    assert draft.status == ArticleStatus.ARCHIVED
    client.post(f"/editor/articles/{draft.pk}/unarchive/")
    draft.refresh_from_db()
    assert draft.status == ArticleStatus.PUBLISHED


def test_action_on_another_articles_revision_is_refused(client, reviewer, article):
    other = make_article(author=reviewer, title="Other", publish=False)
    client.force_login(reviewer)
    response = client.post(
        f"/editor/articles/{article.pk}/publish/", {"revision": other.latest_revision_id}
    )
    assert response.status_code == 403
    other.refresh_from_db()
    assert other.status == ArticleStatus.DRAFT


def test_audit_log_filters(client, editor, reviewer, article):
    make_article(author=editor, title="Another", publish=False)
    client.force_login(editor)
    page = client.get("/editor/audit/", {"actor": "erin_editor"}).content.decode()
    assert "Another" in page and "Pair the remote" not in page
    page = client.get("/editor/audit/", {"article": article.pk, "action": "publish"}).content
    assert b"Pair the remote" in page and b"Another" not in page
    page = client.get("/editor/audit/", {"article": "abc"}).content.decode()
    assert "Enter a whole number" in page


def test_admin_pages_load_for_admin(client, admin_user, article):
    client.force_login(admin_user)
    for path in (
        "/admin/knowledge/article/",
        f"/admin/knowledge/article/{article.pk}/change/",
        "/admin/knowledge/revision/",
        "/admin/knowledge/category/",
        "/admin/knowledge/tag/",
        "/admin/knowledge/auditlog/",
    ):
        assert client.get(path).status_code == 200, path


def test_admin_is_closed_to_editors(client, editor):
    client.force_login(editor)
    assert client.get("/admin/knowledge/article/").status_code == 302


def test_reviewer_via_permission_can_review(client):
    from django.contrib.auth.models import Permission

    user = UserFactory(username="perm_reviewer", role="editor")
    user.user_permissions.add(Permission.objects.get(codename="review_article"))
    client.force_login(user)
    assert client.get("/editor/review/").status_code == 200


@pytest.mark.urls("kb_platform.urls")
def test_project_routes_editor_pages_to_knowledge():
    from django.urls import resolve

    from knowledge import views

    assert resolve("/editor/").func is views.article_list
    assert resolve("/editor/articles/3/history/").url_name == "article_history"
    assert resolve("/editor/preview/").namespace == "knowledge"


def test_login_page_explains_what_the_editor_needs(client, editor):
    page = client.get("/accounts/login/", {"next": "/editor/"}).content.decode()
    assert "needs an editor, reviewer or admin account" in page
    response = client.post(
        "/accounts/login/",
        {"username": "erin_editor", "password": "wrong", "next": "/editor/"},
    )
    assert "didn't match" in response.content.decode()
    assert 'value="erin_editor"' in response.content.decode()
    response = client.post(
        "/accounts/login/",
        {"username": "erin_editor", "password": "pass-for-tests-1", "next": "/editor/"},
    )
    assert response.status_code == 302 and response["Location"] == "/editor/"


def test_history_side_by_side_view(client, editor, article):
    services.revision_save(
        article=article, title=article.title, body="Hold **Back** <now>.",
        author=editor, base_revision_id=article.latest_revision_id,
    )  # fmt: skip
    client.force_login(editor)
    page = client.get(
        f"/editor/articles/{article.pk}/history/", {"a": 1, "b": 2, "view": "split"}
    ).content.decode()
    assert 'class="diff split"' in page
    assert '<th scope="col">r1</th>' in page and '<th scope="col">r2</th>' in page
    assert "side-add" in page and "&lt;now&gt;" in page
    assert "<now>" not in page
