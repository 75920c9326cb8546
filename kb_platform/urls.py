from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from support.ratelimit import ThrottledLoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    # The portal's language switcher posts here (Django's set_language view).
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "accounts/login/",
        ThrottledLoginView.as_view(),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("editor/", include("knowledge.urls")),
    path("insights/", include("insights.urls")),
    path("", include("support.urls")),
]
