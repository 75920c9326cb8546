"""FAISS index kinds, the versioned artifact, and version pickup by other processes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.dense_index import DenseIndex, IndexParams
from retrieval.index import IndexStore
from retrieval.snapshot import ChunkMeta, build_snapshot


def _vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_index_kind_follows_size_and_ann_finds_exact_neighbours(kind):
    vecs = _vectors(3000)
    ids = np.arange(100, 3100, dtype=np.int64)
    small = DenseIndex.build(vecs[:100], ids[:100], dimension=32, params=IndexParams())
    assert small.kind == "flat"
    params = IndexParams(ann_threshold=1000, ann_kind=kind, ivf_nprobe=64, hnsw_ef_search=128)
    ann = DenseIndex.build(vecs, ids, dimension=32, params=params)
    assert ann.kind == kind
    queries = vecs[:50] + 0.05 * _vectors(50, seed=1)
    exact = DenseIndex.build(vecs, ids, dimension=32, params=IndexParams())
    _, truth = exact.search(queries, 10)
    _, found = ann.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall >= 0.9


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_update_removes_and_adds_by_id(kind):
    vecs = _vectors(1200)
    ids = np.arange(1, 1201, dtype=np.int64)
    params = IndexParams(ann_threshold=1 if kind != "flat" else 10**6, ann_kind=kind)
    index = DenseIndex.build(vecs, ids, dimension=32, params=params)
    index.update(remove=ids[:10], add_vectors=vecs[:2], add_ids=np.array([5001, 5002]))
    assert index.ntotal == 1192
    _, found = index.search(vecs[:1], 3)
    assert 1 not in found[0] and 5001 in found[0]
    assert set(index.ids().tolist()) == (set(ids[10:].tolist()) | {5001, 5002})


def _meta(cid: int, article: int, visibility: str, text: str) -> ChunkMeta:
    return ChunkMeta(cid, article, f"Article {article}", f"a-{article}", visibility, "", text)


def _snapshot(n_public: int = 5, n_internal: int = 2, model: str = "m1"):
    metas = [_meta(i + 1, i + 1, "public", f"public text {i}") for i in range(n_public)]
    metas += [_meta(100 + i, 100 + i, "internal", f"internal text {i}") for i in range(n_internal)]
    vecs = _vectors(len(metas))
    return build_snapshot(
        chunks=metas,
        vectors=vecs,
        lexical_texts=[m.text for m in metas],
        model_id=model,
        dimension=32,
        params=IndexParams(),
    ), vecs


def test_public_dense_index_never_holds_internal_vectors():
    snap, vecs = _snapshot()
    assert snap.dense_all.ntotal == 7 and snap.dense_public.ntotal == 5
    # Query exactly equal to an internal vector: the public index cannot return it.
    _, ids = snap.dense_public.search(vecs[5:6], 10)
    assert set(ids[0].tolist()) == {1, 2, 3, 4, 5}
    _, ids = snap.dense_all.search(vecs[5:6], 1)
    assert ids[0][0] == 100


def test_public_lexical_search_masks_internal_chunks_and_keeps_top_k():
    snap, _ = _snapshot()
    _, ids = snap.lexical.search("internal text", k=3, public_only=True)
    assert len(ids) == 3 and all(i < 100 for i in ids)
    _, ids = snap.lexical.search("internal", k=3, public_only=False)
    assert set(ids.tolist()) == {100, 101}


def test_published_version_is_seen_by_another_store_and_updates_are_picked_up(tmp_path):
    writer = IndexStore(tmp_path, IndexParams())
    reader = IndexStore(tmp_path, IndexParams())  # another process, in effect
    assert reader.current() is None
    snap, _ = _snapshot()
    with writer.write_lock():
        manifest = writer.publish(snap)
    first = reader.current()
    assert first is not None and first.version == manifest["version"]
    assert reader.current() is first  # unchanged manifest: nothing reloaded
    assert len(first.chunks) == 7 and first.dense_public.ntotal == 5
    snap2, _ = _snapshot(n_public=8, model="m1")
    with writer.write_lock():
        writer.publish(snap2)
    second = reader.current()
    assert second.version != first.version and second.dense_public.ntotal == 8
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk["version"] == second.version
    assert (tmp_path / on_disk["path"] / "dense_all.faiss").is_file()
    assert not list(tmp_path.glob("versions/.tmp-*"))  # nothing half-written left behind


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_ann_indexes_survive_a_save_and_load(tmp_path, kind):
    params = IndexParams(ann_threshold=1, ann_kind=kind)
    metas = [_meta(i + 1, i + 1, "public", f"text {i}") for i in range(300)]
    vecs = _vectors(300)
    snap = build_snapshot(
        chunks=metas,
        vectors=vecs,
        lexical_texts=[m.text for m in metas],
        model_id="m1",
        dimension=32,
        params=params,
    )
    store = IndexStore(tmp_path, params)
    with store.write_lock():
        store.publish(snap)
    loaded = IndexStore(tmp_path, params).current()
    assert loaded.dense_all.kind == kind
    _, ids = loaded.dense_all.search(vecs[7:8], 1)
    assert ids[0][0] == 8


def test_old_versions_are_pruned(tmp_path):
    store = IndexStore(tmp_path, IndexParams(keep_versions=2))
    for _ in range(4):
        snap, _ = _snapshot()
        with store.write_lock():
            last = store.publish(snap)
    folders = sorted(p.name for p in (tmp_path / "versions").iterdir())
    assert len(folders) == 2 and folders[-1] == last["version"]


def test_ivf_with_fewer_vectors_than_lists_is_searched_exactly():
    # ann_threshold counts all chunks; the public share can be tiny. k-means used to fail
    # ("Number of training points (7) should be at least ... (16)").
    params = IndexParams(ann_threshold=1, ann_kind="ivf")
    vecs = _vectors(7)
    index = DenseIndex.build(vecs, np.arange(1, 8, dtype=np.int64), dimension=32, params=params)
    assert index.kind == "flat"
    _, ids = index.search(vecs[3:4], 1)
    assert ids[0][0] == 4


def test_public_lexical_statistics_ignore_internal_chunks():
    """Issue 14 (Low): BM25 IDF and length statistics over all chunks let internal articles
    shift public scores. The public audience searches its own index."""
    public = [_meta(1, 1, "public", "reset the router"), _meta(2, 2, "public", "pair a remote")]
    internal = [_meta(100 + i, 100 + i, "internal", "router router refund") for i in range(5)]

    def build(metas):
        return build_snapshot(
            chunks=metas,
            vectors=_vectors(len(metas)),
            lexical_texts=[m.text for m in metas],
            model_id="m1",
            dimension=32,
            params=IndexParams(),
        )

    alone, mixed = build(public), build(public + internal)
    base = alone.lexical_search("router", k=5, public_only=True)
    # Control: the shared index masked to public chunks (the old path) does move, so this
    # probe sees the shift when it is there.
    masked = mixed.lexical.search("router", k=5, public_only=True)
    assert masked[1].tolist() == [1] and abs(float(masked[0][0]) - float(base[0][0])) > 1e-3
    scores, ids = mixed.lexical_search("router", k=5, public_only=True)
    assert ids.tolist() == [1] and float(scores[0]) == pytest.approx(float(base[0][0]))
