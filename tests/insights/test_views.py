"""The review queue and analytics: editors only; accept, edit-then-accept and dismiss."""

from __future__ import annotations

import pytest
from django.urls import reverse

from insights.models import Suggestion, SuggestionStatus
from insights.services import mine_logs
from knowledge.models import Article, AuditLog, RevisionState
from tests.factories import make_article
from tests.insights.conftest import NOW, log_question

REPLY = (
    "Hi there! Open Settings, then Sound, then Expert Settings and set HDMI-eARC Mode to Auto. "
    "Then restart the soundbar. Thanks for waiting!"
)


@pytest.fixture
def open_suggestion(db) -> Suggestion:
    log_question("soundbar HDMI ARC no sound", session="a", escalated=True, agent_reply=REPLY)
    log_question("My soundbar has no sound over HDMI ARC", session="b", abstained=True)
    mine_logs(now=NOW)
    return Suggestion.objects.get(kind="new_article")


URLS = [
    ("insights:suggestion_list", False),
    ("insights:analytics", False),
    ("insights:suggestion_detail", True),
    ("insights:suggestion_edit", True),
]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["customer", "agent"])
def test_queue_and_analytics_are_forbidden_to_non_editors(client, request, who, open_suggestion):
    client.force_login(request.getfixturevalue(who))
    for name, needs_pk in URLS:
        url = reverse(name, args=[open_suggestion.pk] if needs_pk else [])
        assert client.get(url).status_code == 403, url
    accept = reverse("insights:suggestion_accept", args=[open_suggestion.pk])
    assert client.post(accept).status_code == 403
    open_suggestion.refresh_from_db()
    assert open_suggestion.status == SuggestionStatus.OPEN


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get(reverse("insights:suggestion_list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["editor", "reviewer", "admin_user"])
def test_editors_reviewers_and_admins_see_the_queue(client, request, who, open_suggestion):
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("insights:suggestion_list")).content.decode()
    assert "soundbar" in page.lower()
    detail = client.get(reverse("insights:suggestion_detail", args=[open_suggestion.pk]))
    assert detail.status_code == 200
    assert "HDMI-eARC Mode to Auto" in detail.content.decode()
    assert client.get(reverse("insights:analytics")).status_code == 200


@pytest.mark.django_db
def test_accept_creates_a_linked_draft_revision_and_audits_it(client, editor, open_suggestion):
    client.force_login(editor)
    response = client.post(reverse("insights:suggestion_accept", args=[open_suggestion.pk]))
    assert response.status_code == 302
    open_suggestion.refresh_from_db()
    assert open_suggestion.status == SuggestionStatus.ACCEPTED
    revision = open_suggestion.accepted_revision
    assert revision is not None and revision.state == RevisionState.DRAFT
    assert revision.body == open_suggestion.draft_body
    assert revision.author == editor
    article = revision.article
    assert article.status == "draft" and article.published_revision_id is None
    assert AuditLog.objects.filter(
        target_type="suggestion", target_id=str(open_suggestion.pk), detail__decision="accepted"
    ).exists()
    assert AuditLog.objects.filter(target_type="article", target_id=str(article.pk)).exists()
    # Accepting twice is refused, and no second article appears.
    client.post(reverse("insights:suggestion_accept", args=[open_suggestion.pk]))
    assert Article.objects.count() == 1


@pytest.mark.django_db
def test_edit_then_accept_keeps_the_editors_text(client, editor, open_suggestion):
    client.force_login(editor)
    url = reverse("insights:suggestion_edit", args=[open_suggestion.pk])
    form = client.get(url).content.decode()
    assert "HDMI-eARC Mode to Auto" in form  # prefilled with the draft
    bad = client.post(url, {"title": "Soundbar sound", "body": "   "})
    assert bad.status_code == 400
    assert "draft is empty" in bad.content.decode()
    assert "Soundbar sound" in bad.content.decode()  # nothing typed is lost
    client.post(url, {"title": "No sound from a soundbar on HDMI ARC", "body": "Set eARC to Auto."})
    open_suggestion.refresh_from_db()
    assert open_suggestion.accepted_revision.title == "No sound from a soundbar on HDMI ARC"
    assert open_suggestion.accepted_revision.body == "Set eARC to Auto."


@pytest.mark.django_db
def test_accepting_an_update_suggestion_adds_a_revision_to_the_target(client, reviewer):
    article = make_article(author=reviewer, title="Pair the remote", body="Hold Home.")
    for i in range(2):
        log_question(f"remote will not pair {i}", session=f"r{i}", helpful=False, cited=[article])
    mine_logs(now=NOW)
    suggestion = Suggestion.objects.get(kind="update_article")
    client.force_login(reviewer)
    client.post(reverse("insights:suggestion_accept", args=[suggestion.pk]))
    suggestion.refresh_from_db()
    article.refresh_from_db()
    assert suggestion.accepted_revision.article == article
    assert article.latest_revision == suggestion.accepted_revision
    assert article.published_revision.number == 1  # still live as it was, pending review


@pytest.mark.django_db
def test_dismiss_needs_a_reason(client, editor, open_suggestion):
    client.force_login(editor)
    url = reverse("insights:suggestion_dismiss", args=[open_suggestion.pk])
    client.post(url, {"reason": " "})
    open_suggestion.refresh_from_db()
    assert open_suggestion.status == SuggestionStatus.OPEN
    client.post(url, {"reason": "Duplicate of the eARC article"})
    open_suggestion.refresh_from_db()
    assert open_suggestion.status == SuggestionStatus.DISMISSED
    assert open_suggestion.dismissed_reason == "Duplicate of the eARC article"
    assert open_suggestion.dismissed_by == editor
    listing = client.get(reverse("insights:suggestion_list")).content.decode()
    assert "soundbar" not in listing.lower()


@pytest.mark.django_db
def test_mine_now_button_runs_mining(client, editor):
    from django.utils import timezone

    now = timezone.now()
    log_question("tv turns off by itself", session="a", abstained=True, now=now)
    log_question("tv turns off by itself at night", session="b", abstained=True, now=now)
    client.force_login(editor)
    response = client.post(reverse("insights:mine_now"))
    assert response.status_code == 302
    assert Suggestion.objects.filter(kind="new_article").count() == 1
    page = client.get(reverse("insights:suggestion_list")).content.decode()
    assert "Tv turns off by itself" in page or "tv turns off by itself" in page
    assert client.get(reverse("insights:mine_now")).status_code == 405


@pytest.mark.django_db
def test_a_stale_update_draft_never_overwrites_newer_edits(client, reviewer):
    from knowledge import services as kb

    article = make_article(author=reviewer, title="Pair the remote", body="Hold Home.")
    for i in range(2):
        log_question(f"remote will not pair {i}", session=f"r{i}", helpful=False, cited=[article])
    mine_logs(now=NOW)
    suggestion = Suggestion.objects.get(kind="update_article")
    # Someone edits the article after the draft was made from it.
    article.refresh_from_db()
    kb.revision_save(
        article=article,
        title="Pair the remote",
        body="Hold Home and Back for 3 seconds.",
        author=reviewer,
        base_revision_id=article.latest_revision_id,
    )
    client.force_login(reviewer)
    client.post(reverse("insights:suggestion_accept", args=[suggestion.pk]))
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.OPEN
    assert article.revisions.count() == 2  # nothing was written over the newer revision

    url = reverse("insights:suggestion_edit", args=[suggestion.pk])
    form = client.get(url).content.decode()
    assert 'name="base_revision_id"' in form
    base = suggestion.evidence["base_revision_id"]
    conflict = client.post(
        url, {"title": "Pair", "body": "My merged text.", "base_revision_id": base}
    )
    page = conflict.content.decode()
    assert conflict.status_code == 400 and "while you were editing" in page
    assert "My merged text." in page  # the editor's text is kept
    newest = article.revisions.order_by("-number").first().pk
    assert f'value="{newest}"' in page
    client.post(url, {"title": "Pair", "body": "My merged text.", "base_revision_id": newest})
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.ACCEPTED
    assert suggestion.accepted_revision.number == 3


@pytest.mark.django_db
def test_queue_filters_by_kind_and_status(client, editor, open_suggestion):
    client.force_login(editor)
    url = reverse("insights:suggestion_list")
    assert "soundbar" in client.get(url, {"kind": "new_article"}).content.decode().lower()
    assert "soundbar" not in client.get(url, {"kind": "merge"}).content.decode().lower()
    assert "soundbar" not in client.get(url, {"status": "accepted"}).content.decode().lower()
    client.post(reverse("insights:suggestion_accept", args=[open_suggestion.pk]))
    assert "soundbar" in client.get(url, {"status": "accepted"}).content.decode().lower()
    # Unknown values fall back to the defaults instead of failing.
    assert client.get(url, {"kind": "bogus", "status": "bogus"}).status_code == 200
    assert client.get(reverse("insights:suggestion_detail", args=[999999])).status_code == 404
