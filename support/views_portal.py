"""Customer portal and embeddable widget: only published PUBLIC content, whoever is signed in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from knowledge.audience import Audience
from knowledge.models import Category
from retrieval import services as retrieval
from support import presenters, ratelimit, responses, selectors, services, sse, thread_links
from support.models import Channel, Conversation, Interaction
from support.responses import requested_by_this_site

logger = logging.getLogger(__name__)

AUDIENCE = selectors.PORTAL_AUDIENCE  # the portal never sees internal content, even for staff
SEARCH_PAGE_SIZE = 10
SEARCH_MAX_RESULTS = 50
MAX_QUERY_CHARS = 500
THREAD_SESSION_KEY = "support_thread"


class _LazySnippet:
    """A result's cleaned snippet, built when the template shows it (templates call callables).

    A search page shows 10 of up to 50 results; highlighting and sanitizing all 50 was a
    quarter of the cost of a search.
    """

    def __init__(self, text: str, query: str) -> None:
        self._text, self._query = text, query
        self._html: SafeString | None = None

    def __call__(self) -> SafeString:
        if self._html is None:
            self._html = presenters.snippet_clean(retrieval.snippet_html(self._text, self._query))
        return self._html


def _search(query: str, *, channel: str, record: bool = True) -> list[dict]:
    result = retrieval.search(query, audience=AUDIENCE, top_k=SEARCH_MAX_RESULTS, snippets=False)
    hits = [h for h in result.hits if h.visibility == Audience.PUBLIC]
    allowed = presenters.public_article_ids({h.article_id for h in hits})
    hits = [h for h in hits if h.article_id in allowed]
    if record:
        services.search_log_record(query=query, audience=AUDIENCE, channel=channel, hits=hits)
    return [
        {
            "article_id": h.article_id,
            "title": h.title,
            "slug": h.slug,
            "score": h.score,
            "snippet": _LazySnippet(h.chunks[0].text if h.chunks else "", result.query),
            "heading": h.chunks[0].heading_path if h.chunks else "",
        }
        for h in hits
    ]


# --- Pages ------------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "support/portal/home.html",
        {
            "categories": selectors.portal_categories(),
            "popular": selectors.popular_articles(limit=8),
        },
    )


@require_GET
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(Category, slug=slug)
    articles = selectors.portal_articles().filter(category=category).order_by("title")
    if not articles.exists():  # internal-only (or empty) categories are not the portal's
        raise Http404("No category here.")
    page = Paginator(articles, 20).get_page(request.GET.get("page"))
    return render(request, "support/portal/category.html", {"category": category, "page_obj": page})


@require_GET
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    # 404 (not 403) for internal, draft or archived articles: the portal does not reveal them.
    article = selectors.portal_articles().filter(slug=slug).first()
    if article is None:
        from knowledge.selectors import article_current_slug

        moved = article_current_slug(old_slug=slug, audience=selectors.PORTAL_AUDIENCE)
        if moved:  # published under an earlier title: the old URL keeps working
            return redirect("support:article", slug=moved, permanent=True)
        raise Http404("No article here.")
    from knowledge.selectors import article_language_versions
    from knowledge.services import revision_body_html

    # One article in several languages: the customer's language version when there is one,
    # unless they picked a version with the switcher (?lang=).
    versions = article_language_versions(article=article, audience=AUDIENCE)
    wanted = (getattr(request, "LANGUAGE_CODE", "") or "").split("-")[0]
    chosen = request.GET.get("lang", "")
    if not chosen and wanted != article.locale and wanted in versions:
        target = versions[wanted]
        return redirect(f"{reverse('support:article', args=[target.slug])}?lang={wanted}")
    revision = article.published_revision
    if revision is None:  # a published article always has one; never a 500 if not
        raise Http404("No article here.")
    if requested_by_this_site(request):
        services.article_view_record(article=article)
    names = dict(settings.LANGUAGES)
    return render(
        request,
        "support/portal/article.html",
        {
            "article": article,
            "revision": revision,
            "body_html": mark_safe(revision_body_html(revision=revision)),  # sanitized at save
            "related": _related_articles(article),
            "voted": request.GET.get("voted", ""),
            "language_versions": [
                {
                    "locale": code,
                    "name": names.get(code, code),
                    "url": f"{reverse('support:article', args=[a.slug])}?lang={code}",
                    "current": a.pk == article.pk,
                }
                for code, a in sorted(versions.items())
            ]
            if len(versions) > 1
            else [],
        },
    )


def _related_articles(article, limit: int = 5) -> list:
    """Nearest public articles by meaning (the index's own search), not alphabetical."""
    try:
        result = retrieval.search(
            f"{article.title}\n{article.published_revision.body[:500]}",
            audience=AUDIENCE,
            top_k=limit + 3,
            snippets=False,
        )
        ids = [h.article_id for h in result.hits if h.article_id != article.pk]
    except Exception:  # no index yet: same category instead
        logger.warning("related articles: search failed for article %s", article.pk)
        ids = []
    by_id = selectors.portal_articles().in_bulk(ids)
    related = [by_id[i] for i in dict.fromkeys(ids) if i in by_id][:limit]
    if not related and article.category_id:
        related = list(
            selectors.portal_articles()
            .filter(category=article.category)
            .exclude(pk=article.pk)
            .order_by("title")[:limit]
        )
    return related


@require_POST
def article_feedback(request: HttpRequest, slug: str) -> HttpResponse:
    """ "Was this article helpful?": one vote per session (a second one updates it)."""
    article = get_object_or_404(selectors.portal_articles(), slug=slug)
    helpful = {"yes": True, "no": False}.get(request.POST.get("helpful", ""))
    if helpful is None:
        return HttpResponse("Choose yes or no.", status=400)
    services.article_feedback_record(
        article=article,
        helpful=helpful,
        user=request.user,
        session_key=responses.session_key(request),
    )
    return redirect(f"/articles/{article.slug}/?voted={'yes' if helpful else 'no'}")


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = (request.GET.get("q") or "").strip()
    fragment = bool(request.headers.get("HX-Request"))
    context: dict = {"q": query, "error": ""}
    if len(query) > MAX_QUERY_CHARS:
        context["error"] = f"The search is too long (limit {MAX_QUERY_CHARS} characters)."
        query = ""
    if query:
        limited = ratelimit.check(request, scope="search")
        if limited:
            return responses.too_many(request, limited, fragment=fragment)
        channel = Channel.WIDGET if request.GET.get("channel") == "widget" else Channel.PORTAL
        results = _search(query, channel=channel, record=requested_by_this_site(request))
        context["page_obj"] = Paginator(results, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
        context["total"] = len(results)
        context["capped"] = len(results) >= SEARCH_MAX_RESULTS
    template = "support/portal/_search_results.html" if fragment else "support/portal/search.html"
    return render(request, template, context, status=400 if context["error"] else 200)


def _interaction_for_client(request: HttpRequest, pk: int) -> Interaction:
    """Only the session (or signed-in user) that asked may see, rate or escalate an answer."""
    interaction = get_object_or_404(Interaction, pk=pk, audience=AUDIENCE)
    same_user = request.user.is_authenticated and interaction.user_id == request.user.pk
    same_session = bool(interaction.session_key) and (
        interaction.session_key == request.session.session_key
    )
    if not (same_user or same_session):
        raise Http404("No such answer.")
    return interaction


@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest) -> HttpResponse:
    """Without JavaScript: POST the question, get the whole answer server-side."""
    widget = request.GET.get("channel") == "widget" or request.POST.get("channel") == "widget"
    template = "support/widget/frame.html" if widget else "support/portal/ask.html"
    if request.method == "GET":
        return render(request, template, {"q": request.GET.get("q", "")})
    try:
        question = services.question_validate(request.POST.get("q"))
    except ValidationError as exc:
        return render(
            request,
            template,
            {"q": request.POST.get("q", ""), "error": exc.messages[0]},
            status=400,
        )
    session_key = responses.session_key(request)  # before the limit check: the bucket uses it
    limited = ratelimit.check(request, scope="ask")
    if limited:
        return responses.too_many(request, limited)
    result = services.ask_answer(
        question=question,
        audience=AUDIENCE,
        channel=Channel.WIDGET if widget else Channel.PORTAL,
        user=request.user,
        session_key=session_key,
        conversation=None if widget else _session_thread(request),
    )
    interaction = result.interaction
    if not widget and result.conversation is not None:
        request.session[THREAD_SESSION_KEY] = result.conversation.pk
    data = presenters.answer_for_portal(result.answer)
    # The citations stored on the interaction are the answer's: reuse the visibility check.
    checked_public = {c["article_id"] for c in data["citations"]}
    response = render(
        request,
        template,
        {
            "q": question,
            **presenters.interaction_context(interaction, checked_public),
            "nearest": data["nearest_articles"],
            "link_target": "_blank" if widget else "",
        },
    )
    if widget:
        response.xframe_options_exempt = True
    return response


@require_POST
def ask_stream(request: HttpRequest) -> HttpResponseBase:
    """The streamed answer (fetch + SSE): meta, token..., done (with the recorded id)."""
    try:
        question = services.question_validate(request.POST.get("q"))
    except ValidationError as exc:
        return HttpResponse(
            json.dumps({"error": {"code": "invalid", "message": exc.messages[0], "fields": {}}}),
            status=400,
            content_type="application/json",
        )
    session_key = responses.session_key(request)
    limited = ratelimit.check(request, scope="ask")
    if limited:
        return responses.too_many(request, limited)
    if request.POST.get("new") == "1":
        request.session.pop(THREAD_SESSION_KEY, None)
    thread = _session_thread(request)
    stream = services.ask_answer_stream(
        question=question,
        audience=AUDIENCE,
        channel=Channel.PORTAL,
        user=request.user,
        session_key=session_key,
        conversation=thread,
    )
    return sse.sse_response(
        _remember_thread(request, sse.ask_event_stream(stream, public_filter=True))
    )


def _session_thread(request: HttpRequest) -> Conversation | None:
    """The portal's current bot thread: this session's (or signed-in customer's) own."""
    pk = request.session.get(THREAD_SESSION_KEY)
    if not isinstance(pk, int):
        return None
    conversation = (
        Conversation.objects.filter(pk=pk).exclude(status=Conversation.Status.RESOLVED).first()
    )
    if conversation is None:
        return None
    mine = (request.user.is_authenticated and conversation.customer_id == request.user.pk) or (
        conversation.customer_id is None and conversation.session_key == request.session.session_key
    )
    return conversation if mine else None


def _remember_thread(request: HttpRequest, events: Iterator[str]) -> Iterator[str]:
    """Keep the thread in the session once the answer is recorded (follow-ups join it)."""
    try:
        for event in events:
            if event.startswith("event: done"):
                data = json.loads(event.split("data: ", 1)[1])
                if data.get("conversation_id"):
                    request.session[THREAD_SESSION_KEY] = data["conversation_id"]
                    request.session.save()
            yield event
    except GeneratorExit:
        events.close()  # type: ignore[attr-defined]
        raise


@require_GET
def answer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    interaction = _interaction_for_client(request, pk)
    return render(
        request,
        "support/portal/ask.html",
        {"q": interaction.question, **presenters.interaction_context(interaction)},
    )


@require_POST
def answer_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    interaction = _interaction_for_client(request, pk)
    raw = request.POST.get("helpful")
    helpful = {"yes": True, "no": False}.get(raw or "")
    wants_json = responses.wants_json(request)
    if helpful is None and not request.POST.get("comment"):
        if wants_json:
            return responses.json_error("Choose yes or no.", 400)
        return HttpResponse("Choose yes or no.", status=400)
    try:
        feedback = services.feedback_submit(
            interaction=interaction,
            helpful=helpful,
            comment=request.POST.get("comment", ""),
            user=request.user,
        )
    except ValidationError as exc:
        if wants_json:
            return responses.json_error(exc.messages[0], 400)
        return HttpResponse(escape(exc.messages[0]), status=400)
    if wants_json:
        return HttpResponse(
            json.dumps({"ok": True, "id": feedback.pk}), content_type="application/json"
        )
    if request.headers.get("HX-Request"):
        return render(
            request,
            "support/portal/_feedback_thanks.html",
            {"interaction": interaction, "helpful": helpful},
        )
    return redirect(f"/ask/{interaction.pk}/?feedback=thanks")


@require_http_methods(["GET", "POST"])
def answer_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    interaction = _interaction_for_client(request, pk)
    user = request.user
    initial = {
        "name": (user.get_full_name() or user.get_username()) if user.is_authenticated else "",
        "email": user.email if user.is_authenticated else "",
        "note": "",
    }
    fragment = bool(request.headers.get("HX-Request"))
    template = "support/portal/_escalate_form.html" if fragment else "support/portal/escalate.html"
    if request.method == "GET":
        return render(request, template, {"interaction": interaction, "form": initial})
    form = {k: request.POST.get(k, "") for k in ("name", "email", "note")}
    try:
        conversation = services.conversation_escalate(
            interaction=interaction,
            name=form["name"],
            email=form["email"],
            note=form["note"],
            user=user,
        )
    except ValidationError as exc:
        if responses.wants_json(request):
            return responses.json_error(" ".join(exc.messages), 400)
        return render(
            request,
            template,
            {"interaction": interaction, "form": form, "error": " ".join(exc.messages)},
            status=400,
        )
    if responses.wants_json(request):
        return HttpResponse(
            json.dumps(
                {
                    "ok": True,
                    "conversation_id": conversation.pk,
                    "thread_url": f"/requests/{conversation.pk}/"
                    if conversation.customer_id
                    else f"/t/{thread_links.thread_link_token(conversation)}/",
                }
            ),
            content_type="application/json",
        )
    return render(
        request,
        "support/portal/_escalated.html" if fragment else "support/portal/escalated.html",
        {"interaction": interaction, "conversation": conversation},
    )
