"""The embeddable widget: one script tag, a cookie-less frame, signed tokens for ownership."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST, require_safe

from support import ratelimit, responses, selectors, services, sse, thread_links
from support.models import Channel, Conversation, Interaction

AUDIENCE = selectors.PORTAL_AUDIENCE


@require_safe  # GET and HEAD
def widget_js(request: HttpRequest) -> HttpResponseBase:
    """The one-script-tag embed: static/js/widget.js, served with CORS so any site can load it."""
    path = Path(settings.BASE_DIR) / "static" / "js" / "widget.js"
    response = FileResponse(path.open("rb"), content_type="application/javascript; charset=utf-8")
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
            request.POST.get("token", ""), salt=sse.ANSWER_TOKEN_SALT, max_age=24 * 3600
        )
    except signing.BadSignature as exc:
        raise Http404("No such answer.") from exc
    if signed_pk != pk:
        raise Http404("No such answer.")
    return get_object_or_404(Interaction, pk=pk, audience=AUDIENCE, channel=Channel.WIDGET)


@csrf_exempt  # anonymous by design (no cookies in a third-party frame); rate-limited per IP
@require_POST
def widget_ask_stream(request: HttpRequest) -> HttpResponseBase:
    try:
        question = services.question_validate(request.POST.get("q"))
    except ValidationError as exc:
        return responses.json_error(exc.messages[0], 400)
    limited = ratelimit.check(request, scope="ask")
    if limited:
        return responses.too_many(request, limited)
    request.user = AnonymousUser()  # never act as a signed-in user from a cookie-less POST
    stream = services.ask_answer_stream(
        question=question,
        audience=AUDIENCE,
        channel=Channel.WIDGET,
        user=request.user,
        # No cookies in the frame: the client's keyed address stands in for a session, so
        # insights counts one client as one customer however many threads it starts.
        session_key=ratelimit.anonymous_client_key(request),
        conversation=_widget_thread(request.POST.get("thread", "")),
    )
    return sse.sse_response(
        sse.ask_event_stream(stream, public_filter=True, url_prefix="/widget", widget=True)
    )


def _widget_thread(token: str) -> Conversation | None:
    """The frame's stored thread token resumes its conversation; a bad one starts afresh."""
    if not token:
        return None
    try:
        conversation = thread_links.thread_from_token(token)
    except thread_links.ThreadLinkError:
        return None
    return conversation if conversation.channel == Channel.WIDGET else None


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
        return responses.json_error(exc.messages[0], 400)
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
        return responses.json_error(" ".join(exc.messages), 400)
    return HttpResponse(
        json.dumps(
            {
                "ok": True,
                "conversation_id": conversation.pk,
                "thread_url": f"/t/{thread_links.thread_link_token(conversation)}/",
            }
        ),
        content_type="application/json",
    )


@require_GET
def widget_demo(request: HttpRequest) -> HttpResponse:
    return render(request, "support/widget/demo.html")
