from django.apps import AppConfig


class SupportConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "support"

    def ready(self) -> None:
        # Signal receivers: the failed sign-in counter, token revocation on password change.
        from support import ratelimit, tokens  # noqa: F401
