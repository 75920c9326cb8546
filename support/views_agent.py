"""Agent assist: the conversation queue, suggested replies from the KB, related articles, flags."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from generation import services as generation
from knowledge.access import agent_required
from knowledge.audience import Audience
from knowledge.models import Article
from knowledge.selectors import article_list_for_audience
from retrieval import services as retrieval
from support import selectors, services, thread_links, thread_triage, threads, triage_store
from support.models import ArticleFlag, Channel, Conversation, Interaction, Message, Priority
from support.presenters import answer_html, group_sources, snippet_clean

logger = logging.getLogger(__name__)

AUDIENCE = Audience.INTERNAL  # agents may read internal articles (they never send internal links)


PRIORITY_FILTERS = [("", "Any")] + [(str(v), label) for v, label in Priority.choices]
SLA_FILTERS = [
    ("", "Any"),
    (selectors.SLA_BREACHED, "Breached"),
    (selectors.SLA_ON_TRACK, "On track"),
]
SORTS = [(selectors.SORT_PRIORITY, "Priority"), (selectors.SORT_RECENT, "Recent activity")]


@require_GET
@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    # Opens on what needs an agent now, by priority: a safety message is on top by itself.
    status = request.GET.get("status", selectors.QUEUE_NEEDS_ACTION)
    scope = request.GET.get("scope", "")
    intents = triage_store.intents()
    intent = request.GET.get("intent", "")
    intent = intent if intent in intents else ""
    priority_raw = request.GET.get("priority", "")
    priority = int(priority_raw) if priority_raw in {str(v) for v in Priority.values} else None
    sla = request.GET.get("sla", "")
    sla = sla if sla in {v for v, _ in SLA_FILTERS} else ""
    sort = request.GET.get("sort", selectors.SORT_PRIORITY)
    sort = sort if sort in {v for v, _ in SORTS} else selectors.SORT_PRIORITY
    now = timezone.now()
    qs = selectors.conversation_queue(
        user=request.user,
        status=status,
        scope=scope,
        intent=intent,
        priority=priority,
        sla=sla,
        sort=sort,
        now=now,
    )
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    rows = [
        (c, selectors.conversation_sla(conversation=c, now=now), intents.get(c.intent, ("", 0))[0])
        for c in page.object_list
    ]
    filters = request.GET.copy()
    filters.pop("page", None)
    return render(
        request,
        "support/agent/queue.html",
        {
            "page_obj": page,
            "rows": rows,
            "status": status,
            "scope": scope,
            "intent": intent,
            "priority": "" if priority is None else str(priority),
            "sla": sla,
            "sort": sort,
            "filters_query": filters.urlencode(),
            "statuses": [
                (selectors.QUEUE_NEEDS_ACTION, "Needs action"),
                *[(v, lbl) for v, lbl in Conversation.Status.choices if v != "bot"],
                ("all", "All handed off"),
                ("bot", "With the assistant"),
            ],
            "intents": [("", "Any")] + [(name, label) for name, (label, _) in intents.items()],
            "priorities": PRIORITY_FILTERS,
            "sla_filters": SLA_FILTERS,
            "sorts": SORTS,
            "csat": selectors.agent_csat(agent=request.user),
            "scopes": [("", "Everyone"), ("mine", "Mine"), ("unassigned", "Unassigned")],
        },
    )


def _conversation(pk: int) -> Conversation:
    return get_object_or_404(
        Conversation.objects.select_related("assigned_to", "source_interaction"), pk=pk
    )


def _conversation_page(
    request: HttpRequest, conversation: Conversation, /, *, status: int = 200, **extra: Any
) -> HttpResponse:
    """The conversation view; `extra` adds the suggestion, an error or the agent's draft."""
    context = {
        **extra,
        "conversation": conversation,
        "messages_list": selectors.thread_messages(conversation=conversation, staff=True),
        "statuses": [
            (v, lbl)
            for v, lbl in Conversation.Status.choices
            if v == conversation.status or v in threads.TRANSITIONS[conversation.status]
        ],
        "flag_reasons": ArticleFlag.Reason.choices,
        "related_query": selectors.conversation_last_customer_question(conversation=conversation),
        "sla": selectors.conversation_sla(conversation=conversation),
        "intent_choices": [(name, label) for name, (label, _) in triage_store.intents().items()],
    }
    return render(request, "support/agent/conversation.html", context, status=status)


@require_GET
@agent_required
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(pk)
    # Reuse the latest draft while no new customer message came in: no LLM call per page view.
    current = selectors.conversation_current_suggestion(conversation=conversation)
    suggestion = (
        _suggestion_context(request, conversation=conversation, interaction=current)
        if current
        else {}
    )
    return _conversation_page(
        request, conversation, **suggestion, error=request.GET.get("error", "")
    )


