"""REST API (DRF): search, ask (JSON or SSE), articles, conversations, feedback, flags, tokens.

Errors always have the body of `support.api_errors`: {"error": {"code", "message", "fields"}}.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, parsers, permissions, renderers, serializers, status
from rest_framework.decorators import api_view
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from generation import services as generation
from knowledge import roles
from knowledge import services as knowledge
from knowledge.models import Article, Revision, Visibility
from knowledge.selectors import article_list_for_audience, article_visible_to
from retrieval import services as retrieval
from support import ratelimit, selectors, services
from support.models import ArticleFlag, Channel, Conversation, Interaction, Message
from support.views_portal import (
    ANSWER_FIELDS_NOT_PUBLIC,
    answer_event_stream,
    requested_by_this_site,
    sse_response,
)

logger = logging.getLogger(__name__)


# --- Errors and permissions ---------------------------------------------------------------


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "Conflict."


class Throttled(exceptions.Throttled):
    default_code = "throttled"


class IsAgent(permissions.BasePermission):
    message = "Only agents, editors and admins may do this."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and roles.is_agent(request.user))


class IsEditor(permissions.BasePermission):
    message = "Only editors and admins may change articles."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user.is_authenticated and roles.is_editor(request.user))


class IsReviewer(permissions.BasePermission):
    message = "Only reviewers and admins may publish articles."

    def has_permission(self, request, view) -> bool:
        return bool(request.user.is_authenticated and roles.can_review(request.user))


class EventStreamRenderer(renderers.BaseRenderer):
    """Lets content negotiation accept `Accept: text/event-stream` (the view streams itself)."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        import json

        return f"event: error\ndata: {json.dumps(data)}\n\n".encode()


