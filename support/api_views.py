"""REST API: search, ask (JSON or SSE, in the caller's conversation), conversations,
feedback, flags and tokens. Errors: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, renderers, serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from knowledge import roles
from knowledge.audience import Audience
from knowledge.models import Article
from retrieval import services as retrieval
from support import selectors, services, sse, thread_triage
from support.api import (
    CONVERSATION_STAFF_FIELDS,
    ERRORS,
    MESSAGE_STAFF_FIELDS,
    AnswerSerializer,
    ArticlesPagination,
    AskRequestSerializer,
    BaseAPIView,
    ConversationCreateSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    ErrorBodySerializer,
    EventStreamRenderer,
    FeedbackSerializer,
    FlagResponseSerializer,
    FlagSerializer,
    IsAgent,
    MessageCreateSerializer,
    MessageSerializer,
    SearchQuerySerializer,
    SearchResponseSerializer,
    TriageCorrectionSerializer,
    _django_errors,
    _throttle,
    _validated,
)
from support.models import Channel, Conversation, Interaction, Message, Priority
from support.presenters import ANSWER_FIELDS_NOT_PUBLIC
from support.responses import requested_by_this_site

logger = logging.getLogger(__name__)


class SearchView(BaseAPIView):
    @extend_schema(
        parameters=[SearchQuerySerializer],
        responses={
            200: SearchResponseSerializer,
            400: ErrorBodySerializer,
            429: ErrorBodySerializer,
        },
        summary="Hybrid search over the articles your role may read",
    )
    def get(self, request):
        params = _validated(SearchQuerySerializer, request.query_params.dict())
        _throttle(request, "search")
        audience = roles.audience_for(request.user)
        result = retrieval.search(
            params["q"], audience=audience, top_k=params["top_k"], mode=params.get("mode")
        )
        if requested_by_this_site(request):  # not when another site drives the GET
            services.search_log_record(
                query=params["q"], audience=audience, channel=Channel.API, hits=result.hits
            )
        return Response(
            {
                "query": result.query,
                "audience": audience,
                "confidence": result.confidence,
                "took_ms": result.took_ms,
                "hits": [
                    {
                        "article_id": h.article_id,
                        "title": h.title,
                        "slug": h.slug,
                        "visibility": h.visibility,
                        "score": h.score,
                        "snippet_html": h.snippet_html,
                        "chunks": [
                            {
                                "chunk_id": c.chunk_id,
                                "text": c.text,
                                "heading_path": c.heading_path,
                                "score": c.score,
                            }
                            for c in h.chunks
                        ],
                    }
                    for h in result.hits
                ],
            }
        )


def _conversation_for(user: Any, pk: int) -> Conversation:
    return get_object_or_404(selectors.conversation_list_for_user(user=user), pk=pk)


def _for_viewer(data: dict, *, staff: bool) -> dict:
    """Triage and SLA fields are for staff; a customer's copy goes without them."""
    if staff:
        return data
    data = {k: v for k, v in data.items() if k not in CONVERSATION_STAFF_FIELDS}
    if "messages" in data:
        data["messages"] = [_message_for_viewer(m, staff=False) for m in data["messages"]]
    return data


def _message_for_viewer(data: dict, *, staff: bool) -> dict:
    if staff:
        return data
    return {k: v for k, v in data.items() if k not in MESSAGE_STAFF_FIELDS}


class AskView(BaseAPIView):
    renderer_classes = [renderers.JSONRenderer, EventStreamRenderer]

    @extend_schema(
        request=AskRequestSerializer,
        parameters=[
            OpenApiParameter("stream", OpenApiTypes.BOOL, description="Stream as SSE events")
        ],
        responses={200: AnswerSerializer, **ERRORS, 429: ErrorBodySerializer},
        summary="Answer a question from the KB with citations (or abstain)",
        description=(
            "JSON by default. With `?stream=1` or `Accept: text/event-stream` the answer "
            "streams as server-sent events: `meta` (retrieved articles), `token` "
            '(`{"text": delta}`, many), then `done` (`{"answer": ..., "interaction_id": ...}`) '
            "or `error`. Customers and anonymous callers get public articles only; agents, "
            "editors and admins also internal ones. Rate-limited per client "
            "(429 with Retry-After)."
        ),
    )
    def post(self, request):
        data = _validated(AskRequestSerializer, request.data)
        _throttle(request, "ask")
        audience = roles.audience_for(request.user)
        conversation = None
        if "conversation_id" in data:
            if not request.user.is_authenticated:
                raise exceptions.NotAuthenticated()
            conversation = _conversation_for(request.user, data["conversation_id"])
        session_key = request.session.session_key or "" if hasattr(request, "session") else ""
        wants_stream = request.query_params.get("stream") in {"1", "true"} or (
            "text/event-stream" in request.headers.get("Accept", "")
        )
        # One path for JSON and SSE: the answer joins the conversation with its history.
        ask = {
            "question": data["question"],
            "audience": audience,
            "channel": Channel.API,
            "user": request.user,
            "session_key": session_key,
            "conversation": conversation,
            # Signed-in customers get a thread (the id comes back for follow-ups).
            "threaded": request.user.is_authenticated and not roles.is_agent(request.user),
        }
        if wants_stream:
            return sse.sse_response(
                sse.ask_event_stream(
                    services.ask_answer_stream(**ask),
                    public_filter=audience == Audience.PUBLIC,
                    url_prefix=None,
                )
            )
        result = services.ask_answer(**ask)
        body = result.answer.to_dict()
        body.pop("hits", None)
        if audience == Audience.PUBLIC:  # how the answer was made is for staff only
            for name in ANSWER_FIELDS_NOT_PUBLIC:
                body.pop(name, None)
        body["interaction_id"] = result.interaction.pk
        body["conversation_id"] = result.conversation.pk if result.conversation else None
        return Response(body)


