"""Signals other apps subscribe to, so that knowledge never imports them.

Both are sent after the transaction that changed the article commits.
"""

from django.dispatch import Signal

# kwargs: article_id
article_published = Signal()
# kwargs: article_id (archived or deleted: its chunks must leave the indexes)
article_withdrawn = Signal()
# kwargs: none. Many articles changed at once (an import): indexers catch up in one pass
# instead of once per article.
knowledge_bulk_changed = Signal()
