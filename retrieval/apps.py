import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


def _enqueue(task_name: str, *args) -> None:
    """Send an indexing task; a broker outage is logged, never raised into the publisher."""
    from django.conf import settings

    from retrieval import background, tasks

    task = getattr(tasks, task_name)
    if settings.CELERY_TASK_ALWAYS_EAGER and background.enabled():
        # No broker, serving process: off the request thread (retrieval/background.py).
        background.submit(task_name, lambda: task.apply(args=args, throw=True))
        return
    try:
        task.delay(*args)
    except Exception:
        logger.exception("could not enqueue %s%r: run rebuild_index later", task_name, args)


def _on_published(sender, article_id: int, **kwargs) -> None:
    _enqueue("index_article", article_id)


def _on_withdrawn(sender, article_id: int, **kwargs) -> None:
    _enqueue("unindex_article", article_id)


def _on_bulk_changed(sender, **kwargs) -> None:
    _enqueue("rebuild_index")


class RetrievalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "retrieval"

    def ready(self) -> None:
        from knowledge.signals import article_published, article_withdrawn, knowledge_bulk_changed

        article_published.connect(_on_published, dispatch_uid="retrieval.index_article")
        article_withdrawn.connect(_on_withdrawn, dispatch_uid="retrieval.unindex_article")
        knowledge_bulk_changed.connect(_on_bulk_changed, dispatch_uid="retrieval.rebuild_index")