class SafeJSONParser(parsers.JSONParser):
    """JSON nested deeper than Python's recursion limit is a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(
                "JSON parse error - the body is nested too deeply."
            ) from exc


class BaseAPIView(APIView):
    """Checks the declared body size before any parser reads it (413 JSON, not a 400 page)."""

    parser_classes = [SafeJSONParser, parsers.FormParser, parsers.MultiPartParser]

    def initial(self, request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length > limit:
            raise PayloadTooLarge(
                f"The request body is {length:,} bytes; the limit is {limit:,} bytes."
            )
        super().initial(request, *args, **kwargs)


def _validated(serializer_class: type[serializers.Serializer], data: Any, **kw):
    if not isinstance(data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    serializer = serializer_class(data=data, **kw)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _throttle(request, scope: str) -> None:
    limited = ratelimit.check(request._request, scope=scope)
    if limited:
        raise Throttled(wait=limited.retry_after, detail=limited.message)


def _django_errors(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError({"non_field_errors": exc.messages})


# --- Serializers --------------------------------------------------------------------------


class ChunkHitSerializer(serializers.Serializer):
    chunk_id = serializers.IntegerField()
    text = serializers.CharField()
    heading_path = serializers.CharField()
    score = serializers.FloatField()


class SearchHitSerializer(serializers.Serializer):
    article_id = serializers.IntegerField()
    title = serializers.CharField()
    slug = serializers.CharField()
    visibility = serializers.CharField()
    score = serializers.FloatField()
    snippet_html = serializers.CharField()
    chunks = ChunkHitSerializer(many=True)


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    audience = serializers.CharField()
    confidence = serializers.FloatField()
    took_ms = serializers.FloatField()
    hits = SearchHitSerializer(many=True)


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=500, trim_whitespace=True)
    top_k = serializers.IntegerField(min_value=1, max_value=50, default=10)
    mode = serializers.ChoiceField(
        choices=["hybrid", "dense", "lexical", "hybrid+rerank"], default="hybrid"
    )


class AskRequestSerializer(serializers.Serializer):
    question = serializers.CharField(trim_whitespace=True)
    conversation_id = serializers.IntegerField(required=False, min_value=1)

    def validate_question(self, value: str) -> str:
        try:
            return services.question_validate(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class CitationSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    article_id = serializers.IntegerField()
    chunk_id = serializers.IntegerField()
    title = serializers.CharField()
    slug = serializers.CharField()
    heading_path = serializers.CharField()
    supported = serializers.BooleanField()
    support_score = serializers.FloatField()


class AnswerSerializer(serializers.Serializer):
    interaction_id = serializers.IntegerField()
    question = serializers.CharField()
    text = serializers.CharField()
    abstained = serializers.BooleanField()
    confidence = serializers.FloatField()
    grounding_score = serializers.FloatField()
    backend = serializers.CharField(required=False, help_text="Staff only")
    model = serializers.CharField(required=False, help_text="Staff only")
    latency_ms = serializers.FloatField()
    citations = CitationSerializer(many=True)
    nearest_articles = serializers.ListField(child=serializers.DictField())


class ArticleListSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name", default=None, read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Article
        fields = [
            "id",
            "title",
            "slug",
            "category",
            "visibility",
            "status",
            "locale",
            "published_at",
            "updated_at",
            "url",
        ]

    def get_url(self, obj: Article) -> str:
        return f"/api/articles/{obj.pk}"


class RevisionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", default=None, read_only=True)

    class Meta:
        model = Revision
        fields = ["id", "number", "title", "body", "summary", "state", "author", "created_at"]


class PublicRevisionSerializer(serializers.ModelSerializer):
    """What customers may know of a revision: its text, not who wrote it or why."""

    class Meta:
        model = Revision
        fields = ["id", "title", "body", "created_at"]


class ArticleDetailSerializer(ArticleListSerializer):
    published_revision = serializers.SerializerMethodField()
    latest_revision = serializers.SerializerMethodField()
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta(ArticleListSerializer.Meta):
        fields = [*ArticleListSerializer.Meta.fields, "tags", "published_revision"]
        fields.append("latest_revision")

    @extend_schema_field(RevisionSerializer)
    def get_published_revision(self, obj: Article) -> dict | None:
        # Change summaries, states and author names are editors' business.
        if obj.published_revision_id is None:
            return None
        if roles.is_editor(self.context["request"].user):
            return RevisionSerializer(obj.published_revision).data
        return PublicRevisionSerializer(obj.published_revision).data

    def get_latest_revision(self, obj: Article) -> dict | None:
        # Drafts are for editors only; others see the published revision.
        user = self.context["request"].user
        if obj.latest_revision_id and roles.is_editor(user):
            return RevisionSerializer(obj.latest_revision).data
        return None


class ArticleCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    body = serializers.CharField(trim_whitespace=False, allow_blank=True)
    visibility = serializers.ChoiceField(choices=Visibility.values, default=Visibility.PUBLIC)
    category = serializers.CharField(max_length=200, required=False, allow_blank=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=50
    )
    summary = serializers.CharField(max_length=300, required=False, allow_blank=True)


class ArticleUpdateSerializer(serializers.Serializer):
    base_revision_id = serializers.IntegerField(allow_null=True)
    title = serializers.CharField(max_length=300, required=False)
    body = serializers.CharField(trim_whitespace=False, allow_blank=True, required=False)
    summary = serializers.CharField(max_length=300, required=False, allow_blank=True)


class PublishSerializer(serializers.Serializer):
    revision_id = serializers.IntegerField(required=False, min_value=1)


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", default=None, read_only=True)

    class Meta:
        model = Message
        fields = ["id", "role", "author", "body", "suggestion_usage", "created_at"]


class ConversationSerializer(serializers.ModelSerializer):
    assigned_to = serializers.CharField(source="assigned_to.username", default=None)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "subject",
            "status",
            "channel",
            "customer_name",
            "customer_email",
            "assigned_to",
            "created_at",
            "updated_at",
        ]


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]


class ConversationCreateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=300)
    body = serializers.CharField(max_length=services.MAX_MESSAGE_CHARS)


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=services.MAX_MESSAGE_CHARS)
    suggestion_id = serializers.IntegerField(required=False, min_value=1)


class FeedbackSerializer(serializers.Serializer):
    interaction_id = serializers.IntegerField(min_value=1)
    helpful = serializers.BooleanField(required=False, allow_null=True, default=None)
    comment = serializers.CharField(
        max_length=services.MAX_COMMENT_CHARS, required=False, allow_blank=True
    )
    suggestion_usage = serializers.ChoiceField(
        choices=["used", "edited", "discarded"], required=False
    )


class FlagSerializer(serializers.Serializer):
    article_id = serializers.IntegerField(min_value=1)
    reason = serializers.ChoiceField(choices=ArticleFlag.Reason.values)
    comment = serializers.CharField(
        max_length=services.MAX_COMMENT_CHARS, required=False, allow_blank=True
    )
    conversation_id = serializers.IntegerField(required=False, min_value=1)


class FlagResponseSerializer(serializers.ModelSerializer):
    class Meta:
        model = ArticleFlag
        fields = ["id", "article", "reason", "comment", "conversation", "created_at"]


class ErrorBodySerializer(serializers.Serializer):
    error = inline_serializer(
        "ErrorDetail",
        fields={
            "code": serializers.CharField(),
            "message": serializers.CharField(),
            "fields": serializers.DictField(),
        },
    )


ERRORS = {400: ErrorBodySerializer, 401: ErrorBodySerializer, 403: ErrorBodySerializer}


# --- Views --------------------------------------------------------------------------------


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
            params["q"], audience=audience, top_k=params["top_k"], mode=params["mode"]
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
        if wants_stream:
            return sse_response(
                answer_event_stream(
                    request,
                    question=data["question"],
                    audience=audience,
                    channel=Channel.API,
                    session_key=session_key,
                    public_filter=audience == "public",
                )
            )
        history = selectors.conversation_turns(conversation=conversation) if conversation else ()
        answer = generation.answer_question(data["question"], audience=audience, history=history)
        interaction = services.interaction_record(
            answer=answer,
            channel=Channel.API,
            user=request.user,
            session_key=session_key,
            conversation=conversation,
            audience=audience,
        )
        body = answer.to_dict()
        body.pop("hits", None)
        if audience == "public":  # how the answer was made is for staff only
            for name in ANSWER_FIELDS_NOT_PUBLIC:
                body.pop(name, None)
        body["interaction_id"] = interaction.pk
        return Response(body)


class ArticlesPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class ArticleListView(BaseAPIView):
    permission_classes = [IsEditor]

    def _queryset(self, request):
        if roles.is_editor(request.user):
            qs = Article.objects.select_related("category")
            if request.query_params.get("status"):
                qs = qs.filter(status=request.query_params["status"])
        else:
            qs = article_list_for_audience(audience=roles.audience_for(request.user))
        if request.query_params.get("q"):
            qs = qs.filter(title__icontains=request.query_params["q"][:200])
        if request.query_params.get("category"):
            qs = qs.filter(category__slug=request.query_params["category"])
        return qs.order_by("title", "id")

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Title contains"),
            OpenApiParameter("category", str, description="Category slug"),
            OpenApiParameter("status", str, description="Editors: filter by status"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: ArticleListSerializer(many=True)},
        summary="Articles your role may read (editors see drafts too)",
    )
    def get(self, request):
        paginator = ArticlesPagination()
        page = paginator.paginate_queryset(self._queryset(request), request, view=self)
        return paginator.get_paginated_response(ArticleListSerializer(page, many=True).data)

    @extend_schema(
        request=ArticleCreateSerializer,
        responses={201: ArticleDetailSerializer, **ERRORS},
        summary="Editors: create an article (a draft revision)",
    )
    def post(self, request):
        data = _validated(ArticleCreateSerializer, request.data)
        category = (
            knowledge.category_get_or_create(name=data["category"])
            if data.get("category")
            else None
        )
        tags = knowledge.tags_get_or_create(names=data.get("tags", []))
        try:
            article = knowledge.article_create(
                title=data["title"],
                body=data["body"],
                author=request.user,
                category=category,
                tags=tags,
                visibility=data["visibility"],
                summary=data.get("summary") or "Created via API",
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        return Response(
            ArticleDetailSerializer(article, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ArticleDetailView(BaseAPIView):
    permission_classes = [IsEditor]

    def _article(self, request, pk: int) -> Article:
        article = get_object_or_404(
            Article.objects.select_related("category", "published_revision", "latest_revision"),
            pk=pk,
        )
        if not article_visible_to(user=request.user, article=article):
            raise exceptions.NotFound("No article with this id.")
        return article

    @extend_schema(
        responses={200: ArticleDetailSerializer, 404: ErrorBodySerializer},
        summary="One article with its published revision",
    )
    def get(self, request, pk: int):
        return Response(
            ArticleDetailSerializer(self._article(request, pk), context={"request": request}).data
        )

    @extend_schema(
        request=ArticleUpdateSerializer,
        responses={200: ArticleDetailSerializer, 409: ErrorBodySerializer, **ERRORS},
        summary="Editors: save a new revision on top of base_revision_id (409 on conflict)",
    )
    def patch(self, request, pk: int):
        article = self._article(request, pk)
        data = _validated(ArticleUpdateSerializer, request.data)
        latest = article.latest_revision
        try:
            knowledge.revision_save(
                article=article,
                title=data.get("title", latest.title if latest else article.title),
                body=data.get("body", latest.body if latest else ""),
                author=request.user,
                base_revision_id=data["base_revision_id"],
                summary=data.get("summary", ""),
            )
        except knowledge.EditConflict as exc:
            response = Response(
                {
                    "error": {
                        "code": "conflict",
                        "message": str(exc),
                        "fields": {},
                        "latest_revision_id": exc.latest.pk if exc.latest else None,
                        "your_base_revision_id": data["base_revision_id"],
                    }
                },
                status=status.HTTP_409_CONFLICT,
            )
            return response
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        article.refresh_from_db()
        return Response(ArticleDetailSerializer(article, context={"request": request}).data)


class ArticlePublishView(BaseAPIView):
    permission_classes = [IsReviewer]

    @extend_schema(
        request=PublishSerializer,
        responses={200: ArticleDetailSerializer, 404: ErrorBodySerializer, **ERRORS},
        summary="Reviewers: publish the latest (or the given) revision",
    )
    def post(self, request, pk: int):
        article = get_object_or_404(Article, pk=pk)
        data = _validated(PublishSerializer, request.data or {})
        if "revision_id" in data:
            revision = get_object_or_404(Revision, pk=data["revision_id"], article=article)
        else:
            revision = article.latest_revision
            if revision is None:
                raise exceptions.ValidationError({"revision_id": ["The article has no revision."]})
        try:
            article = knowledge.revision_publish(revision=revision, published_by=request.user)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        article.refresh_from_db()
        return Response(ArticleDetailSerializer(article, context={"request": request}).data)


class ConversationListView(BaseAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("status", str), OpenApiParameter("page", int)],
        responses={200: ConversationSerializer(many=True), **ERRORS},
        summary="Agents: the queue; customers: their own conversations",
    )
    def get(self, request):
        qs = selectors.conversation_list_for_user(user=request.user)
        if request.query_params.get("status"):
            qs = qs.filter(status=request.query_params["status"])
        paginator = ArticlesPagination()
        page = paginator.paginate_queryset(qs.order_by("-updated_at", "-id"), request, view=self)
        return paginator.get_paginated_response(ConversationSerializer(page, many=True).data)

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
            ConversationDetailSerializer(conversation).data, status=status.HTTP_201_CREATED
        )


class ConversationDetailView(BaseAPIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        responses={200: ConversationDetailSerializer, 404: ErrorBodySerializer, **ERRORS},
        summary="One conversation with its messages",
    )
    def get(self, request, pk: int):
        return Response(ConversationDetailSerializer(_conversation_for(request.user, pk)).data)


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
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


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
