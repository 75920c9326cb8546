"""Every write to the knowledge base: create, edit, review, publish, archive, restore.

Each service runs in one transaction, writes an audit entry, and announces published or
withdrawn articles through `knowledge.signals` after commit, so indexing (in `retrieval`)
never sees uncommitted rows and knowledge never imports the apps that index it (that
after-commit announcing, batched for imports, is `knowledge.announcements`; the checks of
what an editor typed and the category/tag look-ups are `knowledge.article_input`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from knowledge import roles
from knowledge.announcements import announce_after_commit
from knowledge.article_input import body_validate, category_and_tags_resolve, title_validate
from knowledge.conf import knowledge_conf
from knowledge.models import (
    Article,
    ArticleStatus,
    AuditLog,
    Category,
    Revision,
    RevisionState,
    Tag,
    Visibility,
)
from knowledge.rendering import render_markdown
from knowledge.signals import article_published, article_withdrawn
from knowledge.slugs import slug_follow_published_title, unique_article_slug


class EditConflict(Exception):
    """Someone saved a newer revision since the author started editing.

    Carries the author's text so the UI can show it back and nothing typed is lost.
    """

    def __init__(self, *, article: Article, latest: Revision | None, title: str, body: str):
        self.article = article
        self.latest = latest
        self.title = title
        self.body = body
        who = latest.author.get_username() if latest and latest.author else "someone else"
        number = latest.number if latest else 0
        super().__init__(
            f"Revision {number} was saved by {who} while you were editing. "
            "Your text has been kept below: review their changes, then save again."
        )


def audit_record(
    *,
    actor: Any,
    action: str,
    target: Any,
    detail: dict | None = None,
) -> AuditLog:
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditLog.objects.create(
        actor=actor_obj,
        action=action,
        target_type=type(target).__name__.lower(),
        target_id=str(target.pk),
        target_repr=str(target)[:300],
        detail=detail or {},
    )


def require_editor(user: Any) -> None:
    if user is not None and not roles.is_editor(user):
        raise PermissionDenied("Only editors and admins can change articles.")


def require_reviewer(user: Any) -> None:
    if user is not None and not roles.can_review(user):
        raise PermissionDenied("Only reviewers and admins can approve and publish articles.")


_OPEN_STATES = (RevisionState.DRAFT, RevisionState.IN_REVIEW, RevisionState.REJECTED)


def _supersede_open_revisions(article: Article, *, newest: Revision) -> None:
    """Older drafts and reviews leave the queue: the newest revision already contains them
    (it was saved on top of the latest one), so publishing an older one would lose its edits.
    An article that was only in review goes back to draft with its newest revision."""
    superseded = (
        Revision.objects.filter(article=article, state__in=_OPEN_STATES)
        .exclude(pk=newest.pk)
        .update(state=RevisionState.SUPERSEDED)
    )
    if superseded and article.status == ArticleStatus.IN_REVIEW:
        article.status = ArticleStatus.DRAFT
        article.save(update_fields=["status", "updated_at"])


def _next_revision_number(article: Article) -> int:
    last = article.revisions.order_by("-number").values_list("number", flat=True).first()
    return (last or 0) + 1


@transaction.atomic
def article_create(
    *,
    title: str,
    body: str,
    author: Any,
    category: Category | None = None,
    tags: Iterable[Tag] = (),
    visibility: str = Visibility.PUBLIC,
    locale: str = "en",
    summary: str = "Created",
    external_id: str | None = None,
    slug: str | None = None,
    new_category: str = "",
    tag_names: Iterable[str] = (),
    submit: bool = False,
) -> Article:
    """Create an article with its first (draft) revision; with submit=True, sent to review.

    `new_category` (a name, found or created; wins over `category`) and `tag_names` are
    resolved inside this transaction, so a refused create leaves no new rows behind.
    """
    require_editor(author)
    title = title_validate(title)
    body_validate(body)
    if visibility not in Visibility.values:
        raise ValidationError(f"Unknown visibility {visibility!r}: use public or internal.")
    category, tags = category_and_tags_resolve(
        category=category, new_category=new_category, tags=tags, tag_names=tag_names
    )
    article = Article.objects.create(
        title=title,
        slug=slug or unique_article_slug(title),
        category=category,
        visibility=visibility,
        locale=locale,
        owner=author if getattr(author, "is_authenticated", False) else None,
        external_id=external_id,
    )
    article.tags.set(list(tags))
    revision = Revision.objects.create(
        article=article,
        number=1,
        title=title,
        body=body,
        body_html=render_markdown(body),
        summary=summary[:300],
        author=author if getattr(author, "is_authenticated", False) else None,
    )
    article.latest_revision = revision
    article.save(update_fields=["latest_revision", "updated_at"])
    audit_record(actor=author, action=AuditLog.Action.CREATE, target=article)
    if submit:
        revision_submit(revision=revision, submitted_by=author)
    return article


@transaction.atomic
def revision_save(
    *,
    article: Article,
    title: str,
    body: str,
    author: Any,
    base_revision_id: int | None,
    summary: str = "",
) -> Revision:
    """Save a new draft revision on top of `base_revision_id`.

    Raises EditConflict when another revision was saved since the author loaded the
    article (optimistic concurrency): the caller shows the author's text back.
    """
    require_editor(author)
    title = title_validate(title)
    body_validate(body)
    locked = Article.objects.select_for_update().get(pk=article.pk)
    if locked.latest_revision_id != base_revision_id:
        latest = (
            Revision.objects.select_related("author").filter(pk=locked.latest_revision_id).first()
            if locked.latest_revision_id is not None
            else None
        )
        raise EditConflict(article=locked, latest=latest, title=title, body=body)
    revision = Revision.objects.create(
        article=locked,
        number=_next_revision_number(locked),
        title=title,
        body=body,
        body_html=render_markdown(body),
        summary=summary[:300],
        author=author if getattr(author, "is_authenticated", False) else None,
        base_revision_id=base_revision_id,
    )
    locked.latest_revision = revision
    locked.save(update_fields=["latest_revision", "updated_at"])
    _supersede_open_revisions(locked, newest=revision)
    audit_record(
        actor=author,
        action=AuditLog.Action.EDIT,
        target=locked,
        detail={"revision": revision.number, "summary": summary[:300]},
    )
    article.latest_revision = revision
    return revision


@transaction.atomic
def revision_submit(*, revision: Revision, submitted_by: Any) -> Revision:
    """Send a draft revision to review."""
    require_editor(submitted_by)
    if revision.state not in (RevisionState.DRAFT, RevisionState.REJECTED):
        raise ValidationError(f"Revision {revision.number} is {revision.state}, not a draft.")
    revision.state = RevisionState.IN_REVIEW
    revision.save(update_fields=["state"])
    article = revision.article
    if article.status == ArticleStatus.DRAFT:
        article.status = ArticleStatus.IN_REVIEW
        article.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=submitted_by,
        action=AuditLog.Action.SUBMIT,
        target=article,
        detail={"revision": revision.number},
    )
    return revision


@transaction.atomic
def revision_reject(*, revision: Revision, reviewed_by: Any, note: str) -> Revision:
    """Send a revision back to its author with a note."""
    require_reviewer(reviewed_by)
    if revision.state != RevisionState.IN_REVIEW:
        raise ValidationError(f"Revision {revision.number} is not in review.")
    revision.state = RevisionState.REJECTED
    revision.review_note = note[:5000]
    revision.reviewed_by = reviewed_by
    revision.save(update_fields=["state", "review_note", "reviewed_by"])
    article = revision.article
    if article.status == ArticleStatus.IN_REVIEW and not article.published_revision_id:
        article.status = ArticleStatus.DRAFT
        article.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=reviewed_by,
        action=AuditLog.Action.REJECT,
        target=article,
        detail={"revision": revision.number, "note": note[:500]},
    )
    return revision


@transaction.atomic
def revision_publish(
    *, revision: Revision, published_by: Any, self_review: bool = False
) -> Article:
    """Approve and publish a revision: it becomes what customers and search see.

    Four eyes (KB_REVIEW_FOUR_EYES, on by default): the revision's author cannot approve it.
    `self_review=True` is for the paths that are themselves the decision of a reviewer with
    no second person (imports with --publish, demo data, article_create_published).
    """
    require_reviewer(published_by)
    article = Article.objects.select_for_update().get(pk=revision.article_id)
    if revision.state == RevisionState.PUBLISHED and article.published_revision_id == revision.pk:
        return article
    if (
        knowledge_conf().review_four_eyes
        and not self_review
        and revision.author_id is not None
        and revision.author_id == getattr(published_by, "pk", None)
    ):
        raise ValidationError(
            "Four-eyes review: you wrote this revision, so another reviewer has to approve it."
        )
    revision.refresh_from_db(fields=["state"])
    if revision.state == RevisionState.SUPERSEDED:
        raise ValidationError(
            f"Revision {revision.number} was superseded by a newer revision; "
            "review and publish the latest revision instead."
        )
    revision.state = RevisionState.PUBLISHED
    revision.reviewed_by = (
        published_by if getattr(published_by, "is_authenticated", False) else None
    )
    revision.save(update_fields=["state", "reviewed_by"])
    slug_follow_published_title(article, title=revision.title)
    article.published_revision = revision
    article.title = revision.title
    article.status = ArticleStatus.PUBLISHED
    article.published_at = timezone.now()
    article.save(
        update_fields=[
            "published_revision",
            "title",
            "slug",
            "status",
            "published_at",
            "updated_at",
        ]
    )
    audit_record(
        actor=published_by,
        action=AuditLog.Action.PUBLISH,
        target=article,
        detail={"revision": revision.number},
    )
    if article.translation_of_id:
        # A reviewer published this translation: it now reflects the source as it stands.
        source_number = (
            Article.objects.filter(pk=article.translation_of_id)
            .values_list("published_revision__number", flat=True)
            .first()
        )
        if source_number:
            article.translated_from_number = source_number
            article.save(update_fields=["translated_from_number"])
    announce_after_commit(article_published, article.pk)
    return article


def revision_body_html(*, revision: Revision) -> str:
    """The revision's stored HTML; rendered (once) for rows written before it was stored."""
    if not revision.body_html and revision.body:
        revision.body_html = render_markdown(revision.body)
        Revision.objects.filter(pk=revision.pk).update(body_html=revision.body_html)
    return revision.body_html


