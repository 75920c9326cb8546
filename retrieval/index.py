"""FAISS vector index and the versioned on-disk index artifact (no ORM).

Layout of INDEX_DIR:
    manifest.json            {"version": ..., "path": "versions/<version>", ...}: the current one
    .lock                    flock'ed by writers around build + publish
    versions/<version>/      immutable once published:
        dense_all.faiss      every indexed chunk (internal audience)
        dense_public.faiss   public chunks only: public searches never see internal vectors
        chunks.json          chunk id -> article id, title, slug, visibility, heading, text
        lexical/             BM25 (bm25s) over the same chunks
        ml_all.faiss,        the multilingual dense leg (when MULTILINGUAL_EMBEDDING_BACKEND is
        ml_public.faiss      on): the same chunk ids, vectors of info["ml_model_id"]
        lexical_<lang>/      BM25 over the chunks of articles in <lang>, that language's analysis
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

import numpy as np

from retrieval.lexical import LexicalIndex
from retrieval.vocabulary import Vocabulary

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1


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
        if n < params.ann_threshold:
            kind = "flat"
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        elif params.ann_kind == "ivf":
            kind = "ivf"
            # sqrt(n) lists keeps k-means training cheap (seconds at 1M) and lets nprobe=64
            # scan enough of the data for recall@10 >= 0.95 (see bench_retrieval_speed).
            nlist = int(max(16, min(16384, np.sqrt(n))))
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
    """One loaded, immutable index version."""

    version: str
    model_id: str
    dimension: int
    dense_all: DenseIndex
    dense_public: DenseIndex
    lexical: LexicalIndex
    chunks: dict[int, ChunkMeta]
    folder: Path | None = None
    # The multilingual leg (issue 15), absent when switched off: its own model id, so vectors
    # of different models never meet; per-language BM25 for locales other than English.
    ml_model_id: str = ""
    ml_all: DenseIndex | None = None
    ml_public: DenseIndex | None = None
    lexical_by_locale: dict[str, LexicalIndex] = field(default_factory=dict)
    # The KB's English words with their multilingual query vectors (query translation).
    ml_vocab: Vocabulary | None = None


def build_locale_lexical(chunks: list[ChunkMeta], texts: list[str]) -> dict[str, LexicalIndex]:
    """One BM25 index per non-English locale, over that locale's chunks, in its analysis."""
    by_locale: dict[str, list[int]] = {}
    for i, meta in enumerate(chunks):
        if meta.locale and meta.locale != "en":
            by_locale.setdefault(meta.locale, []).append(i)
    return {
        locale: LexicalIndex.build(
            [texts[i] for i in rows],
            [chunks[i].chunk_id for i in rows],
            [chunks[i].visibility == "public" for i in rows],
            language=locale,
        )
        for locale, rows in by_locale.items()
    }


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

    ml_vectors (row per chunk, same order) adds the multilingual dense leg.
    """
    ids = np.array([c.chunk_id for c in chunks], dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, dimension)
    public = np.array([c.visibility == "public" for c in chunks], dtype=bool)
    ml_all = ml_public = None
    if ml_vectors is not None and ml_model_id:
        ml = np.asarray(ml_vectors, dtype=np.float32)
        ml_dim = ml.shape[-1] if ml.ndim == 2 and ml.shape[-1] else 384
        ml = ml.reshape(-1, ml_dim)
        ml_all = DenseIndex.build(ml, ids, dimension=ml_dim, params=params)
        ml_public = DenseIndex.build(ml[public], ids[public], dimension=ml_dim, params=params)
    return Snapshot(
        ml_model_id=ml_model_id if ml_all is not None else "",
        ml_all=ml_all,
        ml_public=ml_public,
        ml_vocab=ml_vocab if ml_all is not None else None,
        lexical_by_locale=build_locale_lexical(chunks, lexical_texts),
        version=new_version_name(),
        model_id=model_id,
        dimension=dimension,
        dense_all=DenseIndex.build(vectors, ids, dimension=dimension, params=params),
        dense_public=DenseIndex.build(
            vectors[public], ids[public], dimension=dimension, params=params
        ),
        lexical=LexicalIndex.build(lexical_texts, ids.tolist(), public.tolist()),
        chunks={c.chunk_id: c for c in chunks},
    )


class IndexStore:
    """Reads and publishes index versions under one INDEX_DIR."""

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
            chunks=chunks,
            folder=folder,
            **self._load_multilingual(folder, info),
        )

    def _load_multilingual(self, folder: Path, info: dict) -> dict:
        out: dict = {
            "lexical_by_locale": {
                locale: LexicalIndex.load(folder / f"lexical_{locale}")
                for locale in info.get("lexical_locales", [])
            }
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

    def publish(self, snapshot: Snapshot) -> dict:
        """Write `snapshot` as a new version and point the manifest at it (call under lock)."""
        versions = self.root / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        tmp = versions / f".tmp-{snapshot.version}"
        tmp.mkdir()
        try:
            snapshot.dense_all.save(tmp / "dense_all.faiss")
            snapshot.dense_public.save(tmp / "dense_public.faiss")
            snapshot.lexical.save(tmp / "lexical")
            for locale, lexical in snapshot.lexical_by_locale.items():
                lexical.save(tmp / f"lexical_{locale}")
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


def get_store(root: Path | str, params: IndexParams) -> IndexStore:
    """One IndexStore (and so one loaded snapshot) per process, INDEX_DIR and parameters."""
    key = (str(Path(root).resolve()), params)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = IndexStore(root, params)
        return store
