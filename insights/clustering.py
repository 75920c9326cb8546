"""Deterministic clustering of question embeddings and the ranking helpers around it.

Average-linkage agglomerative clustering with a cosine-similarity threshold: two clusters merge
while the mean similarity between their members is at least `threshold`. Items are first put
in a canonical order (by key), ties are broken by that order, and there is no randomness, so
the same questions give the same clusters in the same order whatever order they arrive in.
Plain module: numpy only, no Django.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

_SPACE_RE = re.compile(r"\s+")
_EDGE_PUNCT_RE = re.compile(r"^[\W_]+|[\W_]+$")


_OPENER_RE = re.compile(
    r"^(?:(?:hi|hello|hey|good (?:morning|afternoon|evening))(?: there)?[,!.]*\s+|"
    r"quick question[:,]?\s+|please[,]?\s+)+",
    re.IGNORECASE,
)


def strip_opener(text: str) -> str:
    """Drop a leading greeting ("Hi, ", "Hello! ", "Quick question: ") from a question."""
    stripped = _OPENER_RE.sub("", text.strip(), count=1) if text else ""
    if stripped and stripped != text.strip():
        return stripped[:1].upper() + stripped[1:]
    return text.strip() if text else ""


def normalize_question(text: str) -> str:
    """Lowercase, drop greetings, collapse whitespace and drop edge punctuation."""
    text = _SPACE_RE.sub(" ", (text or "").lower()).strip()
    text = _OPENER_RE.sub("", text, count=1)
    return _EDGE_PUNCT_RE.sub("", text)


def question_key(text: str) -> str:
    """A short stable hash of the normalised question (cluster membership across runs)."""
    return hashlib.sha1(normalize_question(text).encode("utf-8")).hexdigest()[:16]


@dataclass
class Cluster:
    """Indices into the caller's item list, closest to the centroid first."""

    members: list[int]
    similarities: list[float] = field(default_factory=list)  # to the centroid, same order
    cohesion: float = 1.0  # mean similarity of members to the centroid


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


def agglomerate(vectors: np.ndarray, *, threshold: float) -> list[list[int]]:
    """Average-linkage clustering of rows (in the given order); returns groups of row indices.

    Keeps each row's best partner cached, so a merge only rescans the rows it affected:
    about O(n^2) work for typical data rather than O(n^3).
    """
    x = _unit_rows(vectors)
    n = x.shape[0]
    if n == 0:
        return []
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    sizes = np.ones(n)
    groups: dict[int, list[int]] = {i: [i] for i in range(n)}
    best = sim.argmax(axis=1)
    best_val = sim[np.arange(n), best]
    alive = np.ones(n, dtype=bool)
    while True:
        masked = np.where(alive, best_val, -np.inf)
        i = int(masked.argmax())  # first maximum: ties go to the earliest row
        if not np.isfinite(masked[i]) or masked[i] < threshold:
            break
        j = int(best[i])
        a, b = min(i, j), max(i, j)
        merged = (sizes[a] * sim[a] + sizes[b] * sim[b]) / (sizes[a] + sizes[b])
        sim[a, :] = merged
        sim[:, a] = merged
        sim[a, a] = -np.inf
        sim[b, :] = -np.inf
        sim[:, b] = -np.inf
        sizes[a] += sizes[b]
        alive[b] = False
        groups[a].extend(groups.pop(b))
        # Rows whose cached partner was a or b, plus a itself, need a fresh scan; every
        # other row only needs to compare its cached best with its new similarity to a.
        stale = np.flatnonzero(alive & ((best == a) | (best == b)))
        for r in (*stale.tolist(), a):
            best[r] = int(sim[r].argmax())
            best_val[r] = sim[r, best[r]]
        col = sim[:, a]
        better = alive & (col > best_val)
        better[a] = False
        best[better] = a
        best_val[better] = col[better]
        # Equal values must also resolve to the earliest column, as a full rescan would.
        tie = alive & (col == best_val) & (best > a)
        tie[a] = False
        best[tie] = a
    return [sorted(members) for members in groups.values()]


def cluster_items(
    vectors: np.ndarray,
    *,
    keys: Sequence[str],
    threshold: float,
    weights: Sequence[float] | None = None,
) -> list[Cluster]:
    """Cluster items (one per unique key) and order clusters by total weight, then key.

    Returns clusters of indices into the caller's order; within a cluster members are sorted
    by similarity to the weighted centroid (most representative first), ties by key.
    """
    n = len(keys)
    if n != len(vectors):
        raise ValueError(f"{len(vectors)} vectors for {n} keys")
    if len(set(keys)) != n:
        raise ValueError("cluster keys must be unique: deduplicate questions first")
    if n == 0:
        return []
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    order = sorted(range(n), key=lambda i: keys[i])
    x = _unit_rows(np.asarray(vectors)[order])
    groups = agglomerate(x, threshold=threshold)
    clusters: list[tuple[float, str, Cluster]] = []
    for group in groups:
        gw = w[[order[g] for g in group]]
        centroid = (x[group] * gw[:, None]).sum(axis=0)
        norm = np.linalg.norm(centroid)
        centroid = centroid / norm if norm else centroid
        sims = x[group] @ centroid
        ranked = sorted(
            zip(group, sims.tolist(), strict=True),
            key=lambda p: (-round(p[1], 9), keys[order[p[0]]]),
        )
        members = [order[g] for g, _ in ranked]
        cluster = Cluster(
            members=members,
            similarities=[round(s, 6) for _, s in ranked],
            cohesion=round(float(np.mean(sims)), 6),
        )
        first_key = min(keys[m] for m in members)
        clusters.append((float(gw.sum()), first_key, cluster))
    clusters.sort(key=lambda c: (-round(c[0], 9), c[1]))
    return [c for _, _, c in clusters]


def recency_weight(age_days: float, *, half_life_days: float) -> float:
    """1.0 for something that happened now, 0.5 after one half-life, and so on."""
    if half_life_days <= 0:
        return 1.0
    return math.pow(0.5, max(age_days, 0.0) / half_life_days)


def cosine_pairs(
    vectors: np.ndarray, *, threshold: float, block: int = 1024
) -> list[tuple[int, int, float]]:
    """All pairs (i < j) with cosine similarity >= threshold, most similar first.

    Works in row blocks so 10,000 articles never need a 10,000 x 10,000 matrix at once.
    """
    x = _unit_rows(vectors)
    n = x.shape[0]
    pairs: list[tuple[int, int, float]] = []
    for lo in range(0, n, block):
        sim = x[lo : lo + block] @ x.T
        rows, cols = np.nonzero(sim >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = lo + r
            if c > i:
                pairs.append((i, c, round(float(sim[r, c]), 6)))
    pairs.sort(key=lambda p: (-p[2], p[0], p[1]))
    return pairs