@transaction.atomic
def article_archive(*, article: Article, archived_by: Any) -> Article:
    """Take an article out of the portal and search; its history stays."""
    require_reviewer(archived_by)
    article = Article.objects.select_for_update().get(pk=article.pk)
    article.status = ArticleStatus.ARCHIVED
    article.save(update_fields=["status", "updated_at"])
    audit_record(actor=archived_by, action=AuditLog.Action.ARCHIVE, target=article)
    announce_after_commit(article_withdrawn, article.pk)
    return article


@transaction.atomic
def article_unarchive(*, article: Article, restored_by: Any) -> Article:
    """Bring an archived article back with the revision it had published."""
    require_reviewer(restored_by)
    article = Article.objects.select_for_update().get(pk=article.pk)
    if article.status != ArticleStatus.ARCHIVED:
        raise ValidationError("Only archived articles can be brought back.")
    article.status = (
        ArticleStatus.PUBLISHED if article.published_revision_id else ArticleStatus.DRAFT
    )
    article.save(update_fields=["status", "updated_at"])
    audit_record(actor=restored_by, action=AuditLog.Action.RESTORE, target=article)
    if article.published_revision_id:
        announce_after_commit(article_published, article.pk)
    return article


@transaction.atomic
def revision_restore(*, revision: Revision, restored_by: Any) -> Revision:
    """Restore an old revision by copying it into a new draft revision (history is kept)."""
    require_editor(restored_by)
    article = Article.objects.select_for_update().get(pk=revision.article_id)
    new = Revision.objects.create(
        article=article,
        number=_next_revision_number(article),
        title=revision.title,
        body=revision.body,
        body_html=revision.body_html or render_markdown(revision.body),
        summary=f"Restored revision {revision.number}",
        author=restored_by if getattr(restored_by, "is_authenticated", False) else None,
        base_revision_id=article.latest_revision_id,
        restored_from=revision,
    )
    article.latest_revision = new
    article.save(update_fields=["latest_revision", "updated_at"])
    _supersede_open_revisions(article, newest=new)
    audit_record(
        actor=restored_by,
        action=AuditLog.Action.RESTORE,
        target=article,
        detail={"from_revision": revision.number, "new_revision": new.number},
    )
    return new


