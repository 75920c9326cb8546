"""Knowledge editor pages under /editor/: list, edit with live preview, review, history, audit.

Views parse input, load through an access helper, call one service and render. Anonymous
users are sent to the login page; signed-in users without the role get a 403 page that says
which role the page needs.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from knowledge import import_services, importers, roles, selectors, services, translations
from knowledge.access import forbidden, reviewer_required, role_required
from knowledge.audience import Audience
from knowledge.conf import knowledge_conf
from knowledge.diffing import diff_lines, diff_split, diff_stats
from knowledge.forms import (
    ArticleFilterForm,
    ArticleForm,
    AuditFilterForm,
    ImportForm,
    RejectForm,
    TranslationForm,
)
from knowledge.models import Article, ArticleStatus, Revision, RevisionState
from knowledge.rendering import render_markdown

logger = logging.getLogger(__name__)


def _get_article(pk: int) -> Article:
    return get_object_or_404(
        Article.objects.select_related(
            "category", "latest_revision__author", "published_revision__author", "owner"
        ),
        pk=pk,
    )


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# --- list ------------------------------------------------------------------------------------


@require_GET
@role_required()
def article_list(request: HttpRequest) -> HttpResponse:
    form = ArticleFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {
            "status": data["status"] or None,
            "query": data["q"].strip(),
            "visibility": data["visibility"] or None,
            "category": data["category"],
        }
    page = Paginator(selectors.article_list_for_editor(**filters), 50).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    counts = selectors.article_status_counts()
    return render(
        request,
        "knowledge/article_list.html",
        {
            "form": form,
            "page": page,
            "counts": counts,
            "total": sum(counts.values()),
            "statuses": ArticleStatus.choices,
            "querystring": query.urlencode(),
            "in_review": selectors.revisions_in_review().count(),
        },
    )


# --- create / edit ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required()
def article_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        data = request.POST
        form = ArticleForm(data)
        if form.is_valid():
            cd = form.cleaned_data
            submit = "save_submit" in data
            try:
                article = services.article_create(
                    title=cd["title"],
                    body=cd["body"],
                    author=request.user,
                    category=cd["category"],
                    new_category=cd["new_category"],
                    tag_names=cd["tags"],
                    visibility=cd["visibility"],
                    locale=cd["locale"],
                    summary=cd["summary"] or "Created",
                    submit=submit,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    "Article created and sent to review."
                    if submit
                    else "Article created as a draft.",
                )
                return redirect("knowledge:article_detail", pk=article.pk)
    else:
        form = ArticleForm(initial={"visibility": Audience.PUBLIC, "locale": "en"})
    return render(request, "knowledge/article_form.html", _form_context(form))


@require_http_methods(["GET", "POST"])
@role_required()
def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    article = _get_article(pk)
    latest = article.latest_revision
    ctx: dict[str, Any] = {"article": article}
    if request.method == "POST":
        data = request.POST
        form = ArticleForm(data)
        if form.is_valid():
            cd = form.cleaned_data
            submit = "save_submit" in data
            try:
                revision = services.article_edit(
                    article=article,
                    author=request.user,
                    base_revision_id=cd["base_revision_id"],
                    title=cd["title"],
                    body=cd["body"],
                    summary=cd["summary"],
                    category=cd["category"],
                    new_category=cd["new_category"],
                    tag_names=cd["tags"],
                    visibility=cd["visibility"],
                    locale=cd["locale"],
                    submit=submit,
                )
            except services.EditConflict as conflict:
                return _render_conflict(request, article, form, conflict)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if submit:
                    messages.success(request, "Saved and sent to review.")
                elif revision:
                    messages.success(request, f"Saved as revision {revision.number} (draft).")
                else:
                    messages.success(request, "Saved the article's settings.")
                return redirect("knowledge:article_detail", pk=article.pk)
    else:
        form = ArticleForm(
            initial={
                "title": latest.title if latest else article.title,
                "body": latest.body if latest else "",
                "category": article.category_id,
                "tags": ", ".join(t.name for t in article.tags.all()),
                "visibility": article.visibility,
                "locale": article.locale,
                "base_revision_id": article.latest_revision_id,
            }
        )
    ctx.update(_form_context(form))
    return render(request, "knowledge/article_form.html", ctx)


def _form_context(form: ArticleForm) -> dict[str, Any]:
    return {"form": form, "max_body_chars": knowledge_conf().max_article_body_chars}


def _render_conflict(
    request: HttpRequest, article: Article, form: ArticleForm, conflict: services.EditConflict
) -> HttpResponse:
    # Keep everything the user typed; move the base to the latest revision so a second save,
    # after they have merged, goes through deliberately.
    data = cast(QueryDict, form.data).copy()  # a bound form's data: request.POST
    data["base_revision_id"] = str(conflict.latest.pk) if conflict.latest else ""
    kept = ArticleForm(data)
    kept.is_valid()
    latest_body = conflict.latest.body if conflict.latest else ""
    rows = diff_lines(latest_body, conflict.body)
    return render(
        request,
        "knowledge/article_form.html",
        {
            "article": article,
            **_form_context(kept),
            "conflict": conflict,
            "conflict_diff": rows,
            "conflict_stats": diff_stats(rows),
        },
        status=409,
    )


@require_POST
@role_required()
def preview(request: HttpRequest) -> HttpResponse:
    body = request.POST.get("body", "")
    limit = knowledge_conf().max_article_body_chars
    if len(body) > limit:
        return HttpResponse(
            f'<p class="error">The body is {len(body):,} characters; the limit is {limit:,}.</p>'
        )
    return render(request, "knowledge/_preview.html", {"html": render_markdown(body)})


# --- detail and workflow ---------------------------------------------------------------------


@require_GET
@role_required()
def article_detail(request: HttpRequest, pk: int) -> HttpResponse:
    article = _get_article(pk)
    latest, published = article.latest_revision, article.published_revision
    shown = latest or published
    pending_diff = None
    if latest and published and latest.pk != published.pk:
        pending_diff = diff_lines(published.body, latest.body)
    return render(
        request,
        "knowledge/article_detail.html",
        {
            "article": article,
            "latest": latest,
            "published": published,
            "shown_html": services.revision_body_html(revision=shown) if shown else "",
            "pending_diff": pending_diff,
            "reject_form": RejectForm(),
            "can_submit": bool(
                latest and latest.state in (RevisionState.DRAFT, RevisionState.REJECTED)
            )
            and article.status != ArticleStatus.ARCHIVED,
            "can_publish": bool(latest and latest.state != RevisionState.PUBLISHED)
            and article.status != ArticleStatus.ARCHIVED,
            "can_reject": bool(latest and latest.state == RevisionState.IN_REVIEW),
            "audit": selectors.audit_for_article(article=article)[:10],
            "tags": list(article.tags.all()),
            "translations": selectors.article_translation_status(
                article=article, languages=list(knowledge_conf().languages)
            ),
            "source_article": article.translation_of,
        },
    )


@require_http_methods(["GET", "POST"])
@role_required()
def article_translate(request: HttpRequest, pk: int) -> HttpResponse:
    source = _get_article(pk)
    root = source.translation_of or source
    status = selectors.article_translation_status(
        article=root, languages=list(knowledge_conf().languages)
    )
    names = knowledge_conf().language_names
    open_languages = [(s["locale"], names.get(s["locale"], s["locale"])) for s in status]
    open_languages = [
        c for c, s in zip(open_languages, status, strict=True) if s["state"] == "missing"
    ]
    shown = root.published_revision or root.latest_revision
    if request.method == "POST":
        form = TranslationForm(request.POST, languages=open_languages)
        if form.is_valid():
            cd = form.cleaned_data
            try:
                article = translations.article_translation_create(
                    source=root,
                    locale=cd["locale"],
                    title=cd["title"],
                    body=cd["body"],
                    author=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Translation saved as a draft: send it to review.")
                return redirect("knowledge:article_detail", pk=article.pk)
    else:
        wanted = request.GET.get("locale", "")
        form = TranslationForm(
            initial={
                "locale": wanted,
                "title": shown.title if shown else root.title,
                "body": shown.body if shown else "",
            },
            languages=open_languages,
        )
    return render(
        request,
        "knowledge/article_translate.html",
        {"article": root, "form": form, "open_languages": open_languages},
    )


ACTIONS = {
    "submit": "Sent to review.",
    "publish": "Published: customers and search now see this revision.",
    "reject": "Sent back to the author with your note.",
    "archive": "Archived: removed from the portal and search.",
    "unarchive": "Brought back.",
}
REVIEWER_ACTIONS = {"publish", "reject", "archive", "unarchive"}


@require_POST
@role_required()
def article_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    article = _get_article(pk)
    if action not in ACTIONS:
        return render(
            request,
            "knowledge/404.html",
            {"explanation": f"There is no action {action!r}."},
            status=404,
        )
    if action in REVIEWER_ACTIONS and not roles.can_review(request.user):
        return forbidden(
            request,
            "Only reviewers and admins can publish, request changes, archive or unarchive. "
            "Submit the article for review instead.",
        )
    revision = None
    if action in ("submit", "publish", "reject"):
        rev_id = request.POST.get("revision") or article.latest_revision_id
        try:
            rev_pk = int(str(rev_id))  # None -> "None" -> ValueError
        except (TypeError, ValueError):
            return forbidden(request, "The revision to act on is missing or invalid.")
        revision = get_object_or_404(Revision.objects.select_related("article"), pk=rev_pk)
        if revision.article_id != article.pk:
            return forbidden(request, "That revision belongs to another article.")
    target = _safe_next(request, reverse("knowledge:article_detail", args=[article.pk]))
    try:
        if action == "submit":
            assert revision is not None  # loaded above for submit, publish and reject
            services.revision_submit(revision=revision, submitted_by=request.user)
        elif action == "publish":
            assert revision is not None
            services.revision_publish(revision=revision, published_by=request.user)
        elif action == "reject":
            form = RejectForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Say what needs to change: the note is required.")
                return HttpResponseRedirect(target)
            assert revision is not None
            services.revision_reject(
                revision=revision, reviewed_by=request.user, note=form.cleaned_data["note"]
            )
        elif action == "archive":
            services.article_archive(article=article, archived_by=request.user)
        else:
            services.article_unarchive(article=article, restored_by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(target)
    messages.success(request, ACTIONS[action])
    return HttpResponseRedirect(target)


REVIEW_QUEUE_PAGE_SIZE = 20


@require_GET
@reviewer_required
def review_queue(request: HttpRequest) -> HttpResponse:
    # Paginated: each item computes a diff, so one page bounds the work of one request.
    page = Paginator(
        selectors.revisions_in_review().select_related(
            "article__published_revision", "article__category", "author"
        ),
        REVIEW_QUEUE_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    items = []
    for revision in page.object_list:
        published = revision.article.published_revision
        base = published.body if published and published.pk != revision.pk else ""
        rows = diff_lines(base, revision.body)
        items.append(
            {"revision": revision, "published": published, "diff": rows, "stats": diff_stats(rows)}
        )
    return render(
        request,
        "knowledge/review_queue.html",
        {"items": items, "page": page, "reject_form": RejectForm()},
    )


# --- history and restore ---------------------------------------------------------------------


def _revision_number(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


@require_GET
@role_required()
def article_history(request: HttpRequest, pk: int) -> HttpResponse:
    article = _get_article(pk)
    revisions = list(article.revisions.select_related("author", "reviewed_by").order_by("-number"))
    by_number = {r.number: r for r in revisions}
    b_num = _revision_number(request.GET.get("b")) or (revisions[0].number if revisions else None)
    a_num = _revision_number(request.GET.get("a"))
    if a_num is None and b_num is not None:
        older = [r.number for r in revisions if r.number < b_num]
        a_num = older[0] if older else b_num
    for num in (a_num, b_num):
        if num is not None and num not in by_number:
            return render(
                request,
                "knowledge/404.html",
                {"explanation": f"Article {article.pk} has no revision {num}."},
                status=404,
            )
    rev_a = by_number.get(a_num) if a_num is not None else None
    rev_b = by_number.get(b_num) if b_num is not None else None
    rows = diff_lines(rev_a.body, rev_b.body) if rev_a and rev_b else []
    split = request.GET.get("view") == "split"
    split_rows = diff_split(rev_a.body, rev_b.body) if split and rev_a and rev_b else []
    title_changed = bool(rev_a and rev_b and rev_a.title != rev_b.title)
    return render(
        request,
        "knowledge/history.html",
        {
            "article": article,
            "revisions": revisions,
            "rev_a": rev_a,
            "rev_b": rev_b,
            "diff": rows,
            "split": split,
            "split_rows": split_rows,
            "stats": diff_stats(rows),
            "title_changed": title_changed,
        },
    )


@require_GET
@role_required()
def revision_detail(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    article = _get_article(pk)
    revision = get_object_or_404(article.revisions.select_related("author"), number=number)
    return render(
        request,
        "knowledge/revision_detail.html",
        {
            "article": article,
            "revision": revision,
            "html": services.revision_body_html(revision=revision),
        },
    )


@require_POST
@role_required()
def revision_restore(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    article = _get_article(pk)
    revision = get_object_or_404(article.revisions, number=number)
    new = services.revision_restore(revision=revision, restored_by=request.user)
    messages.success(
        request,
        f"Revision {revision.number} restored as new draft revision {new.number}. "
        "Submit it for review to publish it.",
    )
    return redirect("knowledge:article_history", pk=article.pk)


# --- audit -----------------------------------------------------------------------------------


@require_GET
@role_required()
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        cd = form.cleaned_data
        filters = {
            "article_id": cd["article"],
            "actor": cd["actor"].strip(),
            "action": cd["action"],
        }
    page = Paginator(selectors.audit_entries(**filters), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "knowledge/audit_log.html",
        {"form": form, "page": page, "querystring": query.urlencode()},
    )


# --- import / export -------------------------------------------------------------------------

MAX_IMPORT_UPLOAD_BYTES = 100 * 1024 * 1024


@require_http_methods(["GET", "POST"])
@role_required()
def import_articles(request: HttpRequest) -> HttpResponse:
    summary = None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            cd = form.cleaned_data
            upload = cd["file"]
            if cd["publish"] and not roles.can_review(request.user):
                form.add_error(
                    "publish", "Only reviewers and admins can publish: import as drafts instead."
                )
            elif upload.size > MAX_IMPORT_UPLOAD_BYTES:
                form.add_error("file", "The file is larger than 100 MB: split it.")
            else:
                summary = _run_import(request, form, upload)
    else:
        form = ImportForm()
    return render(request, "knowledge/import.html", {"form": form, "summary": summary})


def _run_import(request: HttpRequest, form: ImportForm, upload: Any) -> Any:
    cd = form.cleaned_data
    with tempfile.TemporaryDirectory(prefix="kb-import-") as tmp:
        try:
            path = importers.unpack_upload(upload.name, upload, Path(tmp))
            parsed = importers.parse_path(
                path, fmt=cd["format"], max_body_chars=knowledge_conf().max_article_body_chars
            )
        except importers.ImportFormatError as exc:
            form.add_error("file", str(exc))
            return None
        try:
            summary = import_services.articles_import(
                records=parsed.records,
                actor=request.user,
                publish=cd["publish"],
                default_visibility=cd["visibility"],
                default_category=cd["category"].strip(),
                source_name=f"upload {upload.name}",
                problems=[(p.source, p.reason) for p in parsed.problems],
                dry_run=cd["dry_run"],
            )
        except DatabaseError:
            logger.exception("import of %s failed", upload.name)
            form.add_error(None, "The database refused the import; nothing was imported.")
            return None
    if not summary.dry_run:
        messages.success(
            request,
            f"Imported {upload.name}: {summary.created} created, {summary.updated} updated.",
        )
    return summary


@require_GET
@role_required()
def export_articles(request: HttpRequest) -> HttpResponse:
    include_internal = request.GET.get("internal") == "1"
    rows = selectors.articles_for_export(include_internal=include_internal)
    body = "".join(importers.export_line(row) + "\n" for row in rows)
    response = HttpResponse(body, content_type="application/x-ndjson; charset=utf-8")
    name = "kb-export-all.jsonl" if include_internal else "kb-export-public.jsonl"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