class ConversationListView(BaseAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str),
            OpenApiParameter("page", int),
            OpenApiParameter("intent", str, description="Agents: triaged intent"),
            OpenApiParameter(
                "priority", int, description="Agents: 0 urgent, 1 high, 2 normal, 3 low"
            ),
            OpenApiParameter(
                "sla",
                str,
                enum=[selectors.SLA_BREACHED, selectors.SLA_ON_TRACK],
                description="Agents: SLA state",
            ),
            OpenApiParameter(
                "sort",
                str,
                enum=[selectors.SORT_PRIORITY, selectors.SORT_RECENT],
                description="Agents: priority first (safety on top) or most recent first",
            ),
        ],
        responses={200: ConversationSerializer(many=True), **ERRORS},
        summary="Agents: the queue; customers: their own conversations",
    )
    def get(self, request):
        params = request.query_params
        staff = roles.is_agent(request.user)
        qs = selectors.conversation_list_for_user(user=request.user)
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        else:
            # Like "My requests" and the queue: threads still with the assistant are listed
            # only when asked for (?status=bot); each ask returns its conversation_id.
            qs = qs.exclude(status=Conversation.Status.BOT)
        order: list[Any] = ["-updated_at", "-id"]
        if staff:
            priority = params.get("priority", "")
            if priority and priority not in {str(v) for v in Priority.values}:
                raise exceptions.ValidationError({"priority": ["Use 0, 1, 2 or 3."]})
            if params.get("sla", "") not in {"", selectors.SLA_BREACHED, selectors.SLA_ON_TRACK}:
                raise exceptions.ValidationError({"sla": ["Use breached or on_track."]})
            if priority:
                qs = qs.filter(priority=int(priority))
            if params.get("intent"):
                qs = qs.filter(intent=params["intent"][:32])
            if params.get("sla") == selectors.SLA_BREACHED:
                qs = qs.filter(selectors.sla_breached_q(timezone.now()))
            elif params.get("sla") == selectors.SLA_ON_TRACK:
                qs = qs.filter(first_response_due_at__isnull=False).exclude(
                    selectors.sla_breached_q(timezone.now())
                )
            if params.get("sort", selectors.SORT_PRIORITY) == selectors.SORT_PRIORITY:
                order = ["priority", "-urgent", "updated_at", "id"]
        paginator = ArticlesPagination()
        page = paginator.paginate_queryset(qs.order_by(*order), request, view=self)
        rows = [
            _for_viewer(row, staff=staff) for row in ConversationSerializer(page, many=True).data
        ]
        return paginator.get_paginated_response(rows)

    @extend_schema(
        request=ConversationCreateSerializer,
        responses={201: ConversationDetailSerializer, **ERRORS},
        summary="Open a conversation with a first message",
    )
    def post(self, request):
        data = _validated(ConversationCreateSerializer, request.data)
        try:
            conversation = services.conversation_create(
                subject=data["subject"], body=data["body"], customer=request.user, channel="api"
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        return Response(
            _for_viewer(
                ConversationDetailSerializer(conversation).data,
                staff=roles.is_agent(request.user),
            ),
            status=status.HTTP_201_CREATED,
        )


class ConversationDetailView(BaseAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        responses={200: ConversationDetailSerializer, 404: ErrorBodySerializer, **ERRORS},
        summary="One conversation with its messages",
    )
    def get(self, request, pk: int):
        conversation = _conversation_for(request.user, pk)
        data = ConversationDetailSerializer(conversation).data
        # Customers never see internal notes or the agent's handoff summary.
        messages = selectors.thread_messages(
            conversation=conversation, staff=roles.is_agent(request.user)
        )
        data["messages"] = MessageSerializer(messages, many=True).data
        return Response(_for_viewer(data, staff=roles.is_agent(request.user)))


class ConversationMessagesView(BaseAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=MessageCreateSerializer,
        responses={201: MessageSerializer, 404: ErrorBodySerializer, **ERRORS},
        summary="Add a message (agents reply; customers write in their own conversations)",
    )
    def post(self, request, pk: int):
        conversation = _conversation_for(request.user, pk)
        data = _validated(MessageCreateSerializer, request.data)
        is_agent = roles.is_agent(request.user)
        suggestion = None
        if "suggestion_id" in data:
            if not is_agent:
                raise exceptions.PermissionDenied("Only agents reply from suggestions.")
            suggestion = get_object_or_404(
                Interaction, pk=data["suggestion_id"], conversation=conversation
            )
        try:
            message = services.message_add(
                conversation=conversation,
                role=Message.Role.AGENT if is_agent else Message.Role.CUSTOMER,
                body=data["body"],
                author=request.user,
                suggestion=suggestion,
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        return Response(
            _message_for_viewer(MessageSerializer(message).data, staff=is_agent),
            status=status.HTTP_201_CREATED,
        )


class MessageTriageView(BaseAPIView):
    permission_classes = [IsAgent]

    @extend_schema(
        request=TriageCorrectionSerializer,
        responses={200: MessageSerializer, 404: ErrorBodySerializer, **ERRORS},
        summary="Agents: correct a customer message's intent (stored and learnt from)",
        description=(
            "The correction is kept (TriageCorrection), applied to the message and the "
            "conversation's priority, and added to the classifier's training examples."
        ),
    )
    def post(self, request, pk: int, message_pk: int):
        conversation = _conversation_for(request.user, pk)
        message = get_object_or_404(Message, pk=message_pk, conversation=conversation)
        data = _validated(TriageCorrectionSerializer, request.data)
        try:
            thread_triage.triage_correct(message=message, intent=data["intent"], user=request.user)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        message.refresh_from_db()
        return Response(MessageSerializer(message).data)


class FeedbackView(BaseAPIView):
    @extend_schema(
        request=FeedbackSerializer,
        responses={
            201: inline_serializer("FeedbackCreated", {"id": serializers.IntegerField()}),
            404: ErrorBodySerializer,
            **ERRORS,
        },
        summary="Rate an answer (helpful yes/no) or record what an agent did with a suggestion",
    )
    def post(self, request):
        data = _validated(FeedbackSerializer, request.data)
        user = request.user
        session_key = getattr(request._request, "session", None)
        session_key = session_key.session_key if session_key is not None else None
        owner = Q(user=user) if user.is_authenticated else Q(pk__in=[])
        if session_key:
            owner |= Q(session_key=session_key)
        qs = (
            Interaction.objects.all() if roles.is_agent(user) else Interaction.objects.filter(owner)
        )
        if not user.is_authenticated and not session_key:
            raise exceptions.NotAuthenticated()
        interaction = get_object_or_404(qs, pk=data["interaction_id"])
        try:
            if data.get("suggestion_usage"):
                if not roles.is_agent(user):
                    raise exceptions.PermissionDenied("Only agents rate suggested replies.")
                feedback = services.suggestion_feedback(
                    interaction=interaction, usage=data["suggestion_usage"], user=user
                )
            else:
                if data.get("helpful") is None and not data.get("comment"):
                    raise exceptions.ValidationError(
                        {"helpful": ["Give helpful (true/false) or a comment."]}
                    )
                feedback = services.feedback_submit(
                    interaction=interaction,
                    helpful=data.get("helpful"),
                    comment=data.get("comment", ""),
                    user=user,
                )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        return Response({"id": feedback.pk}, status=status.HTTP_201_CREATED)


class FlagView(BaseAPIView):
    permission_classes = [IsAgent]

    @extend_schema(
        request=FlagSerializer,
        responses={201: FlagResponseSerializer, 404: ErrorBodySerializer, **ERRORS},
        summary="Agents: flag an article as wrong, outdated, unclear...",
    )
    def post(self, request):
        data = _validated(FlagSerializer, request.data)
        article = get_object_or_404(Article, pk=data["article_id"])
        conversation = None
        if "conversation_id" in data:
            conversation = get_object_or_404(Conversation, pk=data["conversation_id"])
        flag = services.article_flag(
            article=article,
            user=request.user,
            reason=data["reason"],
            comment=data.get("comment", ""),
            conversation=conversation,
        )
        return Response(FlagResponseSerializer(flag).data, status=status.HTTP_201_CREATED)


class TokenView(BaseAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=None,
        responses={200: inline_serializer("TokenBody", {"token": serializers.CharField()})},
        summary="Your API token (created on first call); send it as `Authorization: Token ...`",
    )
    def post(self, request):
        from support.tokens import token_for_user

        return Response({"token": token_for_user(request.user).key})


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
def api_not_found(request, *args, **kwargs):
    raise exceptions.NotFound(f"No API endpoint at {request.path}.")
