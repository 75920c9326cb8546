"""The chunk index store seam: what search, indexing and backup need from an index (no ORM).

A store keeps searchable versions of the published chunks (dense vectors + lexical index,
one of each per audience), publishes new versions atomically and lets every process see the
newest one. `retrieval.services` is its only caller: insights and backups go through the
services' public functions, never through a store's files.

Adding a store (e.g. on OpenSearch or Qdrant, see the README's "Scaling out") is one module
holding a class that satisfies `ChunkIndexStore` plus one line in `STORE_KINDS`; the
contract suite in `tests/retrieval/contract.py` says what it must do, and its test module
subclasses that suite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.dense_index import IndexParams
from retrieval.index import IndexStore, get_store
from retrieval.snapshot import ChunkMeta
from retrieval.vocabulary import Vocabulary


class SearchableIndex(Protocol):
    """One immutable, published version of the index."""

    @property
    def version(self) -> str: ...

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def chunks(self) -> Mapping[int, ChunkMeta]: ...

    @property
    def index_kind(self) -> str: ...

    def dense_search(
        self, vectors: np.ndarray, k: int, *, public_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) per query row, best first; public_only sees public chunks only
        and ids of -1 pad a row that has fewer than k."""
        ...

    def lexical_search(
        self, query: str, *, k: int, public_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) with a positive score, best first. A public search's scores
        depend on public chunks only (their own term statistics)."""
        ...

    # -- the multilingual leg (issue 15): empty in a version built without it ---------------
    @property
    def ml_model_id(self) -> str:
        """The multilingual model whose vectors `ml_dense_search` holds ("" when none)."""
        ...

    @property
    def ml_vocab(self) -> Vocabulary | None:
        """The KB's English words with multilingual query vectors (query translation)."""
        ...

    @property
    def lexical_locales(self) -> frozenset[str]:
        """The non-English languages that have their own BM25 index."""
        ...

    def ml_dense_search(
        self, vectors: np.ndarray, k: int, *, public_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `dense_search`, over the multilingual vectors (no hits when there are none)."""
        ...

    def locale_lexical_search(
        self, query: str, *, language: str, k: int, public_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `lexical_search`, over the chunks of articles in `language`, in its analysis
        (no hits for a language without its own index)."""
        ...


class ChunkIndexStore(Protocol):
    """Builds, publishes and serves versions of the chunk index."""

    kind: str

    def write_lock(self, timeout: float = 600.0) -> AbstractContextManager[None]:
        """Exclusive across processes: one writer builds and publishes at a time."""
        ...

    def current(self) -> SearchableIndex | None:
        """The newest published version (cheap to call on every search), or None."""
        ...

    def build(
        self,
        *,
        chunks: list[ChunkMeta],
        vectors: np.ndarray,
        lexical_texts: list[str],
        model_id: str,
        dimension: int,
        ml_vectors: np.ndarray | None = None,
        ml_model_id: str = "",
        ml_vocab: Vocabulary | None = None,
    ) -> SearchableIndex:
        """A complete new version in memory, not yet visible to searches. ml_vectors (a row
        per chunk) of `ml_model_id` add the multilingual leg."""
        ...

    def replace_article(
        self,
        current: SearchableIndex,
        *,
        article_id: int,
        chunks: list[ChunkMeta],
        vectors: np.ndarray,
        ml_vectors: np.ndarray | None = None,
    ) -> SearchableIndex:
        """`current` with one article's chunks replaced (none: the article removed).
        Without ml_vectors the result has no multilingual leg."""
        ...

    def publish(self, snapshot: SearchableIndex) -> dict:
        """Make `snapshot` current for every process (call under write_lock); its manifest,
        holding at least "version" and "chunks"."""
        ...

    def export_current(self, dest: Path) -> dict | None:
        """Copy the current version into the folder `dest` (a backup); its manifest or None."""
        ...

    def import_published(self, src: Path) -> SearchableIndex | None:
        """Make the version exported into `src` current here; None when there is none."""
        ...


StoreFactory = Callable[[Path, IndexParams], ChunkIndexStore]


def _faiss_store(root: Path, params: IndexParams) -> IndexStore:
    return get_store(root, params)


# INDEX_STORE names one of these.
STORE_KINDS: dict[str, StoreFactory] = {
    "faiss": _faiss_store,
}


def open_store(kind: str, root: Path, params: IndexParams) -> ChunkIndexStore:
    """The store INDEX_STORE names (one instance per process and configuration)."""
    try:
        factory = STORE_KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown index store {kind!r}: choose one of {', '.join(sorted(STORE_KINDS))}"
        ) from None
    return factory(root, params)
