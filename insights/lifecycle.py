"""One suggestion lifecycle for every miner: when a re-mined suggestion is updated, left
alone or re-opened, and how it is saved.

The rule (the same for every kind):
- no earlier suggestion: create one;
- an open one: refresh it with the new evidence;
- an accepted one: never again (its draft went into the review flow);
- a dismissed one: stays dismissed until its evidence size (distinct customers, negative
  signals, ...) reaches INSIGHTS_REOPEN_GROWTH_FACTOR times the size it had when it was
  dismissed; then it re-opens, saying why. A merge's size is always 1, so a dismissed merge
  never comes back.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, MutableMapping
from typing import Any

from insights.models import Suggestion, SuggestionKind, SuggestionStatus


class Outcome(enum.Enum):
    CREATE = "created"
    REFRESH = "updated"
    REOPEN = "reopened"
    ALREADY_ACCEPTED = "already_accepted"
    KEPT_DISMISSED = "kept_dismissed"

    @property
    def proceeds(self) -> bool:
        return self in (Outcome.CREATE, Outcome.REFRESH, Outcome.REOPEN)


def lifecycle_outcome(match: Suggestion | None, *, size: int, growth_factor: float) -> Outcome:
    """What re-mining evidence of `size` does to the earlier suggestion `match`."""
    if match is None:
        return Outcome.CREATE
    if match.status == SuggestionStatus.ACCEPTED:
        return Outcome.ALREADY_ACCEPTED
    if match.status == SuggestionStatus.DISMISSED:
        base = match.size_at_dismissal or match.cluster_size or 1
        return Outcome.REOPEN if size >= math.ceil(base * growth_factor) else Outcome.KEPT_DISMISSED
    return Outcome.REFRESH


def suggestion_decide(
    match: Suggestion | None,
    *,
    size: int,
    growth_factor: float,
    counts: MutableMapping[str, int],
    counts_prefix: str,
) -> Outcome:
    """`lifecycle_outcome`, counting the suggestions left alone under `counts_prefix`."""
    outcome = lifecycle_outcome(match, size=size, growth_factor=growth_factor)
    if not outcome.proceeds:
        counts[f"{counts_prefix}_{outcome.value}"] += 1
    return outcome


def suggestion_store(
    *,
    outcome: Outcome,
    match: Suggestion | None,
    kind: SuggestionKind,
    signature: str,
    size: int,
    fields: dict[str, Any],
    reopen_note: str,
    draft: Callable[[Suggestion], None],
    counts: MutableMapping[str, int],
) -> Suggestion:
    """Create or refresh the suggestion with `fields` (re-opening it when the outcome says
    so), draft it and save it; counts created/updated/reopened."""
    if not outcome.proceeds:
        raise ValueError(f"a suggestion with outcome {outcome.value!r} is not stored")
    suggestion = match or Suggestion(kind=kind, signature=signature)
    for name, value in fields.items():
        setattr(suggestion, name, value)
    suggestion.cluster_size = size
    if outcome is Outcome.REOPEN:
        suggestion.status = SuggestionStatus.OPEN
        suggestion.rationale += f" Re-opened: {reopen_note}"
        counts["reopened"] += 1
    draft(suggestion)
    created = suggestion.pk is None
    suggestion.save()
    counts["created" if created else "updated"] += 1
    return suggestion
