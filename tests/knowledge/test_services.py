import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from knowledge import services
from knowledge.models import ArticleStatus, AuditLog, RevisionState
from knowledge.signals import article_published
from tests.factories import make_article

pytestmark = pytest.mark.django_db


def test_publish_flow_moves_states_and_audits(editor, reviewer):
    article = make_article(author=editor, publish=False)
    revision = article.latest_revision
    services.revision_submit(revision=revision, submitted_by=editor)
    article.refresh_from_db()
    assert article.status == ArticleStatus.IN_REVIEW
    services.revision_publish(revision=revision, published_by=reviewer)
    article.refresh_from_db()
    revision.refresh_from_db()
    assert article.status == ArticleStatus.PUBLISHED
    assert article.published_revision_id == revision.pk
    assert revision.state == RevisionState.PUBLISHED
    actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["create", "submit", "publish"]


def test_editor_without_review_permission_cannot_publish(editor):
    article = make_article(author=editor, publish=False)
    with pytest.raises(PermissionDenied):
        services.revision_publish(revision=article.latest_revision, published_by=editor)


def test_agent_cannot_create_articles(agent):
    with pytest.raises(PermissionDenied):
        make_article(author=agent, publish=False)


def test_stale_base_revision_is_refused_and_text_kept(editor, reviewer):
    article = make_article(author=reviewer)
    base_id = article.latest_revision_id
    services.revision_save(
        article=article,
        title=article.title,
        body="Reviewer's fix",
        author=reviewer,
        base_revision_id=base_id,
    )
    with pytest.raises(services.EditConflict) as conflict:
        services.revision_save(
            article=article,
            title=article.title,
            body="Editor's long careful edit",
            author=editor,
            base_revision_id=base_id,
        )
    assert conflict.value.body == "Editor's long careful edit"
    assert "riley_reviewer" in str(conflict.value)
    assert article.revisions.count() == 2


def test_restore_creates_new_revision_with_old_text(editor, reviewer):
    article = make_article(author=reviewer, body="original text")
    first = article.latest_revision
    services.revision_save(
        article=article,
        title=article.title,
        body="changed text",
        author=editor,
        base_revision_id=first.pk,
    )
    restored = services.revision_restore(revision=first, restored_by=editor)
    assert restored.number == 3
    assert restored.body == "original text"
    assert restored.restored_from_id == first.pk
    assert article.revisions.count() == 3


def test_oversized_body_is_refused_with_its_size(editor, settings):
    settings.KB_MAX_ARTICLE_BODY_CHARS = 1000
    with pytest.raises(ValidationError, match="1,001 characters"):
        make_article(author=editor, publish=False, body="x" * 1001)


def test_publish_announces_after_commit(reviewer, django_capture_on_commit_callbacks):
    seen = []

    def receiver(sender, article_id, **kwargs):
        seen.append(article_id)

    article_published.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            article = make_article(author=reviewer)
    finally:
        article_published.disconnect(receiver)
    assert seen == [article.pk]


def test_newer_revision_supersedes_the_one_in_review(editor, reviewer):
    article = make_article(author=reviewer, body="v1")
    r2 = services.revision_save(
        article=article,
        title=article.title,
        body="v2",
        author=editor,
        base_revision_id=article.latest_revision_id,
    )
    services.revision_submit(revision=r2, submitted_by=editor)
    r3 = services.revision_save(
        article=article,
        title=article.title,
        body="v2 plus a fix",
        author=editor,
        base_revision_id=r2.pk,
    )
    r2.refresh_from_db()
    assert r2.state == RevisionState.SUPERSEDED
    assert r3.state == RevisionState.DRAFT
    # Publishing the stale review would drop "plus a fix": it is refused, clearly.
    with pytest.raises(ValidationError, match="superseded"):
        services.revision_publish(revision=r2, published_by=reviewer)
    article.refresh_from_db()
    assert article.published_revision.body == "v1"
    services.revision_publish(revision=r3, published_by=reviewer)
    article.refresh_from_db()
    assert article.published_revision_id == r3.pk


def test_unpublished_article_returns_to_draft_when_its_review_is_superseded(editor):
    article = make_article(author=editor, publish=False, body="first")
    services.revision_submit(revision=article.latest_revision, submitted_by=editor)
    article.refresh_from_db()
    assert article.status == ArticleStatus.IN_REVIEW
    services.revision_save(
        article=article,
        title=article.title,
        body="second",
        author=editor,
        base_revision_id=article.latest_revision_id,
    )
    article.refresh_from_db()
    assert article.status == ArticleStatus.DRAFT
    assert list(article.revisions.values_list("state", flat=True)) == ["draft", "superseded"]
