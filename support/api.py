"""REST API (DRF) building blocks: errors, permissions, base view and serializers.

The views are in support.api_views (search, ask, conversations, feedback, flags, tokens) and
support.api_articles (articles).

Errors always have the body of `support.api_errors`: {"error": {"code", "message", "fields"}}.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import exceptions, parsers, permissions, renderers, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import APIView

from knowledge import roles
from knowledge.models import Article, Revision, Visibility
from support import ratelimit, services
from support.models import ArticleFlag, Conversation, Message

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
    # Unset: SEARCH_MODE (hybrid+rescore by default), the mode portal and answers use.
    mode = serializers.ChoiceField(
        choices=["hybrid+rescore", "hybrid", "dense", "lexical", "hybrid+rerank"], required=False
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
    tags: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="name"
    )

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


class EntitySerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["model", "order_number", "error_code", "os_version", "firmware_version"]
    )
    value = serializers.CharField()
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    confidence = serializers.FloatField()


class TriageSerializer(serializers.Serializer):
    """support.triage.Triage.to_dict() as stored on a customer message."""

    intent = serializers.CharField()
    intent_confidence = serializers.FloatField(help_text="1.0 once an agent corrected it")
    confidence_band = serializers.ChoiceField(choices=["high", "medium", "low"])
    urgency = serializers.ChoiceField(choices=["urgent", "high", "normal", "low"])
    sentiment = serializers.ChoiceField(choices=["negative", "neutral", "positive"])
    sentiment_score = serializers.FloatField(help_text="-1 (angry) .. 1 (pleased)")
    priority = serializers.IntegerField(help_text="0 urgent (safety only), 1 high, 2 normal, 3 low")
    priority_name = serializers.CharField()
    language = serializers.CharField()
    entities = EntitySerializer(many=True)
    signals = serializers.ListField(child=serializers.CharField())
    scores = serializers.DictField(child=serializers.FloatField(), help_text="Top 3 intents")
    safety = serializers.DictField(help_text="The safety rule's verdict when it is a hazard")
    corrected = serializers.BooleanField(required=False)


# Triage and SLA are staff data (a customer never reads "sentiment: negative" about
# themselves): the views drop these fields for customers.
MESSAGE_STAFF_FIELDS = ("triage", "intent", "urgency", "sentiment", "priority")
CONVERSATION_STAFF_FIELDS = (
    "priority",
    "intent",
    "language",
    "urgent",
    "handoff_reason",
    "first_response_at",
    "first_response_due_at",
    "resolution_due_at",
    "sla_breached",
)


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", default=None, read_only=True)
    triage = serializers.SerializerMethodField(help_text="Staff only; customer messages")

    class Meta:
        model = Message
        fields = [
            "id",
            "role",
            "author",
            "body",
            "suggestion_usage",
            *MESSAGE_STAFF_FIELDS,
            "created_at",
        ]

    @extend_schema_field(TriageSerializer(allow_null=True))
    def get_triage(self, obj: Message) -> dict | None:
        return obj.triage or None  # agent, bot and system messages have none


class ConversationSerializer(serializers.ModelSerializer):
    assigned_to = serializers.CharField(source="assigned_to.username", default=None)
    sla_breached = serializers.SerializerMethodField(help_text="Staff only")

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
            *CONVERSATION_STAFF_FIELDS,
            "created_at",
            "updated_at",
        ]

    def get_sla_breached(self, obj: Conversation) -> bool:
        from support.selectors import conversation_sla

        return conversation_sla(conversation=obj).breached


class TriageCorrectionSerializer(serializers.Serializer):
    intent = serializers.CharField(max_length=32, help_text="A name from the taxonomy")


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


class ArticlesPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
