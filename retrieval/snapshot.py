"""One index version in memory: chunk rows, their dense and BM25 indexes, and how a version
is built from scratch or from the current one with one article replaced (no ORM, no disk).

Split from `retrieval.index`, which keeps what concerns the disk (the versioned layout,
publishing, loading, backup): building and searching a version needs none of it, and the
other retrieval modules that only need `ChunkMeta` or `Snapshot` need none of it either.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from knowledge.audience import Audience
from retrieval.chunking import chunk_embedding_text
from retrieval.dense_index import DenseIndex, IndexParams
from retrieval.lexical import LexicalIndex, tokenize_for
from retrieval.vocabulary import Vocabulary


@dataclass
class ChunkMeta:
    chunk_id: int
    article_id: int
    title: str
    slug: str
    visibility: str
    heading_path: str
    text: str
    position: int = 0
    # The article's language (Article.locale, base code): picks the per-language lexical index
    # and lets a question prefer articles in its own language.
    locale: str = "en"


@dataclass
class Snapshot:
    """One loaded, immutable index version (a `retrieval.store.SearchableIndex`)."""

    version: str
    model_id: str
    dimension: int
    dense_all: DenseIndex
    dense_public: DenseIndex
    lexical: LexicalIndex
    chunks: dict[int, ChunkMeta]
    folder: Path | None = None
    # BM25 over public chunks alone; None only for snapshots built by hand (then derived).
    lexical_public: LexicalIndex | None = None
    # The multilingual leg (issue 15), absent when switched off: its own model id, so vectors
    # of different models never meet; per-language BM25 pairs (all chunks, public alone) for
    # locales other than English.
    ml_model_id: str = ""
    ml_all: DenseIndex | None = None
    ml_public: DenseIndex | None = None
    lexical_by_locale: dict[str, LexicalIndex] = field(default_factory=dict)
    lexical_public_by_locale: dict[str, LexicalIndex] = field(default_factory=dict)
    # The KB's English words with their multilingual query vectors (query translation).
    ml_vocab: Vocabulary | None = None

    def __post_init__(self) -> None:
        if self.lexical_public is None:
            self.lexical_public = _public_lexical(self.chunks)
        for locale in set(self.lexical_by_locale) - set(self.lexical_public_by_locale):
            self.lexical_public_by_locale[locale] = _public_lexical(self.chunks, locale)

    @property
    def index_kind(self) -> str:
        """The dense index structure of the internal audience's index: flat, ivf or hnsw."""
        return self.dense_all.kind

    def dense_search(
        self, vectors: np.ndarray, k: int, *, public_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) per query row from the audience's own vector index."""
        return (self.dense_public if public_only else self.dense_all).search(vectors, k)

    def lexical_search(
        self, query: str, *, k: int, public_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) from the audience's own BM25 index, best first."""
        if public_only:
            assert self.lexical_public is not None  # set in __post_init__
            return self.lexical_public.search(query, k=k, public_only=False)  # all public
        return self.lexical.search(query, k=k, public_only=False)

    # -- the multilingual leg (SearchableIndex) -------------------------------------------
    @property
    def lexical_locales(self) -> frozenset[str]:
        return frozenset(self.lexical_by_locale)

    def ml_dense_search(
        self, vectors: np.ndarray, k: int, *, public_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) per query row from the multilingual vectors; none without."""
        index = self.ml_public if public_only else self.ml_all
        if index is None:
            rows = np.atleast_2d(np.asarray(vectors)).shape[0]
            return np.zeros((rows, 0), dtype=np.float32), np.zeros((rows, 0), dtype=np.int64)
        return index.search(vectors, k)

    def locale_lexical_search(
        self, query: str, *, language: str, k: int, public_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) from `language`'s own BM25 index (its analysis), best first."""
        indexes = self.lexical_public_by_locale if public_only else self.lexical_by_locale
        index = indexes.get(language)
        if index is None:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        return index.search(query, k=k, public_only=False)