def _require_review_to_make_public(article: Article, *, visibility: str, user: Any) -> None:
    """Making published content public is publishing: it needs review rights.

    An internal article with a published revision (live, or archived and one unarchive away)
    would reach customers at once, with no review, if an editor could flip it to public.
    """
    if user is None or visibility != Visibility.PUBLIC:
        return
    current = (
        Article.objects.filter(pk=article.pk).values_list("visibility", "published_revision_id")
    ).first()
    if current is None or current[0] == Visibility.PUBLIC or current[1] is None:
        return
    if not roles.can_review(user):
        raise ValidationError(
            "Making a published internal article public publishes it to customers: only "
            "reviewers and admins can do that. Ask a reviewer to change its visibility."
        )


@transaction.atomic
def article_update_metadata(
    *,
    article: Article,
    updated_by: Any,
    category: Category | object | None = ...,
    tags: Iterable[Tag] | None = None,
    visibility: str | None = None,
    locale: str | None = None,
) -> Article:
    """Change category, tags, visibility or locale; re-announces a live article for indexing."""
    require_editor(updated_by)
    changed: dict[str, Any] = {}
    if category is not ...:
        article.category = category  # type: ignore[assignment]
        changed["category"] = getattr(category, "name", None)
    if visibility is not None:
        if visibility not in Visibility.values:
            raise ValidationError(f"Unknown visibility {visibility!r}: use public or internal.")
        _require_review_to_make_public(article, visibility=visibility, user=updated_by)
        changed["visibility"] = visibility
        article.visibility = visibility
    if locale is not None:
        article.locale = locale[:16]
        changed["locale"] = locale
    # Only the metadata columns: a full save from a stale instance would undo a publish or a
    # new revision saved by someone else since this instance was loaded.
    fields = [name for name in ("category", "visibility", "locale") if name in changed]
    article.save(update_fields=[*fields, "updated_at"])
    if tags is not None:
        tag_list = list(tags)
        article.tags.set(tag_list)
        changed["tags"] = [t.name for t in tag_list]
    audit_record(actor=updated_by, action=AuditLog.Action.UPDATE, target=article, detail=changed)
    live = Article.objects.filter(
        pk=article.pk, status=ArticleStatus.PUBLISHED, published_revision__isnull=False
    ).exists()
    if live:
        announce_after_commit(article_published, article.pk)
    return article


