"""Hand-built second-stage ordering models for tests."""

from __future__ import annotations

import numpy as np

from retrieval import rescoring


def title_last_order_model() -> rescoring.BoostedTrees:
    """An ordering model that puts candidates *without* a title match first: a search
    ordered by it visibly differs from the linear order."""
    return rescoring.BoostedTrees(
        names=("title_cov",),
        roots=np.array([0]),
        feature=np.array([0, -1, -1]),
        threshold=np.array([0.5, 0.0, 0.0]),
        left=np.array([1, 1, 2]),
        right=np.array([2, 1, 2]),
        value=np.array([1.0, 1.0, 0.0]),
        depth=1,
    )