@require_GET
@agent_required
def conversation_messages(request: HttpRequest, pk: int) -> HttpResponse:
    """Polled by htmx: the message list; signals the sidebar when something new arrived."""
    conversation = _conversation(pk)
    messages_list = list(selectors.thread_messages(conversation=conversation, staff=True))
    response = render(
        request,
        "support/agent/_messages.html",
        {
            "conversation": conversation,
            "messages_list": messages_list,
            "intent_choices": [(n, label) for n, (label, _) in triage_store.intents().items()],
        },
    )
    if request.GET.get("count") and request.GET["count"] != str(len(messages_list)):
        response["HX-Trigger"] = "kb-conversation-changed"
    return response


@require_POST
@agent_required
def conversation_suggest(request: HttpRequest, pk: int) -> HttpResponse:
    """Draft a customer-facing reply from PUBLIC articles, with the thread as history.

    Internal articles never go into the draft (they are shown beside it as guidance), and the
    draft never repeats an answer the customer already rejected.
    """
    conversation = _conversation(pk)
    turns = selectors.conversation_turns(conversation=conversation)
    question = selectors.conversation_last_customer_question(conversation=conversation)
    # History is everything before the last customer message (the question itself).
    history = turns[:-1] if turns and turns[-1].role == "user" else turns
    rejected = selectors.conversation_rejected_answers(conversation=conversation)
    result = retrieval.search(question, audience=Audience.PUBLIC)
    rejected_articles = {c.get("article_id") for r in rejected for c in r.citations}
    if rejected_articles:
        result.hits = [h for h in result.hits if h.article_id not in rejected_articles]
    answer = generation.answer_question(
        question, audience=Audience.PUBLIC, history=history, search_result=result
    )
    if any(services.suggestion_repeats(text=answer.text, rejected=r.answer_text) for r in rejected):
        answer.text, answer.citations, answer.abstained = "", [], True
    interaction = services.interaction_record(
        answer=answer,
        channel=Channel.AGENT,
        user=request.user,
        session_key=request.session.session_key or "",
        conversation=conversation,
        audience=Audience.PUBLIC,
    )
    if not request.headers.get("HX-Request"):
        return redirect("support:agent_conversation", pk=conversation.pk)
    return render(
        request,
        "support/agent/_suggestion.html",
        _suggestion_context(request, conversation=conversation, interaction=interaction),
    )


def _suggestion_context(
    request: HttpRequest, *, conversation: Conversation, interaction: Interaction
) -> dict:
    citations = _with_links(interaction.citations)
    sources = _with_links(group_sources(interaction.citations))
    question = selectors.conversation_last_customer_question(conversation=conversation)
    return {
        "guidance": _internal_guidance(question),
        "rejected_count": len(selectors.conversation_rejected_answers(conversation=conversation)),
        "conversation": conversation,
        "suggestion": interaction,
        "suggestion_html": answer_html(interaction.answer_text, {c["number"] for c in citations}),
        "sources": sources,
        # An abstention ("I couldn't find this...") is never a reply for an agent to send.
        "reply_text": ""
        if interaction.abstained or not interaction.answer_text
        else services.suggestion_reply_text(
            answer_text=interaction.answer_text,
            links=[
                (src["title"], request.build_absolute_uri(src["url"]))
                for src in sources
                if src["public"]
            ],
        ),
    }


def _internal_guidance(question: str) -> list[dict]:
    """Internal articles on the question: for the agent's eyes, never part of the draft."""
    result = retrieval.search(question, audience=AUDIENCE, top_k=6)
    return [
        {
            "article_id": h.article_id,
            "title": h.title,
            "agent_url": f"/agent/articles/{h.article_id}/",
            "snippet": snippet_clean(h.chunks[0].snippet_html if h.chunks else ""),
        }
        for h in result.hits
        if h.visibility != Audience.PUBLIC
    ][:3]


def _with_links(items: list[dict]) -> list[dict]:
    """Public articles get a customer-facing link; internal ones only an agent-side link."""
    ids = {c.get("article_id") for c in items}
    public = set(
        article_list_for_audience(audience=Audience.PUBLIC)
        .filter(pk__in=ids)
        .values_list("pk", flat=True)
    )
    return [
        {
            **c,
            "public": c.get("article_id") in public,
            "url": f"/articles/{c.get('slug')}/",
            "agent_url": f"/agent/articles/{c.get('article_id')}/",
        }
        for c in items
    ]


@require_GET
@agent_required
def conversation_related(request: HttpRequest, pk: int) -> HttpResponse:
    """Sidebar: articles related to the conversation (or to the agent's own search)."""
    conversation = _conversation(pk)
    query = (request.GET.get("q") or "").strip()[:500]
    if not query:
        query = selectors.conversation_last_customer_question(conversation=conversation)
    result = retrieval.search(query, audience=AUDIENCE, top_k=6)
    services.search_log_record(
        query=query, audience=AUDIENCE, channel=Channel.AGENT, hits=result.hits
    )
    hits = _with_links(
        [
            {
                "article_id": h.article_id,
                "title": h.title,
                "slug": h.slug,
                "visibility": h.visibility,
                "snippet": snippet_clean(
                    h.snippet_html or (h.chunks[0].snippet_html if h.chunks else "")
                ),
            }
            for h in result.hits
        ]
    )
    return render(
        request,
        "support/agent/_related.html",
        {
            "conversation": conversation,
            "hits": hits,
            "query": query,
            "flag_reasons": ArticleFlag.Reason.choices,
        },
    )


