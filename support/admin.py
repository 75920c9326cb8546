"""Django admin for support data: mostly read-only views for audits and debugging."""

from django.contrib import admin

from support.models import (
    ArticleFlag,
    ArticleViewCount,
    Conversation,
    Feedback,
    Interaction,
    Message,
    SearchLog,
)


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["role", "author", "body", "suggestion_usage", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["subject", "customer_name", "status", "channel", "assigned_to", "updated_at"]
    list_filter = ["status", "channel"]
    search_fields = ["subject", "customer_name", "customer_email"]
    raw_id_fields = ["customer", "assigned_to", "source_interaction"]
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
