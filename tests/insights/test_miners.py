"""One suggestion lifecycle for every miner: the rule, and each registered miner following it."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from insights.lifecycle import Outcome, lifecycle_outcome
from insights.miners import MINERS
from insights.models import Suggestion, SuggestionKind, SuggestionStatus
from insights.services import mine_logs, suggestion_dismiss
from tests.factories import make_article
from tests.insights.conftest import NOW, log_question

SOUNDBAR = [
    "My soundbar has no sound over HDMI ARC",
    "soundbar HDMI ARC no sound",
    "No sound from soundbar connected with HDMI ARC",
]
DUPLICATE_BODY = "Open Settings, choose General, then Reset. Enter your PIN 0000 and confirm."


def _suggestion(status: str, *, size_at_dismissal: int = 0, cluster_size: int = 2) -> Suggestion:
    return Suggestion(
        kind=SuggestionKind.NEW_ARTICLE,
        status=status,
        size_at_dismissal=size_at_dismissal,
        cluster_size=cluster_size,
    )


def test_the_one_reopen_rule():
    assert lifecycle_outcome(None, size=1, growth_factor=2.0) is Outcome.CREATE
    assert lifecycle_outcome(_suggestion("open"), size=1, growth_factor=2.0) is Outcome.REFRESH
    accepted = _suggestion("accepted")
    assert lifecycle_outcome(accepted, size=10**6, growth_factor=2.0) is Outcome.ALREADY_ACCEPTED
    dismissed = _suggestion("dismissed", size_at_dismissal=3)
    assert lifecycle_outcome(dismissed, size=5, growth_factor=2.0) is Outcome.KEPT_DISMISSED
    assert lifecycle_outcome(dismissed, size=6, growth_factor=2.0) is Outcome.REOPEN
    # A merge's size is always 1: a dismissed merge never comes back at any factor above 1.
    merge = _suggestion("dismissed", size_at_dismissal=1, cluster_size=1)
    assert lifecycle_outcome(merge, size=1, growth_factor=1.01) is Outcome.KEPT_DISMISSED


def test_one_miner_per_suggestion_kind():
    assert set(MINERS) == set(SuggestionKind.values)
    assert all(miner.kind == kind for kind, miner in MINERS.items())
    prefixes = [miner.counts_prefix for miner in MINERS.values()]
    assert len(set(prefixes)) == len(prefixes)


_serial = itertools.count()


def _evidence(kind: str, reviewer, articles: dict, days_ago: float) -> None:
    """One more piece of evidence for a suggestion of `kind` (new since the previous run)."""
    n = next(_serial)
    if kind == SuggestionKind.NEW_ARTICLE:
        log_question(SOUNDBAR[n % 3], session=f"s{n}", abstained=True, days_ago=days_ago)
    elif kind == SuggestionKind.UPDATE_ARTICLE:
        if "bad" not in articles:
            articles["bad"] = make_article(author=reviewer, title="Pair the remote", body="Hold.")
        log_question(
            f"remote pairing fails {n}",
            session=f"r{n}",
            helpful=False,
            cited=[articles["bad"]],
            days_ago=days_ago,
        )
    else:
        if "a" not in articles:
            articles["a"] = make_article(author=reviewer, title="Reset the TV", body=DUPLICATE_BODY)
            articles["b"] = make_article(
                author=reviewer, title="Reset your TV", body=DUPLICATE_BODY
            )
        else:  # merges re-run when something was published since the last run
            make_article(author=reviewer, title=f"Unrelated {n}", body=f"Topic number {n}.")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(MINERS))
def test_every_miner_keeps_dismissed_and_accepted_suggestions_by_the_one_rule(
    kind, reviewer, editor, settings
):
    settings.INSIGHTS_MERGE_THRESHOLD = 0.8
    prefix = MINERS[kind].counts_prefix
    articles: dict = {}
    runs = iter(NOW - dt.timedelta(days=d) for d in (6, 4, 2, 0))
    for _ in range(2):
        _evidence(kind, reviewer, articles, days_ago=7)
    run = mine_logs(now=next(runs))
    suggestion = Suggestion.objects.get(kind=kind)
    assert run.counts["created"] >= 1
    suggestion_dismiss(suggestion=suggestion, user=editor, reason="not now")

    _evidence(kind, reviewer, articles, days_ago=5)  # grows, but not to twice its size
    run = mine_logs(now=next(runs))
    assert run.counts[f"{prefix}_kept_dismissed"] == 1
    assert Suggestion.objects.get(kind=kind).status == SuggestionStatus.DISMISSED

    Suggestion.objects.filter(kind=kind).update(status=SuggestionStatus.ACCEPTED)
    for _ in range(4):
        _evidence(kind, reviewer, articles, days_ago=3)
    run = mine_logs(now=next(runs))
    assert run.counts[f"{prefix}_already_accepted"] == 1
    assert Suggestion.objects.filter(kind=kind).count() == 1
