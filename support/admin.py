"""Django admin for support data: mostly read-only views for audits and debugging."""

from django.contrib import admin

from support import outbox
from support.models import (
    ArticleFeedback,
    ArticleFlag,
    ArticleViewCount,
    Conversation,
    Feedback,
    Interaction,
    Message,
    OutgoingEmail,
    SearchLog,
    TriageCorrection,
    TriageIntent,
)


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["role", "internal", "author", "body", "suggestion_usage", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "subject",
        "customer_name",
        "status",
        "handoff_reason",
        "urgent",
        "priority",
        "intent",
        "channel",
        "assigned_to",
        "csat_score",
        "updated_at",
    ]
    list_filter = [
        "status",
        "handoff_reason",
        "urgent",
        "priority",
        "intent",
        "channel",
        "csat_score",
    ]
    search_fields = ["subject", "customer_name", "customer_email"]
    raw_id_fields = [
        "customer",
        "assigned_to",
        "source_interaction",
        "resolved_by",
        "csat_agent",
    ]
    inlines = [MessageInline]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = [
        "question",
        "channel",
        "audience",
        "abstained",
        "escalated",
        "backend",
        "created_at",
    ]
    list_filter = ["channel", "audience", "abstained", "escalated", "backend"]
    search_fields = ["question", "answer_text"]
    raw_id_fields = ["user", "conversation"]
    filter_horizontal = ["cited_articles"]
    date_hierarchy = "created_at"


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ["interaction", "helpful", "suggestion_usage", "user", "created_at"]
    list_filter = ["helpful", "suggestion_usage"]
    raw_id_fields = ["interaction", "user"]


@admin.register(ArticleFlag)
class ArticleFlagAdmin(admin.ModelAdmin):
    list_display = ["article", "reason", "flagged_by", "resolved", "created_at"]
    list_filter = ["reason", "resolved"]
    raw_id_fields = ["article", "flagged_by", "conversation"]


@admin.register(SearchLog)
class SearchLogAdmin(admin.ModelAdmin):
    list_display = ["query", "channel", "audience", "results_count", "top_article", "created_at"]
    list_filter = ["channel", "audience"]
    search_fields = ["query"]
    raw_id_fields = ["top_article"]


@admin.register(ArticleViewCount)
class ArticleViewCountAdmin(admin.ModelAdmin):
    list_display = ["article", "views", "updated_at"]
    raw_id_fields = ["article"]


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    """The outbox: what was sent, what waits for a retry and why (the SMTP error)."""

    list_display = ["subject", "to", "status", "attempts", "last_error", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["to", "subject"]
    readonly_fields = [
        "to",
        "subject",
        "body",
        "conversation",
        "message",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "sent_at",
    ]
    actions = ["retry_now"]

    @admin.action(description="Send again now")
    def retry_now(self, request, queryset):
        for email in queryset.exclude(status=OutgoingEmail.Status.SENT):
            outbox.outbox_retry(email=email)
            outbox.enqueue_send(email_id=email.pk)
        self.message_user(request, "Queued for sending.")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(admin.ModelAdmin):
    list_display = ["article", "helpful", "created_at"]
    list_filter = ["helpful"]
    raw_id_fields = ["article", "user"]


@admin.register(TriageIntent)
class TriageIntentAdmin(admin.ModelAdmin):
    # Editors extend the taxonomy here; the classifier retrains from these examples within
    # support.triage_store.RECHECK_SECONDS.
    list_display = ["name", "label", "priority", "enabled", "updated_at"]
    list_editable = ["enabled"]
    search_fields = ["name", "label", "examples"]


@admin.register(TriageCorrection)
class TriageCorrectionAdmin(admin.ModelAdmin):
    list_display = ["message", "previous_intent", "intent", "corrected_by", "created_at"]
    list_filter = ["intent"]
    raw_id_fields = ["message", "corrected_by"]