@require_POST
@agent_required
def conversation_reply(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(pk)
    suggestion = None
    suggestion_id = request.POST.get("suggestion_id", "")
    if suggestion_id.isdigit():
        suggestion = Interaction.objects.filter(
            pk=int(suggestion_id), conversation=conversation, channel=Channel.AGENT
        ).first()
    try:
        threads.agent_reply(
            conversation=conversation,
            body=request.POST.get("body", ""),
            author=request.user,
            suggestion=suggestion,
            resolve=bool(request.POST.get("resolve")),
        )
    except ValidationError as exc:
        return _conversation_page(
            request,
            conversation,
            status=400,
            error=" ".join(exc.messages),
            draft=request.POST.get("body", ""),
        )
    return redirect("support:agent_conversation", pk=conversation.pk)


@require_POST
@agent_required
def conversation_note(request: HttpRequest, pk: int) -> HttpResponse:
    """An internal note: staff only, never shown or mailed to the customer."""
    conversation = _conversation(pk)
    try:
        threads.note_add(
            conversation=conversation, body=request.POST.get("body", ""), author=request.user
        )
    except ValidationError as exc:
        return _conversation_page(
            request, conversation, status=400, note_error=" ".join(exc.messages)
        )
    return redirect("support:agent_conversation", pk=conversation.pk)


@require_POST
@agent_required
def message_triage_correct(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    """An agent corrects a customer message's intent: stored, applied, and learnt from."""
    conversation = _conversation(pk)
    message = get_object_or_404(Message, pk=message_pk, conversation=conversation)
    try:
        thread_triage.triage_correct(
            message=message, intent=request.POST.get("intent", ""), user=request.user
        )
    except ValidationError as exc:
        return _conversation_page(
            request, conversation, status=400, triage_error=" ".join(exc.messages)
        )
    return redirect("support:agent_conversation", pk=conversation.pk)


@require_POST
@agent_required
def conversation_revoke_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Every private link sent for this conversation stops working."""
    thread_links.thread_link_revoke(conversation=_conversation(pk))
    return redirect("support:agent_conversation", pk=pk)


@require_POST
@agent_required
def conversation_status(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(pk)
    try:
        if "status" in request.POST:
            threads.conversation_update(
                conversation=conversation, status=request.POST["status"], by=request.user
            )
        if request.POST.get("assign") == "me":
            services.conversation_update(conversation=conversation, assigned_to=request.user)
        elif request.POST.get("assign") == "none":
            services.conversation_update(conversation=conversation, unassign=True)
    except ValidationError as exc:
        return HttpResponse(
            " ".join(exc.messages), status=400, content_type="text/plain; charset=utf-8"
        )
    return redirect("support:agent_conversation", pk=conversation.pk)


@require_POST
@agent_required
def flag_article(request: HttpRequest) -> HttpResponse:
    article = get_object_or_404(Article, pk=request.POST.get("article_id") or 0)
    conversation = None
    if (request.POST.get("conversation_id") or "").isdigit():
        conversation = Conversation.objects.filter(pk=request.POST["conversation_id"]).first()
    try:
        flag = services.article_flag(
            article=article,
            user=request.user,
            reason=request.POST.get("reason", ""),
            comment=request.POST.get("comment", ""),
            conversation=conversation,
        )
    except ValidationError as exc:
        if request.headers.get("HX-Request"):
            return HttpResponse(
                format_html('<p class="error" role="alert">{}</p>', " ".join(exc.messages)),
                status=400,
            )
        return HttpResponse(
            " ".join(exc.messages), status=400, content_type="text/plain; charset=utf-8"
        )
    if request.headers.get("HX-Request"):
        return render(request, "support/agent/_flagged.html", {"flag": flag})
    if conversation is not None:
        return redirect("support:agent_conversation", pk=conversation.pk)
    return redirect("support:agent_queue")


@require_GET
@agent_required
def agent_article(request: HttpRequest, pk: int) -> HttpResponse:
    """Agents read any published article (internal included) without leaving the assist UI."""
    article = get_object_or_404(article_list_for_audience(audience=AUDIENCE), pk=pk)
    from django.utils.safestring import mark_safe

    from knowledge.services import revision_body_html

    if article.published_revision is None:
        raise Http404("This article has no published text.")
    return render(
        request,
        "support/agent/article.html",
        {
            "article": article,
            "body_html": mark_safe(revision_body_html(revision=article.published_revision)),
            "flag_reasons": ArticleFlag.Reason.choices,
        },
    )
