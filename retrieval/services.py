"""Public entry points of retrieval. (Interface fixed here; implemented by the retrieval work.)"""

from __future__ import annotations

from retrieval.types import SearchResult


def search(
    query: str,
    *,
    audience: str,
    top_k: int = 10,
    mode: str = "hybrid",
) -> SearchResult:
    """Hybrid search over published chunks the audience may see ('public' or 'internal').

    mode: 'hybrid' (default), 'dense', 'lexical' or 'hybrid+rerank'.
    """
    raise NotImplementedError("retrieval.search is being implemented")
