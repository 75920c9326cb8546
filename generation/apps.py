import logging
import threading

from django.apps import AppConfig

logger = logging.getLogger(__name__)


def _log_llm_health() -> None:
    from generation.services import llm_health

    health = llm_health()
    if health["ok"]:
        logger.info("LLM ready: %s serves %s", health.get("base_url"), health.get("model"))
    else:
        logger.warning(
            "LLM not usable (%s): answers fall back to the extractive answerer until it is",
            health.get("error"),
        )


class GenerationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "generation"

    def ready(self) -> None:
        from generation import safety_store
        from generation.conf import llm_conf

        # Safety rules and responses come from the database (admin-editable) from now on.
        safety_store.install()

        # Say at start-up whether the configured LLM answers, without delaying start-up.
        llm = llm_conf()
        if llm.configured and llm.healthcheck_on_startup:
            threading.Thread(target=_log_llm_health, name="llm-health", daemon=True).start()
