"""Clustering is deterministic, order-independent and matches plain average linkage."""

from __future__ import annotations

import random

import numpy as np

from insights.clustering import (
    agglomerate,
    cluster_items,
    cosine_pairs,
    normalize_question,
    question_key,
    recency_weight,
    strip_opener,
)


def _naive_average_linkage(x: np.ndarray, threshold: float) -> list[list[int]]:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    groups = [[i] for i in range(len(x))]
    while True:
        best = (-np.inf, 0, 0)
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                s = float(np.mean(x[groups[a]] @ x[groups[b]].T))
                if s > best[0] + 1e-12:
                    best = (s, a, b)
        if best[0] < threshold:
            break
        _, a, b = best
        groups[a] = sorted(groups[a] + groups[b])
        del groups[b]
    return sorted(groups)


def _blobs(seed: int, n_per: int = 6, k: int = 4, dim: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, dim)) * 3
    return np.vstack([c + rng.normal(size=(n_per, dim)) for c in centers])


def test_agglomerate_matches_naive_average_linkage() -> None:
    for seed in range(5):
        x = _blobs(seed)
        for threshold in (0.2, 0.5, 0.8):
            assert sorted(agglomerate(x, threshold=threshold)) == _naive_average_linkage(
                x, threshold
            )


def test_same_clusters_and_order_whatever_the_input_order() -> None:
    x = _blobs(7)
    keys = [f"q{i:03d}" for i in range(len(x))]
    weights = [1.0 + (i % 3) for i in range(len(x))]
    reference = [
        [keys[m] for m in c.members]
        for c in cluster_items(x, keys=keys, threshold=0.5, weights=weights)
    ]
    assert len(reference) >= 3
    for seed in range(5):
        perm = list(range(len(x)))
        random.Random(seed).shuffle(perm)
        clusters = cluster_items(
            x[perm], keys=[keys[p] for p in perm], threshold=0.5, weights=[weights[p] for p in perm]
        )
        assert [[keys[perm[m]] for m in c.members] for c in clusters] == reference


def test_clusters_ordered_by_weight_and_members_by_closeness() -> None:
    x = np.array(
        [[1.0, 0.0, 0.0], [0.95, 0.05, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.98, 0.02]]
    )
    keys = ["a", "b", "c", "d", "e"]
    clusters = cluster_items(x, keys=keys, threshold=0.9, weights=[1, 1, 1, 5, 5])
    assert [sorted(c.members) for c in clusters] == [[3, 4], [0, 1, 2]]
    # The member nearest the centroid of a, b, c is b.
    assert clusters[1].members[0] == 1
    assert clusters[1].similarities == sorted(clusters[1].similarities, reverse=True)


def test_identical_vectors_tie_break_by_key() -> None:
    x = np.ones((3, 4))
    clusters = cluster_items(x, keys=["z", "m", "a"], threshold=0.99)
    assert len(clusters) == 1
    assert clusters[0].members == [2, 1, 0]


def test_bad_input_is_rejected_clearly() -> None:
    import pytest

    with pytest.raises(ValueError, match="unique"):
        cluster_items(np.ones((2, 3)), keys=["a", "a"], threshold=0.5)
    with pytest.raises(ValueError, match="vectors for"):
        cluster_items(np.ones((2, 3)), keys=["a"], threshold=0.5)
    assert cluster_items(np.zeros((0, 3)), keys=[], threshold=0.5) == []


def test_normalisation_keys_and_helpers() -> None:
    assert normalize_question("  How do I   Reset?? ") == "how do i reset"
    assert question_key("How do I reset?") == question_key("how do i   RESET")
    assert question_key("Hi, how do I reset?") == question_key("How do I reset")
    assert question_key("Quick question: how do I reset?") == question_key("How do I reset")
    assert strip_opener("Hello, how do I reset?") == "How do I reset?"
    assert strip_opener("Hit the reset button") == "Hit the reset button"
    assert recency_weight(0, half_life_days=14) == 1.0
    assert abs(recency_weight(14, half_life_days=14) - 0.5) < 1e-9
    pairs = cosine_pairs(np.array([[1.0, 0], [1.0, 0.01], [0, 1.0]]), threshold=0.9)
    assert pairs[0][:2] == (0, 1) and len(pairs) == 1