def lexical_text(meta: ChunkMeta) -> str:
    """What BM25 indexes for a chunk: the same title + headings + text that is embedded."""
    return chunk_embedding_text(title=meta.title, heading_path=meta.heading_path, text=meta.text)


def _public_lexical(chunks: dict[int, ChunkMeta], locale: str = "") -> LexicalIndex:
    """BM25 over the public chunks (of one non-English locale, when given)."""
    public = [
        m
        for m in chunks.values()
        if m.visibility == Audience.PUBLIC and (not locale or m.locale == locale)
    ]
    return LexicalIndex.build(
        [lexical_text(m) for m in public],
        [m.chunk_id for m in public],
        [True] * len(public),
        language=locale or "en",
    )


def build_locale_lexical(
    chunks: list[ChunkMeta], texts: list[str]
) -> tuple[dict[str, LexicalIndex], dict[str, LexicalIndex]]:
    """Per non-English locale, BM25 over that locale's chunks and over its public ones alone
    (one tokenization, in that language's analysis)."""
    by_locale: dict[str, list[int]] = {}
    for i, meta in enumerate(chunks):
        if meta.locale and meta.locale != "en":
            by_locale.setdefault(meta.locale, []).append(i)
    every: dict[str, LexicalIndex] = {}
    public_only: dict[str, LexicalIndex] = {}
    for locale, rows in by_locale.items():
        every[locale], public_only[locale] = _lexical_pair(
            [tokenize_for(texts[i], locale) for i in rows],
            np.array([chunks[i].chunk_id for i in rows], dtype=np.int64),
            np.array([chunks[i].visibility == Audience.PUBLIC for i in rows], dtype=bool),
            language=locale,
        )
    return every, public_only


def _ml_pair(
    vectors: np.ndarray, ids: np.ndarray, public: np.ndarray, params: IndexParams
) -> tuple[DenseIndex, DenseIndex]:
    """The multilingual dense indexes (every chunk, public ones alone) of one version."""
    ml = np.asarray(vectors, dtype=np.float32)
    ml_dim = int(ml.shape[-1]) if ml.ndim == 2 and ml.shape[-1] else 384
    ml = ml.reshape(-1, ml_dim)
    return (
        DenseIndex.build(ml, ids, dimension=ml_dim, params=params),
        DenseIndex.build(ml[public], ids[public], dimension=ml_dim, params=params),
    )


def new_version_name() -> str:
    # Sortable by time (names order pruning), unique across processes.
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now / 1e9))
    return f"{stamp}-{now % 1_000_000_000:09d}-{uuid.uuid4().hex[:6]}"


def build_snapshot(
    *,
    chunks: list[ChunkMeta],
    vectors: np.ndarray,
    lexical_texts: list[str],
    model_id: str,
    dimension: int,
    params: IndexParams,
    ml_vectors: np.ndarray | None = None,
    ml_model_id: str = "",
    ml_vocab: Vocabulary | None = None,
) -> Snapshot:
    """Build every index of one version in memory from chunk rows and their vectors.

    ml_vectors (row per chunk, same order) of the model `ml_model_id` add the multilingual
    dense leg; ml_vocab its query translation.
    """
    ids = np.array([c.chunk_id for c in chunks], dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, dimension)
    public = np.array([c.visibility == Audience.PUBLIC for c in chunks], dtype=bool)
    lexical, lexical_public = _lexical_pair(
        [tokenize_for(t, "en") for t in lexical_texts], ids, public
    )
    ml_all = ml_public = None
    if ml_vectors is not None and ml_model_id:
        ml_all, ml_public = _ml_pair(ml_vectors, ids, public, params)
    by_locale, public_by_locale = build_locale_lexical(chunks, lexical_texts)
    return Snapshot(
        ml_model_id=ml_model_id if ml_all is not None else "",
        ml_all=ml_all,
        ml_public=ml_public,
        ml_vocab=ml_vocab if ml_all is not None else None,
        lexical_by_locale=by_locale,
        lexical_public_by_locale=public_by_locale,
        version=new_version_name(),
        model_id=model_id,
        dimension=dimension,
        dense_all=DenseIndex.build(vectors, ids, dimension=dimension, params=params),
        dense_public=DenseIndex.build(
            vectors[public], ids[public], dimension=dimension, params=params
        ),
        lexical=lexical,
        lexical_public=lexical_public,
        chunks={c.chunk_id: c for c in chunks},
    )


