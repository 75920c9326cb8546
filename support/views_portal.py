"""Customer portal and embeddable widget: only published PUBLIC content, whoever is signed in."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import nh3
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from generation import services as generation
from generation.types import Answer
from knowledge.models import Category
from retrieval import services as retrieval
from support import ratelimit, selectors, services
from support.models import Channel, Interaction

logger = logging.getLogger(__name__)

AUDIENCE = selectors.PORTAL_AUDIENCE  # the portal never sees internal content, even for staff
SEARCH_PAGE_SIZE = 10
SEARCH_MAX_RESULTS = 50
MAX_QUERY_CHARS = 500
ANSWER_TOKEN_SALT = "support.answer"


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key or ""


def _too_many(request: HttpRequest, limited: ratelimit.Limited, *, fragment: bool = False):
    if fragment or request.headers.get("HX-Request"):
        response = HttpResponse(
            f'<p class="error" role="alert">{escape(limited.message)}</p>', status=429
        )
    elif "text/event-stream" in request.headers.get("Accept", "") or request.path.endswith(
        "/stream/"
    ):
        response = HttpResponse(
            json.dumps({"error": {"code": "throttled", "message": limited.message}}),
            status=429,
            content_type="application/json",
        )
    else:
        response = render(
            request, "support/portal/rate_limited.html", {"limited": limited}, status=429
        )
    response["Retry-After"] = str(limited.retry_after)
    return response


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def snippet_clean(html: str) -> SafeString:
    """Search snippets come as HTML with <mark>: keep only that."""
    # Chunks are Markdown source: drop emphasis/code markers so snippets read as prose.
    text = _MD_MARKERS.sub("", html or "")
    return mark_safe(nh3.clean(text, tags={"mark"}, attributes={}))


_CITE_RE = re.compile(r"\[(\d{1,3})\]")
_MD_MARKERS = re.compile(r"\*\*|__|`|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")
_STRONG_RE = re.compile(r"\*\*(\S(?:[^*\n]*?\S)?)\*\*")
_EM_RE = re.compile(r"(?<![\w*])\*(\S(?:[^*\n]*?\S)?)\*(?![\w*])")


def answer_html(text: str, numbers: set[int]) -> SafeString:
    """Escape the answer and turn [k] markers into links to the k-th source."""
    escaped = str(escape(text or ""))

    def link(match: re.Match) -> str:
        k = int(match.group(1))
        if k in numbers:
            return f'<a class="cite" href="#source-{k}" aria-label="source {k}">[{k}]</a>'
        return ""

    html = _CITE_RE.sub(link, escaped)
    # Answers quote Markdown sources: show **bold** and *emphasis* as such, not as asterisks.
    html = _STRONG_RE.sub(r"<strong>\1</strong>", html)
    html = _EM_RE.sub(r"<em>\1</em>", html)
    paragraphs = [p.strip() for p in html.split("\n\n") if p.strip()]
    return mark_safe("".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs))


def group_sources(citations: list[dict]) -> list[dict]:
    """One chip per cited article, carrying every [k] that points into it (first-cited first)."""
    by_article: dict[int, dict] = {}
    for c in citations:
        entry = by_article.setdefault(
            c["article_id"],
            {
                "article_id": c["article_id"],
                "title": c.get("title", ""),
                "slug": c.get("slug", ""),
                "url": c.get("url") or f"/articles/{c.get('slug')}/",
                "numbers": [],
            },
        )
        entry["numbers"].append(c["number"])
    return list(by_article.values())


def _public_article_ids(ids: set[int]) -> set[int]:
    return set(selectors.portal_articles().filter(pk__in=ids).values_list("pk", flat=True))


# How an answer was made (which backend and model, prompt version, why the LLM was skipped,
# token counts) is for staff and the interaction log, not for customers.
ANSWER_FIELDS_NOT_PUBLIC = (
    "backend", "model", "prompt_version", "fallback_reason", "prompt_tokens",
    "completion_tokens", "retrieval_confidence",
)  # fmt: skip


def answer_for_portal(answer: Answer) -> dict:
    """The answer as the portal shows it; citations to anything not public are dropped."""
    data = answer.to_dict()
    for name in ANSWER_FIELDS_NOT_PUBLIC:
        data.pop(name, None)
    cited = {c["article_id"] for c in data["citations"]}
    for n in data.get("nearest_articles") or []:
        n.setdefault("article_id", n.get("id"))  # generation names it "id"
    nearest = {n.get("article_id") for n in data.get("nearest_articles") or []}
    allowed = _public_article_ids({i for i in cited | nearest if i})
    if cited - allowed:
        logger.error("portal answer cited non-public articles %s: dropped", cited - allowed)
    data["citations"] = [c for c in data["citations"] if c["article_id"] in allowed]
    data["nearest_articles"] = [
        n for n in data.get("nearest_articles") or [] if n.get("article_id") in allowed
    ]
    for c in data["citations"]:
        c["url"] = f"/articles/{c['slug']}/"
    for n in data["nearest_articles"]:
        n["url"] = f"/articles/{n.get('slug')}/"
    data["html"] = str(answer_html(data["text"], {c["number"] for c in data["citations"]}))
    data["sources"] = group_sources(data["citations"])
    return data


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
            self._html = snippet_clean(retrieval.snippet_html(self._text, self._query))
        return self._html


def requested_by_this_site(request: HttpRequest) -> bool:
    """False for a GET another site made the browser send (an <img>, a hidden frame).

    View counts and search logs are written on GET; only requests from this site, typed
    or bookmarked URLs, a user's own click from elsewhere, or non-browser clients (no
    Sec-Fetch headers) count, so another site cannot drive them.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is None or site in ("same-origin", "none"):
        return True
    return request.headers.get("Sec-Fetch-Mode") == "navigate" and (
        request.headers.get("Sec-Fetch-User") == "?1"
    )


