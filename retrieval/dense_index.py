"""The dense (vector) leg of the FAISS + BM25 store: one FAISS index keyed by chunk id.

Split from `retrieval.index` (the versioned on-disk store) and `retrieval.snapshot` (one
version's indexes in memory) because the FAISS specifics (index kinds, GPU placement, in-place
updates) are their own concern: a snapshot holds several of these, the store saves them.
No ORM.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

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

    def clone(self, params: IndexParams) -> DenseIndex:
        """An independent copy to edit while searches keep using this one."""
        return DenseIndex(_faiss().clone_index(self.index), self.kind, self.dimension, params)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: Path) -> None:
        _faiss().write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, *, dimension: int, kind: str, params: IndexParams) -> DenseIndex:
        return cls(_faiss().read_index(str(path)), kind, dimension, params)
