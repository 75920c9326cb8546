"""The FAISS + BM25 index store: vector index and the versioned on-disk artifact (no ORM).

`FaissBm25Store` (alias `IndexStore`) implements `retrieval.store.ChunkIndexStore`; nothing
outside retrieval reads this module's formats.

Layout of INDEX_DIR:
    manifest.json            {"version": ..., "path": "versions/<version>", ...}: the current one
    .lock                    flock'ed by writers around build + publish
    versions/<version>/      immutable once published:
        dense_all.faiss      every indexed chunk (internal audience)
        dense_public.faiss   public chunks only: public searches never see internal vectors
        chunks.json          chunk id -> article id, title, slug, visibility, heading, text
        lexical/             BM25 (bm25s) over the same chunks (internal audience)
        lexical_public/      BM25 over public chunks only: its term statistics (IDF, average
                             length) never move when internal articles change
        ml_all.faiss,        the multilingual dense leg (when MULTILINGUAL_EMBEDDING_BACKEND is
        ml_public.faiss      on): the same chunk ids, vectors of info["ml"]["model_id"]
        ml_vocab.json, .npy  the KB's English words with their multilingual query vectors
        lexical_<lang>/,     BM25 over the chunks of articles in <lang>, that language's
        lexical_<lang>_public/  analysis (all chunks / public ones alone, as above)
        info.json

A version is written to a temporary folder, fsynced, renamed into place, and only then does
manifest.json move to it (write temp + fsync + os.replace). Readers check the manifest's stat
on every search (one syscall) and load a new version when it changes, so web and worker
processes pick up new versions without restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge.audience import Audience
from retrieval.chunking import chunk_embedding_text
from retrieval.lexical import LexicalIndex, tokenize_for
from retrieval.vocabulary import Vocabulary

if TYPE_CHECKING:
    from retrieval.store import SearchableIndex

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# 2: lexical_public/ (format-1 versions load and build it in memory).
# 3: the multilingual leg (ml_*.faiss, vocabulary) and per-language BM25 (lexical_<lang>/,
# lexical_<lang>_public/), chunk rows with their locale. Older versions load without them
# (every chunk English); a foreign question then asks for one rebuild (retrieval.services).
FORMAT = 3
IVF_MIN_LISTS = 16


@dataclass(frozen=True)
class IndexParams:
    ann_threshold: int = 50_000
    # IVF by default: it deletes and adds in place, so one article's update stays cheap;
    # HNSW searches a little better but cannot delete (an update rebuilds the graph).
    ann_kind: str = "ivf"  # "ivf" | "hnsw"
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    ivf_nprobe: int = 64
    # Probe at least 1/8 of the lists (large indexes have more lists than nprobe covers).
    ivf_nprobe_auto: bool = True
    use_gpu: bool = True
    keep_versions: int = 3
    # OpenMP threads for a search: 1 is fastest for single queries on busy machines (FAISS's
    # thread start-up costs more than it saves below ~1M vectors); builds use every core.
    search_threads: int = 1


def _faiss():
    import faiss

    return faiss


def _set_threads(n: int) -> None:
    faiss = _faiss()
    n = max(1, n or (os.cpu_count() or 1))
    if faiss.omp_get_max_threads() != n:
        faiss.omp_set_num_threads(n)


def gpu_available() -> bool:
    """True when this faiss build has GPU support and a GPU is visible."""
    faiss = _faiss()
    try:
        return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    except Exception:
        return False


class DenseIndex:
    """Inner-product search over L2-normalised vectors keyed by chunk id.

    Exact (IndexIDMap over IndexFlatIP) below `ann_threshold` vectors; HNSW or IVF above it.
    """

    def __init__(self, index, kind: str, dimension: int, params: IndexParams):
        self.index = index  # CPU index: what gets saved and updated
        self.kind = kind
        self.dimension = dimension
        self.params = params
        self._search_index = None  # GPU copy, when one is used
        self._apply_search_params()

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(
        cls, vectors: np.ndarray, ids: np.ndarray, *, dimension: int, params: IndexParams
    ) -> DenseIndex:
        """A new index holding `vectors` under `ids` (int64 chunk ids)."""
        faiss = _faiss()
        _set_threads(0)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        n = len(ids)
        # IVF's k-means needs at least one point per list: fewer vectors than that (say, the
        # public share of a mostly internal KB) are searched exactly instead of failing.
        if n < params.ann_threshold or (params.ann_kind == "ivf" and n < IVF_MIN_LISTS):
            kind = "flat"
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        elif params.ann_kind == "ivf":
            kind = "ivf"
            # sqrt(n) lists keeps k-means training cheap (seconds at 1M) and lets nprobe=64
            # scan enough of the data for recall@10 >= 0.95 (see bench_retrieval_speed).
            nlist = int(max(IVF_MIN_LISTS, min(16384, np.sqrt(n))))
            quantizer = faiss.IndexFlatIP(dimension)
            index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
            train = vectors
            if n > nlist * 64:  # k-means needs ~40-256 points per list, not all of them
                rng = np.random.default_rng(0)
                train = vectors[rng.choice(n, nlist * 64, replace=False)]
            index.train(train)
        else:
            kind = "hnsw"
            hnsw = faiss.IndexHNSWFlat(dimension, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = max(40, params.hnsw_m * 2)
            index = faiss.IndexIDMap2(hnsw)
        if n:
            index.add_with_ids(vectors, ids)
        return cls(index, kind, dimension, params)

    def _apply_search_params(self) -> None:
        faiss = _faiss()
        if self.kind == "hnsw":
            faiss.downcast_index(self.index.index).hnsw.efSearch = self.params.hnsw_ef_search
        elif self.kind == "ivf":
            nprobe = self.params.ivf_nprobe
            if self.params.ivf_nprobe_auto:
                nprobe = max(nprobe, self.index.nlist // 8)
            self.index.nprobe = min(nprobe, self.index.nlist)
        self._search_index = None
        # HNSW has no GPU implementation; flat and IVF move to the GPU when there is one.
        if self.params.use_gpu and self.kind in ("flat", "ivf") and gpu_available():
            try:
                res = faiss.StandardGpuResources()
                self._search_index = faiss.index_cpu_to_gpu(res, 0, self.index)
                self._gpu_resources = res
            except Exception:  # a GPU that cannot take the index: stay on CPU
                logger.warning("FAISS GPU placement failed; searching on CPU", exc_info=True)
                self._search_index = None

    @property
    def on_gpu(self) -> bool:
        return self._search_index is not None

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    # -- reading --------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) for each query row; ids of -1 mean 'no more vectors'."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1, self.dimension)
        if self.ntotal == 0 or k <= 0:
            empty = np.zeros((len(query), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        index = self._search_index or self.index
        _set_threads(self.params.search_threads)
        return index.search(query, min(k, self.ntotal))

    def ids(self) -> np.ndarray:
        faiss = _faiss()
        if self.kind == "ivf":
            invlists = self.index.invlists
            out = []
            for list_no in range(self.index.nlist):
                size = invlists.list_size(list_no)
                if size:
                    ptr = invlists.get_ids(list_no)
                    out.append(faiss.rev_swig_ptr(ptr, size).copy())
            return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def vectors_for(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors for `ids` (used to rebuild structures that cannot delete)."""
        return (
            np.vstack([self.index.reconstruct(int(i)) for i in ids])
            if len(ids)
            else (np.zeros((0, self.dimension), dtype=np.float32))
        )

    # -- updating -------------------------------------------------------------------------
    def update(self, *, remove: np.ndarray, add_vectors: np.ndarray, add_ids: np.ndarray) -> None:
        """Remove then add vectors in place (HNSW cannot delete: it is rebuilt instead)."""
        faiss = _faiss()
        remove = np.ascontiguousarray(remove, dtype=np.int64)
        add_vectors = np.ascontiguousarray(add_vectors, dtype=np.float32).reshape(
            -1, self.dimension
        )
        add_ids = np.ascontiguousarray(add_ids, dtype=np.int64)
        if self.kind == "hnsw" and len(remove):
            keep = np.setdiff1d(self.ids(), remove)
            vectors = np.vstack([self.vectors_for(keep), add_vectors])
            rebuilt = DenseIndex.build(
                vectors,
                np.concatenate([keep, add_ids]),
                dimension=self.dimension,
                params=self.params,
            )
            self.index, self.kind = rebuilt.index, rebuilt.kind
        else:
            if len(remove):
                self.index.remove_ids(faiss.IDSelectorBatch(remove))
            if len(add_ids):
                self.index.add_with_ids(add_vectors, add_ids)
        self._apply_search_params()

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: Path) -> None:
        _faiss().write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, *, dimension: int, kind: str, params: IndexParams) -> DenseIndex:
        return cls(_faiss().read_index(str(path)), kind, dimension, params)


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


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems cannot fsync a directory
        _fsync_file(path)