def _search(query: str, *, channel: str, record: bool = True) -> list[dict]:
    result = retrieval.search(query, audience=AUDIENCE, top_k=SEARCH_MAX_RESULTS, snippets=False)
    hits = [h for h in result.hits if h.visibility == "public"]
    allowed = _public_article_ids({h.article_id for h in hits})
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
    from knowledge.services import revision_body_html

    revision = article.published_revision
    if requested_by_this_site(request):
        services.article_view_record(article=article)
    related = (
        selectors.portal_articles()
        .filter(category=article.category)
        .exclude(pk=article.pk)
        .order_by("title")[:5]
        if article.category_id
        else []
    )
    return render(
        request,
        "support/portal/article.html",
        {
            "article": article,
            "revision": revision,
            "body_html": mark_safe(revision_body_html(revision=revision)),  # sanitized at save
            "related": related,
        },
    )


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
            return _too_many(request, limited, fragment=fragment)
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


def _interaction_context(interaction: Interaction, public: set[int] | None = None) -> dict:
    """What the answer templates show; `public` is the checked public article ids, if known."""
    if public is None:
        public = _public_article_ids({c.get("article_id") for c in interaction.citations})
    citations = [
        {**c, "url": f"/articles/{c.get('slug')}/"}
        for c in interaction.citations
        if c.get("article_id") in public
    ]
    return {
        "interaction": interaction,
        "answer_html": answer_html(interaction.answer_text, {c["number"] for c in citations}),
        "citations": citations,
        "sources": group_sources(citations),
    }


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
    session_key = _session_key(request)  # before the limit check: the bucket uses it
    limited = ratelimit.check(request, scope="ask")
    if limited:
        return _too_many(request, limited)
    answer = generation.answer_question(question, audience=AUDIENCE)
    interaction = services.interaction_record(
        answer=answer,
        channel=Channel.WIDGET if widget else Channel.PORTAL,
        user=request.user,
        session_key=session_key,
        audience=AUDIENCE,
    )
    data = answer_for_portal(answer)
    # The citations stored on the interaction are the answer's: reuse the visibility check.
    checked_public = {c["article_id"] for c in data["citations"]}
    response = render(
        request,
        template,
        {
            "q": question,
            **_interaction_context(interaction, checked_public),
            "nearest": data["nearest_articles"],
            "link_target": "_blank" if widget else "",
        },
    )
    if widget:
        response.xframe_options_exempt = True
    return response


