"""The miners, one per suggestion kind, in the order a run applies them.

Adding a kind is one module with a class satisfying `insights.miners.base.Miner` and one
entry here; `tests/insights/test_miners.py` runs the lifecycle contract over every entry.
New-article runs first: the update miner points at the open new-article suggestions.
"""

from __future__ import annotations

from insights.miners.base import Miner, MiningContext
from insights.miners.merge import MergeMiner
from insights.miners.new_article import NewArticleMiner
from insights.miners.update_article import UpdateArticleMiner

MINERS: dict[str, Miner] = {
    miner.kind: miner for miner in (NewArticleMiner(), UpdateArticleMiner(), MergeMiner())
}

__all__ = ["MINERS", "Miner", "MiningContext"]
