"""The chunk index store contract: what every `retrieval.store.ChunkIndexStore` must do.

A store's test module subclasses `IndexStoreContract` and provides `open_store(root)`
(root: a folder the store may use; two calls with the same root act as two processes
sharing one deployment). Nothing here reads a store's files: only the Protocol.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from retrieval import engine
from retrieval.snapshot import ChunkMeta, lexical_text
from retrieval.store import ChunkIndexStore, SearchableIndex
from retrieval.vocabulary import Vocabulary

DIM = 16
MODEL = "contract-model"
ARTICLES = {  # article id -> (visibility, its chunks' texts)
    1: ("public", ["Reset the router by holding the button.", "The router light turns green."]),
    2: ("public", ["Pair the remote with the TV.", "Replace the remote batteries."]),
    3: ("public", ["Update the firmware from the settings menu."]),
    7: ("internal", ["Router refund codes for agents only: router router router."]),
    8: ("internal", ["Escalation matrix for the router team."]),
}


def _vector(chunk_id: int) -> np.ndarray:
    v = np.random.default_rng(chunk_id).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


# The multilingual leg (issue 15): its own model and width, articles in Spanish.
ML_DIM = 8
ML_MODEL = "contract-multilingual-model"
SPANISH = {  # article id -> (visibility, its chunks' texts), all in "es"
    20: ("public", ["Restablecer el router con el botón.", "La luz del router se pone verde."]),
    21: ("public", ["Emparejar el mando con el televisor."]),
    27: ("internal", ["Códigos de reembolso del router solo para agentes: router router."]),
}


def _ml_vector(chunk_id: int) -> np.ndarray:
    v = np.random.default_rng(10_000 + chunk_id).standard_normal(ML_DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _ml_matrix(chunks: list[ChunkMeta]) -> np.ndarray:
    if not chunks:
        return np.zeros((0, ML_DIM), dtype=np.float32)
    return np.vstack([_ml_vector(c.chunk_id) for c in chunks])


def _multilingual_chunks() -> list[ChunkMeta]:
    chunks = _chunks(ARTICLES) + _chunks(SPANISH, first_id=100)
    for chunk in chunks:
        if chunk.article_id in SPANISH:
            chunk.locale = "es"
    return chunks


def _publish_multilingual(store: ChunkIndexStore, chunks: list[ChunkMeta]) -> dict:
    words = ["router", "remote"]
    with store.write_lock():
        return store.publish(
            store.build(
                chunks=chunks,
                vectors=np.vstack([_vector(c.chunk_id) for c in chunks]),
                lexical_texts=[lexical_text(c) for c in chunks],
                model_id=MODEL,
                dimension=DIM,
                ml_vectors=_ml_matrix(chunks),
                ml_model_id=ML_MODEL,
                ml_vocab=Vocabulary(words, np.vstack([_ml_vector(1), _ml_vector(2)])),
            )
        )


def _ml_ids(index: SearchableIndex, chunk_id: int, k: int, *, public_only: bool) -> list[int]:
    _, ids = index.ml_dense_search(_ml_vector(chunk_id)[None, :], k, public_only=public_only)
    return [int(i) for i in np.asarray(ids).ravel() if i >= 0]


def _spanish(index: SearchableIndex, query: str, *, public_only: bool) -> dict[int, float]:
    scores, ids = index.locale_lexical_search(query, language="es", k=50, public_only=public_only)
    return {int(i): float(s) for s, i in zip(scores, ids, strict=True)}


def _chunks(articles: dict[int, tuple[str, list[str]]], first_id: int = 1) -> list[ChunkMeta]:
    out, cid = [], first_id
    for article_id, (visibility, texts) in articles.items():
        for position, text in enumerate(texts):
            out.append(
                ChunkMeta(
                    chunk_id=cid,
                    article_id=article_id,
                    title=f"Article {article_id}",
                    slug=f"article-{article_id}",
                    visibility=visibility,
                    heading_path="",
                    text=text,
                    position=position,
                )
            )
            cid += 1
    return out


def _build(store: ChunkIndexStore, chunks: list[ChunkMeta]) -> SearchableIndex:
    return store.build(
        chunks=chunks,
        vectors=np.vstack([_vector(c.chunk_id) for c in chunks])
        if chunks
        else np.zeros((0, DIM), dtype=np.float32),
        lexical_texts=[lexical_text(c) for c in chunks],
        model_id=MODEL,
        dimension=DIM,
    )


def _publish(store: ChunkIndexStore, chunks: list[ChunkMeta]) -> dict:
    with store.write_lock():
        return store.publish(_build(store, chunks))


def _internal_ids(chunks: list[ChunkMeta]) -> set[int]:
    return {c.chunk_id for c in chunks if c.visibility != "public"}


def _lexical(index: SearchableIndex, query: str, *, public_only: bool) -> dict[int, float]:
    scores, ids = index.lexical_search(query, k=50, public_only=public_only)
    return {int(i): float(s) for s, i in zip(scores, ids, strict=True)}


class IndexStoreContract:
    """Subclass and implement `open_store`."""

    def open_store(self, root: Path) -> ChunkIndexStore:
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path: Path) -> ChunkIndexStore:
        return self.open_store(tmp_path / "index")

    # -- add and read ---------------------------------------------------------------------
    def test_a_new_store_has_no_current_version(self, store):
        assert store.current() is None

    def test_published_version_holds_every_chunk_and_its_model(self, store):
        chunks = _chunks(ARTICLES)
        manifest = _publish(store, chunks)
        current = store.current()
        assert current is not None
        assert manifest["version"] == current.version and manifest["chunks"] == len(chunks)
        assert current.model_id == MODEL and current.dimension == DIM
        assert dict(current.chunks) == {c.chunk_id: c for c in chunks}
        assert current.index_kind

    def test_an_empty_version_searches_to_nothing(self, store):
        _publish(store, [])
        current = store.current()
        assert current is not None and not current.chunks
        assert _lexical(current, "router", public_only=False) == {}
        _, ids = current.dense_search(_vector(1)[None, :], 5, public_only=False)
        assert [i for i in np.asarray(ids).ravel() if i >= 0] == []

    # -- audience filter ------------------------------------------------------------------
    def test_dense_search_finds_the_nearest_chunk(self, store):
        chunks = _chunks(ARTICLES)
        _publish(store, chunks)
        current = store.current()
        for chunk in chunks:
            _, ids = current.dense_search(_vector(chunk.chunk_id)[None, :], 1, public_only=False)
            assert int(ids[0][0]) == chunk.chunk_id

    def test_public_searches_never_return_internal_chunks(self, store):
        chunks = _chunks(ARTICLES)
        _publish(store, chunks)
        current = store.current()
        internal = _internal_ids(chunks)
        # Control: the internal audience does find them, so the probe can see a leak.
        assert internal & set(_lexical(current, "router refund", public_only=False))
        internal_vector = _vector(min(internal))[None, :]
        _, all_ids = current.dense_search(internal_vector, 1, public_only=False)
        assert int(all_ids[0][0]) in internal
        assert not internal & set(_lexical(current, "router refund", public_only=True))
        _, ids = current.dense_search(internal_vector, len(chunks), public_only=True)
        assert not internal & {int(i) for i in ids[0] if i >= 0}

    def test_public_lexical_scores_do_not_depend_on_internal_chunks(self, store, tmp_path):
        """Term statistics of the public audience: internal text must not move its scores."""
        public_only = {a: v for a, v in ARTICLES.items() if v[0] == "public"}
        _publish(store, _chunks(public_only))
        without = _lexical(store.current(), "router reset", public_only=True)
        _publish(store, _chunks(ARTICLES))
        with_internal = _lexical(store.current(), "router reset", public_only=True)
        assert without and with_internal == pytest.approx(without, rel=1e-6)

    def test_hybrid_search_respects_the_audience(self, store):
        chunks = _chunks(ARTICLES)
        _publish(store, chunks)

        def search(audience: str) -> set[int]:
            result = engine.search_snapshot(
                store.current(),
                "router refund codes",
                audience=audience,
                top_k=10,
                mode="lexical",
                embedder=None,
                fusion=engine.FusionParams(),
            )
            return {hit.article_id for hit in result.hits}

        assert 7 in search("internal")  # control
        assert search("public") and not search("public") & {7, 8}

    # -- update and delete ----------------------------------------------------------------
    def test_replacing_an_article_swaps_only_its_chunks(self, store):
        chunks = _chunks(ARTICLES)
        _publish(store, chunks)
        before = store.current()
        new = _chunks({2: ("public", ["Program the universal remote code."])}, first_id=500)
        with store.write_lock():
            store.publish(
                store.replace_article(
                    before,
                    article_id=2,
                    chunks=new,
                    vectors=np.vstack([_vector(c.chunk_id) for c in new]),
                )
            )
        after = store.current()
        assert after.version != before.version
        expected = {c.chunk_id: c for c in chunks if c.article_id != 2} | {500: new[0]}
        assert dict(after.chunks) == expected
        assert 500 in _lexical(after, "universal remote", public_only=True)
        assert not {c.chunk_id for c in chunks if c.article_id == 2} & set(
            _lexical(after, "remote batteries", public_only=False)
        )
        _, ids = after.dense_search(_vector(500)[None, :], 1, public_only=True)
        assert int(ids[0][0]) == 500
        # The version searches were using stays as it was (searches in flight are safe).
        assert 500 not in before.chunks
        assert {c.chunk_id for c in chunks if c.article_id == 2} <= set(
            _lexical(before, "remote batteries", public_only=False)
        )

    def test_removing_an_article_leaves_no_trace_in_any_audience(self, store):
        chunks = _chunks(ARTICLES)
        _publish(store, chunks)
        with store.write_lock():
            store.publish(
                store.replace_article(
                    store.current(), article_id=1, chunks=[], vectors=np.zeros((0, DIM))
                )
            )
        current = store.current()
        gone = {c.chunk_id for c in chunks if c.article_id == 1}
        assert not gone & set(current.chunks)
        for public_only in (True, False):
            assert not gone & set(_lexical(current, "router green", public_only=public_only))
            _, ids = current.dense_search(_vector(min(gone))[None, :], 20, public_only=public_only)
            assert not gone & {int(i) for i in ids[0] if i >= 0}

    def test_an_internal_article_made_public_becomes_public(self, store):
        chunks = _chunks(ARTICLES)
        _publish(store, chunks)
        moved = _chunks({8: ("public", ["Escalation matrix for the router team."])}, 900)
        with store.write_lock():
            store.publish(
                store.replace_article(
                    store.current(), article_id=8, chunks=moved, vectors=_vector(900)[None, :]
                )
            )
        assert 900 in _lexical(store.current(), "escalation matrix", public_only=True)

    def test_incremental_updates_equal_a_full_rebuild(self, store, tmp_path):
        chunks = _chunks(ARTICLES)
        _publish(store, chunks)
        new = _chunks({3: ("public", ["Update the firmware over USB."])}, first_id=700)
        with store.write_lock():
            store.publish(
                store.replace_article(
                    store.current(), article_id=3, chunks=new, vectors=_vector(700)[None, :]
                )
            )
        incremental = store.current()
        final = [c for c in chunks if c.article_id != 3] + new
        fresh = self.open_store(tmp_path / "rebuilt")
        _publish(fresh, final)
        rebuilt = fresh.current()
        assert dict(incremental.chunks) == dict(rebuilt.chunks)
        for query in ("router", "firmware usb", "remote batteries", "escalation router"):
            for public_only in (True, False):
                assert _lexical(incremental, query, public_only=public_only) == pytest.approx(
                    _lexical(rebuilt, query, public_only=public_only), rel=1e-5
                )
        for chunk in final:
            vector = _vector(chunk.chunk_id)[None, :]
            _, a = incremental.dense_search(vector, 1, public_only=False)
            _, b = rebuilt.dense_search(vector, 1, public_only=False)
            assert int(a[0][0]) == int(b[0][0]) == chunk.chunk_id

    # -- versioning -----------------------------------------------------------------------
    def test_every_publish_is_a_new_version_other_processes_see(self, store, tmp_path):
        reader = self.open_store(tmp_path / "index")  # another process, in effect
        first = _publish(store, _chunks(ARTICLES))
        assert reader.current().version == first["version"]
        second = _publish(store, _chunks({1: ARTICLES[1]}))
        assert second["version"] != first["version"]
        assert reader.current().version == second["version"]
        assert {m.article_id for m in reader.current().chunks.values()} == {1}

    def test_write_lock_is_exclusive(self, store, tmp_path):
        other = self.open_store(tmp_path / "index")
        entered, release = threading.Event(), threading.Event()

        def hold() -> None:
            with store.write_lock():
                entered.set()
                release.wait(5)

        thread = threading.Thread(target=hold)
        thread.start()
        assert entered.wait(5)
        with pytest.raises(TimeoutError), other.write_lock(timeout=0.3):
            pass
        release.set()
        thread.join()
        with other.write_lock(timeout=1):
            pass

    # -- backup ---------------------------------------------------------------------------
    def test_export_and_import_restore_the_same_version(self, store, tmp_path):
        assert store.export_current(tmp_path / "empty-backup") is None
        chunks = _chunks(ARTICLES)
        manifest = _publish(store, chunks)
        exported = store.export_current(tmp_path / "backup")
        assert exported is not None and exported["version"] == manifest["version"]
        target = self.open_store(tmp_path / "restored")
        with target.write_lock():
            restored = target.import_published(tmp_path / "backup")
        assert restored is not None and restored.version == manifest["version"]
        assert target.current().version == manifest["version"]
        assert dict(restored.chunks) == {c.chunk_id: c for c in chunks}
        assert _lexical(restored, "router", public_only=True) == pytest.approx(
            _lexical(store.current(), "router", public_only=True)
        )

    def test_import_of_a_folder_without_an_export_is_none(self, store, tmp_path):
        (tmp_path / "nothing").mkdir()
        with store.write_lock():
            assert store.import_published(tmp_path / "nothing") is None

    # -- the multilingual leg (issue 15) --------------------------------------------------
    def test_a_version_built_without_the_multilingual_leg_has_none(self, store):
        _publish(store, _chunks(ARTICLES))
        current = store.current()
        assert current.ml_model_id == "" and current.ml_vocab is None
        assert current.lexical_locales == frozenset()
        assert _ml_ids(current, 1, 5, public_only=False) == []
        assert _spanish(current, "router", public_only=False) == {}

    def test_the_multilingual_leg_is_published_and_seen_by_other_processes(self, store, tmp_path):
        chunks = _multilingual_chunks()
        _publish_multilingual(store, chunks)
        reader = self.open_store(tmp_path / "index")  # another process, in effect
        current = reader.current()
        assert current.ml_model_id == ML_MODEL
        assert current.ml_vocab is not None and current.ml_vocab.words == ["router", "remote"]
        assert current.lexical_locales == frozenset({"es"})
        assert {c.chunk_id: c.locale for c in chunks} == {
            cid: m.locale for cid, m in current.chunks.items()
        }
        for chunk in chunks:
            assert _ml_ids(current, chunk.chunk_id, 1, public_only=False) == [chunk.chunk_id]
        spanish_ids = {c.chunk_id for c in chunks if c.locale == "es"}
        found = _spanish(current, "restablecer router", public_only=False)
        assert found and set(found) <= spanish_ids

    def test_the_multilingual_leg_respects_the_audience(self, store):
        chunks = _multilingual_chunks()
        _publish_multilingual(store, chunks)
        current = store.current()
        internal = _internal_ids(chunks)
        internal_es = min(c.chunk_id for c in chunks if c.article_id == 27)
        # Controls: the internal audience finds them, so the probes can see a leak.
        assert _ml_ids(current, internal_es, 1, public_only=False) == [internal_es]
        assert internal_es in _spanish(current, "reembolso router", public_only=False)
        assert not internal & set(_ml_ids(current, internal_es, len(chunks), public_only=True))
        assert not internal & set(_spanish(current, "reembolso router", public_only=True))

    def test_public_spanish_scores_do_not_depend_on_internal_chunks(self, store):
        chunks = _multilingual_chunks()
        _publish_multilingual(store, [c for c in chunks if c.visibility == "public"])
        without = _spanish(store.current(), "router verde", public_only=True)
        _publish_multilingual(store, chunks)
        with_internal = _spanish(store.current(), "router verde", public_only=True)
        assert without and with_internal == pytest.approx(without, rel=1e-6)

    def test_replacing_an_article_updates_the_multilingual_leg(self, store):
        chunks = _multilingual_chunks()
        _publish_multilingual(store, chunks)
        new = _chunks({21: ("public", ["Programar el mando universal."])}, first_id=600)
        new[0].locale = "es"
        with store.write_lock():
            store.publish(
                store.replace_article(
                    store.current(),
                    article_id=21,
                    chunks=new,
                    vectors=_vector(600)[None, :],
                    ml_vectors=_ml_matrix(new),
                )
            )
        current = store.current()
        assert current.ml_model_id == ML_MODEL and current.ml_vocab is not None
        assert _ml_ids(current, 600, 1, public_only=True) == [600]
        old = {c.chunk_id for c in chunks if c.article_id == 21}
        assert not old & set(_ml_ids(current, min(old), len(chunks), public_only=False))
        assert 600 in _spanish(current, "mando universal", public_only=True)
        assert not old & set(_spanish(current, "emparejar televisor", public_only=False))

    def test_replacing_without_multilingual_vectors_leaves_no_stale_leg(self, store):
        chunks = _multilingual_chunks()
        _publish_multilingual(store, chunks)
        new = _chunks({1: ("public", ["Reset the router from the app."])}, first_id=800)
        with store.write_lock():
            store.publish(
                store.replace_article(
                    store.current(), article_id=1, chunks=new, vectors=_vector(800)[None, :]
                )
            )
        current = store.current()
        # English-only until the next full build: never vectors missing the new chunk.
        assert current.ml_model_id == "" and _ml_ids(current, 800, 1, public_only=False) == []
        assert 800 in _lexical(current, "router app", public_only=True)
        assert current.lexical_locales == frozenset({"es"})  # BM25 needs no model

    def test_export_and_import_keep_the_multilingual_leg(self, store, tmp_path):
        chunks = _multilingual_chunks()
        _publish_multilingual(store, chunks)
        store.export_current(tmp_path / "backup")
        target = self.open_store(tmp_path / "restored")
        with target.write_lock():
            restored = target.import_published(tmp_path / "backup")
        assert restored is not None and restored.ml_model_id == ML_MODEL
        assert _ml_ids(restored, 100, 1, public_only=True) == [100]
        assert _spanish(restored, "router", public_only=True) == pytest.approx(
            _spanish(store.current(), "router", public_only=True)
        )
