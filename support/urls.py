from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from support import (
    api_articles,
    api_views,
    views_agent,
    views_portal,
    views_threads,
    views_widget,
)

app_name = "support"

portal = [
    path("", views_portal.home, name="home"),
    path("categories/<slug:slug>/", views_portal.category_detail, name="category"),
    path("articles/<slug:slug>/", views_portal.article_detail, name="article"),
    path(
        "articles/<slug:slug>/feedback/",
        views_portal.article_feedback,
        name="article_feedback",
    ),
    path("search/", views_portal.search, name="search"),
    path("ask/", views_portal.ask, name="ask"),
    path("ask/stream/", views_portal.ask_stream, name="ask_stream"),
    path("ask/<int:pk>/", views_portal.answer_detail, name="answer"),
    path("ask/<int:pk>/feedback/", views_portal.answer_feedback, name="answer_feedback"),
    path("ask/<int:pk>/escalate/", views_portal.answer_escalate, name="answer_escalate"),
    path("accounts/home/", views_threads.landing, name="landing"),
    path("requests/", views_threads.my_requests, name="my_requests"),
    path("requests/<int:pk>/", views_threads.my_request_detail, name="my_request"),
    path("requests/<int:pk>/reply/", views_threads.my_request_reply, name="my_request_reply"),
    path("requests/<int:pk>/rate/", views_threads.my_request_rate, name="my_request_rate"),
    path("t/<str:token>/", views_threads.thread_by_link, name="thread_link"),
    path("t/<str:token>/reply/", views_threads.thread_by_link_reply, name="thread_link_reply"),
    path("t/<str:token>/rate/", views_threads.thread_by_link_rate, name="thread_link_rate"),
    path("widget.js", views_widget.widget_js, name="widget_js"),
    path("widget/frame/", views_widget.widget_frame, name="widget_frame"),
    path("widget/demo/", views_widget.widget_demo, name="widget_demo"),
    path("widget/ask/stream/", views_widget.widget_ask_stream, name="widget_ask_stream"),
    path("widget/ask/<int:pk>/feedback/", views_widget.widget_feedback, name="widget_feedback"),
    path("widget/ask/<int:pk>/escalate/", views_widget.widget_escalate, name="widget_escalate"),
]

agent = [
    path("agent/", views_agent.queue, name="agent_queue"),
    path(
        "agent/conversations/<int:pk>/",
        views_agent.conversation_detail,
        name="agent_conversation",
    ),
    path(
        "agent/conversations/<int:pk>/messages/",
        views_agent.conversation_messages,
        name="agent_messages",
    ),
    path(
        "agent/conversations/<int:pk>/suggest/",
        views_agent.conversation_suggest,
        name="agent_suggest",
    ),
    path(
        "agent/conversations/<int:pk>/related/",
        views_agent.conversation_related,
        name="agent_related",
    ),
    path("agent/conversations/<int:pk>/reply/", views_agent.conversation_reply, name="agent_reply"),
    path(
        "agent/conversations/<int:pk>/status/",
        views_agent.conversation_status,
        name="agent_status",
    ),
    path("agent/conversations/<int:pk>/note/", views_agent.conversation_note, name="agent_note"),
    path(
        "agent/conversations/<int:pk>/messages/<int:message_pk>/triage/",
        views_agent.message_triage_correct,
        name="agent_triage_correct",
    ),
    path(
        "agent/conversations/<int:pk>/revoke-link/",
        views_agent.conversation_revoke_link,
        name="agent_revoke_link",
    ),
    path("agent/flag/", views_agent.flag_article, name="agent_flag"),
    path("agent/articles/<int:pk>/", views_agent.agent_article, name="agent_article"),
]

api_urls = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path(
        # The split view serves its init script as a file: no inline script (CSP).
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="support:api_schema"),
        name="api_docs",
    ),
    path("api/search", api_views.SearchView.as_view(), name="api_search"),
    path("api/ask", api_views.AskView.as_view(), name="api_ask"),
    path("api/articles", api_articles.ArticleListView.as_view(), name="api_articles"),
    path("api/articles/<int:pk>", api_articles.ArticleDetailView.as_view(), name="api_article"),
    path(
        "api/articles/<int:pk>/publish",
        api_articles.ArticlePublishView.as_view(),
        name="api_article_publish",
    ),
    path("api/conversations", api_views.ConversationListView.as_view(), name="api_conversations"),
    path(
        "api/conversations/<int:pk>",
        api_views.ConversationDetailView.as_view(),
        name="api_conversation",
    ),
    path(
        "api/conversations/<int:pk>/messages",
        api_views.ConversationMessagesView.as_view(),
        name="api_conversation_messages",
    ),
    path(
        "api/conversations/<int:pk>/messages/<int:message_pk>/triage",
        api_views.MessageTriageView.as_view(),
        name="api_message_triage",
    ),
    path("api/feedback", api_views.FeedbackView.as_view(), name="api_feedback"),
    path("api/flags", api_views.FlagView.as_view(), name="api_flags"),
    path("api/token", api_views.TokenView.as_view(), name="api_token"),
    re_path(r"^api/.*$", api_views.api_not_found),
]

urlpatterns = portal + agent + api_urls