def sse_event(event: str, data: dict) -> str:
    """One server-sent event; JSON on a single data line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def answer_event_stream(
    request: HttpRequest,
    *,
    question: str,
    audience: str,
    channel: str,
    session_key: str,
    public_filter: bool,
) -> Iterator[str]:
    """Generation's events as SSE; records the Interaction when the answer is done.

    A client that hangs up mid-answer still leaves its question on record (marked
    `client_disconnected`): the question was asked, and insights should see it.
    """
    user = request.user
    prefix = "/widget" if channel == Channel.WIDGET else ""
    events = generation.answer_question_stream(question, audience=audience)
    recorded = False
    try:
        for event in events:
            if event.type == "meta":
                hits = event.data.get("hits") or []
                if public_filter:
                    allowed = _public_article_ids({h.get("article_id") for h in hits})
                    hits = [h for h in hits if h.get("article_id") in allowed]
                yield sse_event(
                    "meta",
                    {
                        "hits": [
                            {
                                "article_id": h.get("article_id"),
                                "title": h.get("title"),
                                "slug": h.get("slug"),
                                "score": h.get("score"),
                            }
                            for h in hits
                        ]
                    },
                )
            elif event.type == "token":
                token = {"text": event.data.get("text", "")}
                if event.data.get("reset"):
                    # The LLM stream broke after some text was shown: the client clears it
                    # and the extractive answer follows.
                    token["reset"] = True
                yield sse_event("token", token)
            elif event.type == "done":
                answer = generation.answer_from_dict(event.data["answer"])
                interaction = services.interaction_record(
                    answer=answer,
                    channel=channel,
                    user=user,
                    session_key=session_key,
                    audience=audience,
                )
                recorded = True
                data = answer_for_portal(answer) if public_filter else answer.to_dict()
                data.pop("hits", None)
                yield sse_event(
                    "done",
                    {
                        "answer": data,
                        "interaction_id": interaction.pk,
                        "feedback_url": f"{prefix}/ask/{interaction.pk}/feedback/",
                        "escalate_url": f"{prefix}/ask/{interaction.pk}/escalate/",
                        "token": signing.dumps(interaction.pk, salt=ANSWER_TOKEN_SALT),
                    },
                )
            elif event.type == "error":
                yield sse_event("error", {"message": str(event.data.get("message", "Error"))})
    except GeneratorExit:
        events.close()  # stop generating (and stop the LLM) for a client that is gone
        if not recorded:
            services.interaction_record(
                answer=Answer(
                    question=question, text="", backend="", fallback_reason="client_disconnected"
                ),
                channel=channel,
                user=user,
                session_key=session_key,
                audience=audience,
            )
        raise
    except Exception:  # the stream has started: report in-band, never a half-open response
        logger.exception("answer stream failed")
        yield sse_event(
            "error", {"message": "Sorry, something went wrong while answering. Please retry."}
        )


def sse_response(stream: Iterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


@require_POST
def ask_stream(request: HttpRequest) -> HttpResponse:
    """The streamed answer (fetch + SSE): meta, token..., done (with the recorded id)."""
    try:
        question = services.question_validate(request.POST.get("q"))
    except ValidationError as exc:
        return HttpResponse(
            json.dumps({"error": {"code": "invalid", "message": exc.messages[0], "fields": {}}}),
            status=400,
            content_type="application/json",
        )
    session_key = _session_key(request)
    limited = ratelimit.check(request, scope="ask")
    if limited:
        return _too_many(request, limited)
    channel = Channel.WIDGET if request.POST.get("channel") == "widget" else Channel.PORTAL
    return sse_response(
        answer_event_stream(
            request,
            question=question,
            audience=AUDIENCE,
            channel=channel,
            session_key=session_key,
            public_filter=True,
        )
    )


@require_GET
def answer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    interaction = _interaction_for_client(request, pk)
    return render(
        request,
        "support/portal/ask.html",
        {"q": interaction.question, **_interaction_context(interaction)},
    )


@require_POST
def answer_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    interaction = _interaction_for_client(request, pk)
    raw = request.POST.get("helpful")
    helpful = {"yes": True, "no": False}.get(raw or "")
    wants_json = _wants_json(request)
    if helpful is None and not request.POST.get("comment"):
        if wants_json:
            return _json_error("Choose yes or no.", 400)
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
            return _json_error(exc.messages[0], 400)
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
        if _wants_json(request):
            return _json_error(" ".join(exc.messages), 400)
        return render(
            request,
            template,
            {"interaction": interaction, "form": form, "error": " ".join(exc.messages)},
            status=400,
        )
    if _wants_json(request):
        return HttpResponse(
            json.dumps({"ok": True, "conversation_id": conversation.pk}),
            content_type="application/json",
        )
    return render(
        request,
        "support/portal/_escalated.html" if fragment else "support/portal/escalated.html",
        {"interaction": interaction, "conversation": conversation},
    )


# --- Widget -------------------------------------------------------------------------------


@require_GET
def widget_js(request: HttpRequest) -> HttpResponse:
    """The one-script-tag embed: static/js/widget.js, served with CORS so any site can load it."""
    path = Path(settings.BASE_DIR) / "static" / "js" / "widget.js"
    response = FileResponse(path.open("rb"), content_type="application/javascript")
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
@xframe_options_exempt  # the frame is made to be embedded on customer sites
def widget_frame(request: HttpRequest) -> HttpResponse:
    return render(request, "support/widget/frame.html", {"q": ""})


def _widget_interaction(request: HttpRequest, pk: int) -> Interaction:
    """Cross-site frames get no cookies: the signed token from the stream proves ownership."""
    try:
        signed_pk = signing.loads(
            request.POST.get("token", ""), salt=ANSWER_TOKEN_SALT, max_age=24 * 3600
        )
    except signing.BadSignature as exc:
        raise Http404("No such answer.") from exc
    if signed_pk != pk:
        raise Http404("No such answer.")
    return get_object_or_404(Interaction, pk=pk, audience=AUDIENCE, channel=Channel.WIDGET)


def _json_error(message: str, status: int, code: str = "invalid") -> HttpResponse:
    return HttpResponse(
        json.dumps({"error": {"code": code, "message": message, "fields": {}}}),
        status=status,
        content_type="application/json",
    )


@csrf_exempt  # anonymous by design (no cookies in a third-party frame); rate-limited per IP
@require_POST
def widget_ask_stream(request: HttpRequest) -> HttpResponse:
    try:
        question = services.question_validate(request.POST.get("q"))
    except ValidationError as exc:
        return _json_error(exc.messages[0], 400)
    limited = ratelimit.check(request, scope="ask")
    if limited:
        return _too_many(request, limited)
    request.user = AnonymousUser()  # never act as a signed-in user from a cookie-less POST
    return sse_response(
        answer_event_stream(
            request,
            question=question,
            audience=AUDIENCE,
            channel=Channel.WIDGET,
            session_key="",
            public_filter=True,
        )
    )


@csrf_exempt
@require_POST
def widget_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    interaction = _widget_interaction(request, pk)
    helpful = {"yes": True, "no": False}.get(request.POST.get("helpful", ""))
    try:
        services.feedback_submit(
            interaction=interaction, helpful=helpful, comment=request.POST.get("comment", "")
        )
    except ValidationError as exc:
        return _json_error(exc.messages[0], 400)
    return HttpResponse(json.dumps({"ok": True}), content_type="application/json")


@csrf_exempt
@require_POST
def widget_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    interaction = _widget_interaction(request, pk)
    try:
        conversation = services.conversation_escalate(
            interaction=interaction,
            name=request.POST.get("name", ""),
            email=request.POST.get("email", ""),
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        return _json_error(" ".join(exc.messages), 400)
    return HttpResponse(
        json.dumps({"ok": True, "conversation_id": conversation.pk}),
        content_type="application/json",
    )


@require_GET
def widget_demo(request: HttpRequest) -> HttpResponse:
    return render(request, "support/widget/demo.html")
