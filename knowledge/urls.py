from django.urls import path

from knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("", views.article_list, name="article_list"),
    path("articles/new/", views.article_create, name="article_create"),
    path("articles/<int:pk>/", views.article_detail, name="article_detail"),
    path("articles/<int:pk>/edit/", views.article_edit, name="article_edit"),
    path("articles/<int:pk>/history/", views.article_history, name="article_history"),
    path(
        "articles/<int:pk>/revisions/<int:number>/",
        views.revision_detail,
        name="revision_detail",
    ),
    path(
        "articles/<int:pk>/revisions/<int:number>/restore/",
        views.revision_restore,
        name="revision_restore",
    ),
    path("articles/<int:pk>/translate/", views.article_translate, name="article_translate"),
    path("articles/<int:pk>/<slug:action>/", views.article_action, name="article_action"),
    path("preview/", views.preview, name="preview"),
    path("review/", views.review_queue, name="review_queue"),
    path("audit/", views.audit_log, name="audit_log"),
    path("import/", views.import_articles, name="import"),
    path("export.jsonl", views.export_articles, name="export"),
]
