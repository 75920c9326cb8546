from django.apps import AppConfig

from retrieval.background import enqueue


def _on_published(sender, article_id: int, **kwargs) -> None:
    enqueue("index_article", article_id)


def _on_withdrawn(sender, article_id: int, **kwargs) -> None:
    enqueue("unindex_article", article_id)


def _on_bulk_changed(sender, **kwargs) -> None:
    enqueue("rebuild_index")


class RetrievalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "retrieval"

    def ready(self) -> None:
        from knowledge.signals import article_published, article_withdrawn, knowledge_bulk_changed

        article_published.connect(_on_published, dispatch_uid="retrieval.index_article")
        article_withdrawn.connect(_on_withdrawn, dispatch_uid="retrieval.unindex_article")
        knowledge_bulk_changed.connect(_on_bulk_changed, dispatch_uid="retrieval.rebuild_index")
        from retrieval import checks  # noqa: F401  (registers the model-file checks)
