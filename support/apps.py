from django.apps import AppConfig


class SupportConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "support"

    def ready(self) -> None:
        from support import ratelimit  # noqa: F401  (connects the failed sign-in counter)
