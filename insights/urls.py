from django.urls import path

from insights import views

app_name = "insights"
urlpatterns = [
    path("", views.suggestion_list, name="suggestion_list"),
    path("mine/", views.mine_now, name="mine_now"),
    path("analytics/", views.analytics, name="analytics"),
    path("analytics/rows/", views.analytics_rows, name="analytics_rows"),
    path("suggestions/<int:pk>/", views.suggestion_detail, name="suggestion_detail"),
    path("suggestions/<int:pk>/accept/", views.suggestion_accept, name="suggestion_accept"),
    path("suggestions/<int:pk>/edit/", views.suggestion_edit, name="suggestion_edit"),
    path("suggestions/<int:pk>/dismiss/", views.suggestion_dismiss, name="suggestion_dismiss"),
    path("suggestions/<int:pk>/rerun/", views.suggestion_rerun, name="suggestion_rerun"),
]
