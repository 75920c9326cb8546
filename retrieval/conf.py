"""Retrieval's settings as one typed object, so call sites never repeat names or defaults.

Read from `django.conf.settings` (which alone reads the environment) on each call: cheap,
and tests that override settings see their values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from retrieval.dense_index import IndexParams


@dataclass(frozen=True)
class RetrievalConf:
    index_dir: Path
    index_store: str
    embedding_backend: str
    index: IndexParams
    search_mode: str
    rescore_order_model: str
    search_dense_weight: float
    search_spell_correction: bool
    search_max_query_chars: int
    reranker_model: str
    chunk_target_tokens: int
    chunk_overlap_tokens: int
    multilingual_dense_weight: float
    multilingual_same_language_boost: float


def retrieval_conf() -> RetrievalConf:
    """The current retrieval settings."""
    return RetrievalConf(
        index_dir=Path(settings.INDEX_DIR),
        index_store=settings.INDEX_STORE,
        embedding_backend=settings.EMBEDDING_BACKEND,
        index=IndexParams(
            ann_threshold=settings.INDEX_ANN_THRESHOLD,
            ann_kind=settings.INDEX_ANN_KIND,
            hnsw_m=settings.INDEX_HNSW_M,
            hnsw_ef_search=settings.INDEX_HNSW_EF_SEARCH,
            ivf_nprobe=settings.INDEX_IVF_NPROBE,
            use_gpu=settings.INDEX_USE_GPU,
            keep_versions=settings.INDEX_KEEP_VERSIONS,
            search_threads=settings.INDEX_SEARCH_THREADS,
        ),
        search_mode=settings.SEARCH_MODE,
        rescore_order_model=settings.RESCORE_ORDER_MODEL,
        search_dense_weight=settings.SEARCH_DENSE_WEIGHT,
        search_spell_correction=settings.SEARCH_SPELL_CORRECTION,
        search_max_query_chars=settings.SEARCH_MAX_QUERY_CHARS,
        reranker_model=settings.RERANKER_MODEL,
        chunk_target_tokens=settings.CHUNK_TARGET_TOKENS,
        chunk_overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
        multilingual_dense_weight=settings.MULTILINGUAL_DENSE_WEIGHT,
        multilingual_same_language_boost=settings.MULTILINGUAL_SAME_LANGUAGE_BOOST,
    )