def _write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


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
    faiss = _faiss()
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
        copy = DenseIndex(faiss.clone_index(src.index), src.kind, dim, params)
        copy.update(remove=old_ids, add_vectors=add_vecs[mask], add_ids=add_ids[mask])
        dense[name] = copy
    ml: dict[str, DenseIndex | None] = {"all": None, "public": None}
    if ml_vectors is not None and current.ml_all is not None and current.ml_public is not None:
        ml_vecs = np.asarray(ml_vectors, dtype=np.float32).reshape(-1, current.ml_all.dimension)
        for name, mask in (("all", np.ones(len(chunks), dtype=bool)), ("public", public)):
            ml_src = current.ml_all if name == "all" else current.ml_public
            ml_copy = DenseIndex(
                faiss.clone_index(ml_src.index), ml_src.kind, ml_src.dimension, params
            )
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


def _own(snapshot: SearchableIndex) -> Snapshot:
    """This store's own snapshot type (a store is only ever handed back what it built)."""
    if not isinstance(snapshot, Snapshot):
        raise TypeError(f"the FAISS store cannot publish a {type(snapshot).__name__}")
    return snapshot


class IndexStore:
    """Reads and publishes FAISS + BM25 index versions under one INDEX_DIR.

    The `retrieval.store.ChunkIndexStore` implementation registered as "faiss".
    """

    kind = "faiss"

    def __init__(self, root: Path | str, params: IndexParams):
        self.root = Path(root)
        self.params = params
        self._loaded: Snapshot | None = None
        self._stat_key: tuple | None = None
        self._lock = threading.Lock()

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @contextlib.contextmanager
    def write_lock(self, timeout: float = 600.0) -> Iterator[None]:
        """Exclusive across processes (flock on INDEX_DIR/.lock): one writer at a time."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a+") as fh:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"index lock {self.root}/.lock held too long") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- building (ChunkIndexStore) ----------------------------------------------------------
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
    ) -> Snapshot:
        """A complete new snapshot in memory (publish it to make it current)."""
        return build_snapshot(
            chunks=chunks,
            vectors=vectors,
            lexical_texts=lexical_texts,
            model_id=model_id,
            dimension=dimension,
            params=self.params,
            ml_vectors=ml_vectors,
            ml_model_id=ml_model_id,
            ml_vocab=ml_vocab,
        )

    def replace_article(
        self,
        current: SearchableIndex,
        *,
        article_id: int,
        chunks: list[ChunkMeta],
        vectors: np.ndarray,
        ml_vectors: np.ndarray | None = None,
    ) -> Snapshot:
        """`current` with one article's chunks replaced (no chunks: the article removed)."""
        return replace_article(
            _own(current),
            article_id=article_id,
            chunks=chunks,
            vectors=vectors,
            params=self.params,
            ml_vectors=ml_vectors,
        )

    def read_manifest(self) -> dict | None:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def current(self) -> Snapshot | None:
        """The published snapshot, reloaded only when the manifest changed (cheap stat)."""
        try:
            st = os.stat(self.manifest_path)
        except FileNotFoundError:
            return None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key == self._stat_key and self._loaded is not None:
            return self._loaded
        with self._lock:
            if key == self._stat_key and self._loaded is not None:
                return self._loaded
            for _attempt in range(3):
                try:
                    manifest = self.read_manifest()
                    if manifest is None:
                        return None
                    if self._loaded is not None and manifest["version"] == self._loaded.version:
                        self._stat_key = key
                        return self._loaded
                    snapshot = self.load_version(manifest)
                except FileNotFoundError:
                    # Pruned between reading the manifest and loading: read it again.
                    time.sleep(0.05)
                    continue
                except (ValueError, KeyError, TypeError, RuntimeError, OSError):
                    # A corrupted manifest or version is derived data: report "no index" so
                    # the caller rebuilds it from the database instead of failing requests.
                    logger.exception("index at %s is unreadable: it will be rebuilt", self.root)
                    return None
                self._loaded, self._stat_key = snapshot, key
                logger.info("loaded index %s (%d chunks)", snapshot.version, len(snapshot.chunks))
                return snapshot
        return self._loaded

    def load_version(self, manifest: dict) -> Snapshot:
        folder = self.root / manifest["path"]
        info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
        dimension = int(info["dimension"])
        rows = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
        chunks = {int(r["chunk_id"]): ChunkMeta(**r) for r in rows}
        public_folder = folder / "lexical_public"
        return Snapshot(
            version=manifest["version"],
            model_id=info["model_id"],
            dimension=dimension,
            dense_all=DenseIndex.load(
                folder / "dense_all.faiss",
                dimension=dimension,
                kind=info["kinds"]["all"],
                params=self.params,
            ),
            dense_public=DenseIndex.load(
                folder / "dense_public.faiss",
                dimension=dimension,
                kind=info["kinds"]["public"],
                params=self.params,
            ),
            lexical=LexicalIndex.load(folder / "lexical"),
            # A format-1 version has none: derived from its chunks on load.
            lexical_public=LexicalIndex.load(public_folder) if public_folder.is_dir() else None,
            chunks=chunks,
            folder=folder,
            **self._load_multilingual(folder, info),
        )

    def _load_multilingual(self, folder: Path, info: dict) -> dict:
        """The multilingual parts of a format-3 version (none in older ones)."""
        locales = info.get("lexical_locales", [])
        out: dict = {
            "lexical_by_locale": {
                locale: LexicalIndex.load(folder / f"lexical_{locale}") for locale in locales
            },
            # Missing ones are derived from the chunks in __post_init__.
            "lexical_public_by_locale": {
                locale: LexicalIndex.load(folder / f"lexical_{locale}_public")
                for locale in locales
                if (folder / f"lexical_{locale}_public").is_dir()
            },
        }
        ml = info.get("ml")
        if ml:
            for name in ("all", "public"):
                out[f"ml_{name}"] = DenseIndex.load(
                    folder / f"ml_{name}.faiss",
                    dimension=int(ml["dimension"]),
                    kind=ml["kinds"][name],
                    params=self.params,
                )
            out["ml_model_id"] = ml["model_id"]
            out["ml_vocab"] = Vocabulary.load(folder)
        return out

    def publish(self, snapshot: SearchableIndex) -> dict:
        """Write `snapshot` as a new version and point the manifest at it (call under lock)."""
        snapshot = _own(snapshot)
        versions = self.root / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        tmp = versions / f".tmp-{snapshot.version}"
        tmp.mkdir()
        try:
            snapshot.dense_all.save(tmp / "dense_all.faiss")
            snapshot.dense_public.save(tmp / "dense_public.faiss")
            snapshot.lexical.save(tmp / "lexical")
            if snapshot.lexical_public is not None:
                snapshot.lexical_public.save(tmp / "lexical_public")
            for locale, lexical in snapshot.lexical_by_locale.items():
                lexical.save(tmp / f"lexical_{locale}")
            for locale, lexical in snapshot.lexical_public_by_locale.items():
                lexical.save(tmp / f"lexical_{locale}_public")
            ml_info = None
            if snapshot.ml_all is not None and snapshot.ml_public is not None:
                snapshot.ml_all.save(tmp / "ml_all.faiss")
                snapshot.ml_public.save(tmp / "ml_public.faiss")
                if snapshot.ml_vocab is not None:
                    snapshot.ml_vocab.save(tmp)
                ml_info = {
                    "model_id": snapshot.ml_model_id,
                    "dimension": snapshot.ml_all.dimension,
                    "kinds": {"all": snapshot.ml_all.kind, "public": snapshot.ml_public.kind},
                }
            with (tmp / "chunks.json").open("w", encoding="utf-8") as fh:
                json.dump([asdict(c) for c in snapshot.chunks.values()], fh)
            info = {
                "format": FORMAT,
                "version": snapshot.version,
                "model_id": snapshot.model_id,
                "dimension": snapshot.dimension,
                "chunks": len(snapshot.chunks),
                "public_chunks": snapshot.dense_public.ntotal,
                "kinds": {"all": snapshot.dense_all.kind, "public": snapshot.dense_public.kind},
                "ml": ml_info,
                "lexical_locales": sorted(snapshot.lexical_by_locale),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            (tmp / "info.json").write_text(json.dumps(info), encoding="utf-8")
            for path in tmp.rglob("*"):
                if path.is_file():
                    _fsync_file(path)
            final = versions / snapshot.version
            os.replace(tmp, final)
            _fsync_dir(versions)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        manifest = {**info, "path": f"versions/{snapshot.version}"}
        _write_json_atomic(self.manifest_path, manifest)
        snapshot.folder = final
        self._prune(keep=snapshot.version)
        return manifest

    # -- backup (ChunkIndexStore) ------------------------------------------------------------
    def export_current(self, dest: Path) -> dict | None:
        """Copy the manifest and the current version (nothing older) into `dest`."""
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        source = self.root / manifest["path"]
        if not source.is_dir():
            return None
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, dest / manifest["path"])
        shutil.copy2(self.manifest_path, dest / MANIFEST)
        return manifest

    def import_published(self, src: Path) -> Snapshot | None:
        """Make the version exported into `src` current here; None when `src` holds none."""
        try:
            manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / manifest["path"]
        if not target.exists():
            shutil.copytree(src / manifest["path"], target)
        tmp = self.root / f".{MANIFEST}.{uuid.uuid4().hex}.restore-tmp"
        shutil.copy2(src / MANIFEST, tmp)
        os.replace(tmp, self.manifest_path)
        self._loaded, self._stat_key = None, None
        return self.current()

    def _prune(self, *, keep: str) -> None:
        versions = self.root / "versions"
        keep_n = max(2, self.params.keep_versions)
        folders = sorted(
            (p for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.name,
        )
        for old in folders[:-keep_n]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)
        # Leftovers of writers that crashed mid-build.
        for tmp in versions.glob(".tmp-*"):
            if time.time() - tmp.stat().st_mtime > 3600:
                shutil.rmtree(tmp, ignore_errors=True)


_stores: dict[tuple, IndexStore] = {}
_stores_lock = threading.Lock()


FaissBm25Store = IndexStore


def get_store(root: Path | str, params: IndexParams) -> IndexStore:
    """One IndexStore (and so one loaded snapshot) per process, INDEX_DIR and parameters."""
    key = (str(Path(root).resolve()), params)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = IndexStore(root, params)
        return store
