"""What every miner shares: the Protocol, the run's context and the question rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from insights.clustering import strip_opener
from insights.conf import InsightsConf
from insights.models import SuggestionKind
from insights.selectors import LoggedQuestion

Progress = Callable[[str, int, int], None]


@dataclass
class MiningContext:
    """One mining run as a miner sees it."""

    logged: Sequence[LoggedQuestion]  # every interaction in the window, oldest first
    new_ids: set[int]  # interactions logged or rated since the previous run
    now: dt.datetime
    since: dt.datetime | None  # start of the previous successful run (None: first run)
    window_start: dt.datetime
    conf: InsightsConf
    counts: MutableMapping[str, int]
    progress: Progress


class Miner(Protocol):
    """Turns one kind of evidence into suggestions of one kind.

    Each miner finds its earlier suggestion for the evidence and goes through
    `insights.lifecycle` (one reopen rule for all) to refresh, re-open or leave it.
    """

    kind: SuggestionKind
    counts_prefix: str  # counts of suggestions left alone: <prefix>_kept_dismissed, ...

    def mine(self, ctx: MiningContext) -> None: ...


_PLACEHOLDERS = ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]")


def display_text(variants: Sequence[LoggedQuestion]) -> str:
    """The cleanest wording of a question: fewest redaction placeholders, no greeting."""

    def rank(q: LoggedQuestion) -> tuple:
        placeholders = sum(q.question.count(p) for p in _PLACEHOLDERS)
        return (placeholders, len(q.question), -q.created_at.timestamp(), q.id)

    return strip_opener(min(variants, key=rank).question)


def question_rows(groups: Sequence[list[LoggedQuestion]]) -> list[dict[str, Any]]:
    rows = []
    for variants in groups:
        latest = max(variants, key=lambda q: (q.created_at, q.id))
        rows.append(
            {
                "text": display_text(variants),
                "count": len(variants),
                "askers": len({q.asker for q in variants}),
                "last_asked": latest.created_at.isoformat(),
                "interaction_id": latest.id,
                "audience": latest.audience,
                "abstained": sum(q.abstained for q in variants),
                "escalated": sum(q.escalated for q in variants),
                "disliked": sum(q.disliked for q in variants),
            }
        )
    return rows