def article_create_published(
    *,
    title: str,
    body: str,
    author: Any,
    **kwargs: Any,
) -> Article:
    """Create and publish in one step (imports, demo data, tests); still audited."""
    with transaction.atomic():
        article = article_create(title=title, body=body, author=author, **kwargs)
        revision = article.latest_revision
        assert revision is not None
        revision_publish(revision=revision, published_by=author, self_review=True)
        article.refresh_from_db()
    return article


# --- Editor UI --------------------------------------------------------------------------------


@transaction.atomic
def article_edit(
    *,
    article: Article,
    author: Any,
    base_revision_id: int | None,
    title: str,
    body: str,
    summary: str = "",
    category: Category | None = None,
    tags: Iterable[Tag] = (),
    visibility: str = Visibility.PUBLIC,
    locale: str = "en",
    new_category: str = "",
    tag_names: Iterable[str] = (),
    submit: bool = False,
) -> Revision | None:
    """Save the editor form: a new revision when the text changed, plus metadata changes;
    with submit=True the latest draft goes to review.

    Returns the new revision, or None when only metadata changed. Raises EditConflict (from
    revision_save) when someone saved since `base_revision_id`; nothing is written then (a
    new category or tags named here included).
    """
    require_editor(author)
    category, tags = category_and_tags_resolve(
        category=category, new_category=new_category, tags=tags, tag_names=tag_names
    )
    latest = article.latest_revision
    text_same = (
        latest is not None
        and latest.pk == base_revision_id
        and latest.title == (title or "").strip()
        and latest.body == body
    )
    revision = None
    if not text_same:
        revision = revision_save(
            article=article,
            title=title,
            body=body,
            author=author,
            base_revision_id=base_revision_id,
            summary=summary,
        )
    tag_list = list(tags)
    if (
        article.category_id != (category.pk if category else None)
        or article.visibility != visibility
        or article.locale != locale
        or {t.pk for t in article.tags.all()} != {t.pk for t in tag_list}
    ):
        article_update_metadata(
            article=article,
            updated_by=author,
            category=category,
            tags=tag_list,
            visibility=visibility,
            locale=locale,
        )
    current = revision or article.latest_revision
    if (
        submit
        and current is not None
        and current.state in (RevisionState.DRAFT, RevisionState.REJECTED)
    ):
        revision_submit(revision=current, submitted_by=author)
    return revision
