"""The FAISS + BM25 store passes the store contract, for each dense index structure."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.index import IndexParams, IndexStore
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
