from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from support import api, views_agent, views_portal

app_name = "support"

portal = [
    path("", views_portal.home, name="home"),
    path("categories/<slug:slug>/", views_portal.category_detail, name="category"),
    path("articles/<slug:slug>/", views_portal.article_detail, name="article"),
    path("search/", views_portal.search, name="search"),
    path("ask/", views_portal.ask, name="ask"),
    path("ask/stream/", views_portal.ask_stream, name="ask_stream"),
    path("ask/<int:pk>/", views_portal.answer_detail, name="answer"),
    path("ask/<int:pk>/feedback/", views_portal.answer_feedback, name="answer_feedback"),
    path("ask/<int:pk>/escalate/", views_portal.answer_escalate, name="answer_escalate"),
    path("widget.js", views_portal.widget_js, name="widget_js"),
    path("widget/frame/", views_portal.widget_frame, name="widget_frame"),
    path("widget/demo/", views_portal.widget_demo, name="widget_demo"),
    path("widget/ask/stream/", views_portal.widget_ask_stream, name="widget_ask_stream"),
    path("widget/ask/<int:pk>/feedback/", views_portal.widget_feedback, name="widget_feedback"),
    path("widget/ask/<int:pk>/escalate/", views_portal.widget_escalate, name="widget_escalate"),
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
    path("api/search", api.SearchView.as_view(), name="api_search"),
    path("api/ask", api.AskView.as_view(), name="api_ask"),
    path("api/articles", api.ArticleListView.as_view(), name="api_articles"),
    path("api/articles/<int:pk>", api.ArticleDetailView.as_view(), name="api_article"),
    path(
        "api/articles/<int:pk>/publish",
        api.ArticlePublishView.as_view(),
        name="api_article_publish",
    ),
    path("api/conversations", api.ConversationListView.as_view(), name="api_conversations"),
    path(
        "api/conversations/<int:pk>",
        api.ConversationDetailView.as_view(),
        name="api_conversation",
    ),
    path(
        "api/conversations/<int:pk>/messages",
        api.ConversationMessagesView.as_view(),
        name="api_conversation_messages",
    ),
    path("api/feedback", api.FeedbackView.as_view(), name="api_feedback"),
    path("api/flags", api.FlagView.as_view(), name="api_flags"),
    path("api/token", api.TokenView.as_view(), name="api_token"),
    re_path(r"^api/.*$", api.api_not_found),
]

urlpatterns = portal + agent + api_urls