def _lexical_pair(
    tokens: list[list[str]], ids: np.ndarray, public: np.ndarray, *, language: str = "en"
) -> tuple[LexicalIndex, LexicalIndex]:
    """BM25 over every chunk and over the public ones alone, from one tokenization."""
    return (
        LexicalIndex.build_from_tokens(tokens, ids.tolist(), public.tolist(), language=language),
        LexicalIndex.build_from_tokens(
            [t for t, p in zip(tokens, public, strict=True) if p],
            ids[public].tolist(),
            [True] * int(public.sum()),
            language=language,
        ),
    )


def replace_article(
    current: Snapshot,
    *,
    article_id: int,
    chunks: list[ChunkMeta],
    vectors: np.ndarray,
    params: IndexParams,
    ml_vectors: np.ndarray | None = None,
) -> Snapshot:
    """A copy of `current` with the article's chunks replaced by `chunks` (incremental).

    ml_vectors: the chunks' multilingual vectors (of `current.ml_model_id`); without them
    the copy has no multilingual leg (English-only, never stale).
    """
    old_ids = np.array(
        [cid for cid, m in current.chunks.items() if m.article_id == article_id], dtype=np.int64
    )
    kept = {cid: m for cid, m in current.chunks.items() if m.article_id != article_id}
    dim = current.dimension
    add_ids = np.array([m.chunk_id for m in chunks], dtype=np.int64)
    add_vecs = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
    public = np.array([m.visibility == Audience.PUBLIC for m in chunks], dtype=bool)
    dense = {}
    for name, mask in (("all", np.ones(len(chunks), dtype=bool)), ("public", public)):
        src: DenseIndex = getattr(current, f"dense_{name}")
        # Searches in this process keep using `current` while the copy is edited.
        copy = src.clone(params)
        copy.update(remove=old_ids, add_vectors=add_vecs[mask], add_ids=add_ids[mask])
        dense[name] = copy
    ml: dict[str, DenseIndex | None] = {"all": None, "public": None}
    if ml_vectors is not None and current.ml_all is not None and current.ml_public is not None:
        ml_vecs = np.asarray(ml_vectors, dtype=np.float32).reshape(-1, current.ml_all.dimension)
        for name, mask in (("all", np.ones(len(chunks), dtype=bool)), ("public", public)):
            ml_src = current.ml_all if name == "all" else current.ml_public
            ml_copy = ml_src.clone(params)
            ml_copy.update(remove=old_ids, add_vectors=ml_vecs[mask], add_ids=add_ids[mask])
            ml[name] = ml_copy
    for meta in chunks:
        kept[meta.chunk_id] = meta
    ordered = list(kept.values())
    texts = [lexical_text(m) for m in ordered]
    lexical, lexical_public = _lexical_pair(
        [tokenize_for(t, "en") for t in texts],
        np.array([m.chunk_id for m in ordered], dtype=np.int64),
        np.array([m.visibility == Audience.PUBLIC for m in ordered], dtype=bool),
    )
    by_locale, public_by_locale = build_locale_lexical(ordered, texts)
    return Snapshot(
        version=new_version_name(),
        model_id=current.model_id,
        dimension=dim,
        dense_all=dense["all"],
        dense_public=dense["public"],
        lexical=lexical,
        lexical_public=lexical_public,
        chunks=kept,
        ml_model_id=current.ml_model_id if ml["all"] is not None else "",
        ml_all=ml["all"],
        ml_public=ml["public"],
        lexical_by_locale=by_locale,
        lexical_public_by_locale=public_by_locale,
        # The vocabulary follows full rebuilds (a new article's new words wait for the next).
        ml_vocab=current.ml_vocab if ml["all"] is not None else None,
    )
