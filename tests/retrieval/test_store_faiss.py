"""The FAISS + BM25 store passes the store contract, for each dense index structure."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.dense_index import IndexParams
from retrieval.index import IndexStore
from retrieval.store import STORE_KINDS, ChunkIndexStore, open_store
from tests.retrieval.contract import IndexStoreContract


class TestFaissFlatStore(IndexStoreContract):
    def open_store(self, root: Path) -> ChunkIndexStore:
        return IndexStore(root, IndexParams(use_gpu=False))


class TestFaissHnswStore(IndexStoreContract):
    # HNSW cannot delete: every replace rebuilds its graph, which the contract covers.
    def open_store(self, root: Path) -> ChunkIndexStore:
        return IndexStore(root, IndexParams(ann_threshold=1, ann_kind="hnsw", use_gpu=False))


class TestFaissIvfStore(IndexStoreContract):
    def open_store(self, root: Path) -> ChunkIndexStore:
        return IndexStore(root, IndexParams(ann_threshold=1, ann_kind="ivf", use_gpu=False))


# One contract subclass per registered kind: a new store module adds its own.
CONTRACT_SUITES = {"faiss": TestFaissFlatStore}


def test_every_registered_store_kind_has_a_contract_suite():
    assert set(STORE_KINDS) == set(CONTRACT_SUITES)


def test_the_registry_opens_the_faiss_store(tmp_path):
    store = open_store("faiss", tmp_path, IndexParams(use_gpu=False))
    assert store.kind == "faiss" and isinstance(store, IndexStore)


def test_an_unknown_store_kind_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"unknown index store 'opensearch'.*faiss"):
        open_store("opensearch", tmp_path, IndexParams())


def test_misconfigured_index_store_setting_is_a_clear_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    from retrieval import services

    settings.INDEX_STORE = "nope"
    with pytest.raises(ImproperlyConfigured, match="INDEX_STORE: unknown index store 'nope'"):
        services.current_index_version()


def _strip_version(store: IndexStore, *, keep_locale_lexical: bool) -> None:
    """Make the current version look like an older format's (on disk, as it was written)."""
    import json
    import shutil

    manifest = store.read_manifest()
    assert manifest is not None
    folder = store.root / manifest["path"]
    info = json.loads((folder / "info.json").read_text())
    for path in folder.iterdir():
        if path.name.startswith("ml_"):
            path.unlink()
        elif path.name.startswith("lexical_es") and (
            not keep_locale_lexical or path.name.endswith("_public")
        ):
            shutil.rmtree(path)
    info.pop("ml")
    if not keep_locale_lexical:  # format 2: no per-language parts, chunks without a locale
        info.pop("lexical_locales")
        info["format"] = 2
        rows = json.loads((folder / "chunks.json").read_text())
        for row in rows:
            row.pop("locale")
        (folder / "chunks.json").write_text(json.dumps(rows))
    (folder / "info.json").write_text(json.dumps(info))


def test_a_format_2_version_loads_english_only(tmp_path):
    from tests.retrieval.contract import (
        _lexical,
        _ml_ids,
        _multilingual_chunks,
        _publish_multilingual,
    )

    store = IndexStore(tmp_path / "index", IndexParams(use_gpu=False))
    chunks = _multilingual_chunks()
    _publish_multilingual(store, chunks)
    _strip_version(store, keep_locale_lexical=False)
    old = IndexStore(tmp_path / "index", IndexParams(use_gpu=False)).current()  # a new process
    assert old is not None and dict(old.chunks).keys() == {c.chunk_id for c in chunks}
    assert {m.locale for m in old.chunks.values()} == {"en"}
    assert old.ml_model_id == "" and old.lexical_locales == frozenset()
    assert _ml_ids(old, 1, 1, public_only=False) == []
    assert _lexical(old, "router", public_only=True)  # English search as before


def test_a_version_without_public_language_indexes_derives_them(tmp_path):
    """wt-m15's own versions had lexical_<lang>/ only: the public twin is built on load."""
    from tests.retrieval.contract import (
        _internal_ids,
        _multilingual_chunks,
        _publish_multilingual,
        _spanish,
    )

    store = IndexStore(tmp_path / "index", IndexParams(use_gpu=False))
    chunks = _multilingual_chunks()
    _publish_multilingual(store, chunks)
    expected = _spanish(store.current(), "router verde", public_only=True)
    _strip_version(store, keep_locale_lexical=True)
    old = IndexStore(tmp_path / "index", IndexParams(use_gpu=False)).current()
    assert old is not None and old.lexical_locales == frozenset({"es"})
    assert _spanish(old, "router verde", public_only=True) == pytest.approx(expected)
    internal = _internal_ids(chunks)
    assert internal & set(_spanish(old, "reembolso router", public_only=False))  # control
    assert not internal & set(_spanish(old, "reembolso router", public_only=True))
