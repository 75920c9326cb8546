"""The customer's side of a conversation: "My requests", the private thread link, replies,
CSAT; and where each role lands after signing in."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from knowledge import roles
from support import presenters, selectors, thread_links, threads
from support.models import Conversation, Message


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    """After login: agents to the queue, editors to the editor, admins to insights."""
    nxt = request.GET.get("next", "")
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return redirect(nxt)
    user = request.user
    if not user.is_authenticated:
        return redirect("support:home")
    role = roles.role_name(user)
    if role == roles.ADMIN:
        return redirect("/insights/")
    if role in {roles.EDITOR, roles.REVIEWER}:
        return redirect("/editor/")
    if role == roles.AGENT:
        return redirect("support:agent_queue")
    if selectors.conversation_list_for_customer(user=user).exclude(status="bot").exists():
        return redirect("support:my_requests")
    return redirect("support:home")


@require_GET
@login_required
def my_requests(request: HttpRequest) -> HttpResponse:
    conversations = selectors.conversation_list_for_customer(user=request.user).exclude(
        status=Conversation.Status.BOT
    )
    return render(request, "support/portal/my_requests.html", {"conversations": conversations})


def _own_thread(request: HttpRequest, pk: int) -> Conversation:
    """A signed-in customer's own conversation; anyone else's is a 404 (never revealed)."""
    if not request.user.is_authenticated:
        raise Http404("No such request.")
    return get_object_or_404(selectors.conversation_list_for_customer(user=request.user), pk=pk)


@dataclass
class ThreadEntry:
    """One message as the customer's thread page shows it (model instances stay unpatched)."""

    message: Message
    answer_html: str = ""
    sources: list[dict] = field(default_factory=list)


def _thread_page(
    request: HttpRequest,
    conversation: Conversation,
    *,
    base: str,
    status: int = 200,
    **extra: object,
) -> HttpResponse:
    messages_list = []
    for m in selectors.thread_messages(conversation=conversation, staff=False):
        entry = ThreadEntry(message=m)
        if m.role == "bot" and m.interaction is not None:
            # The assistant's answer as the portal shows it: [k] links, public sources only.
            shown = presenters.interaction_context(m.interaction)
            entry.answer_html, entry.sources = shown["answer_html"], shown["sources"]
        messages_list.append(entry)
    context = {
        "conversation": conversation,
        "messages_list": messages_list,
        "base": base,
        "scores": threads.CSAT_SCORES,
        "can_rate": conversation.status == Conversation.Status.RESOLVED,
        "preselect": request.GET.get("score", ""),
        **extra,
    }
    return render(request, "support/portal/thread.html", context, status=status)


def _link_error(request: HttpRequest, exc: thread_links.ThreadLinkError) -> HttpResponse:
    return render(
        request, "support/portal/thread_link_error.html", {"message": str(exc)}, status=404
    )


def _reply(request: HttpRequest, conversation: Conversation, base: str) -> HttpResponse:
    try:
        threads.customer_reply(
            conversation=conversation, body=request.POST.get("body", ""), user=request.user
        )
    except ValidationError as exc:
        return _thread_page(
            request,
            conversation,
            base=base,
            status=400,
            error=" ".join(exc.messages),
            draft=request.POST.get("body", ""),
        )
    return redirect(base + "?sent=1")


def _rate(request: HttpRequest, conversation: Conversation, base: str) -> HttpResponse:
    try:
        threads.csat_submit(
            conversation=conversation,
            score=request.POST.get("score"),
            comment=request.POST.get("comment", ""),
        )
    except ValidationError as exc:
        return _thread_page(
            request, conversation, base=base, status=400, rate_error=" ".join(exc.messages)
        )
    return redirect(base + "?rated=1")


@require_GET
def my_request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _own_thread(request, pk)
    return _thread_page(request, conversation, base=f"/requests/{pk}/")


@require_POST
def my_request_reply(request: HttpRequest, pk: int) -> HttpResponse:
    return _reply(request, _own_thread(request, pk), f"/requests/{pk}/")


@require_http_methods(["GET", "POST"])
def my_request_rate(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _own_thread(request, pk)
    if request.method == "GET":  # the e-mail's one-click link: confirm (GET never writes)
        return _thread_page(request, conversation, base=f"/requests/{pk}/")
    return _rate(request, conversation, f"/requests/{pk}/")


def _token_thread(token: str) -> Conversation:
    return thread_links.thread_from_token(token)


@require_GET
def thread_by_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        conversation = _token_thread(token)
    except thread_links.ThreadLinkError as exc:
        return _link_error(request, exc)
    return _thread_page(request, conversation, base=f"/t/{token}/")


@require_POST
def thread_by_link_reply(request: HttpRequest, token: str) -> HttpResponse:
    try:
        conversation = _token_thread(token)
    except thread_links.ThreadLinkError as exc:
        return _link_error(request, exc)
    return _reply(request, conversation, f"/t/{token}/")


@require_http_methods(["GET", "POST"])
def thread_by_link_rate(request: HttpRequest, token: str) -> HttpResponse:
    try:
        conversation = _token_thread(token)
    except thread_links.ThreadLinkError as exc:
        return _link_error(request, exc)
    if request.method == "GET":
        return _thread_page(request, conversation, base=f"/t/{token}/")
    return _rate(request, conversation, f"/t/{token}/")
