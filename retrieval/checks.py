"""System checks: the second stage's shipped model files load (`manage.py check`, and every
server start), so a broken or stale file is reported at deploy time, not as a 500 mid-request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks

_LOAD_ERRORS = (OSError, ValueError, KeyError, TypeError)


def _load(load: Callable[[], Any], what: str, hint: str, check_id: str) -> Any:
    """The loaded model, or the check's Error saying why it does not load."""
    try:
        return load()
    except _LOAD_ERRORS as exc:
        return checks.Error(f"{what}: does not load: {exc}", hint=hint, id=check_id)


@checks.register()
def second_stage_models(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from retrieval import rescoring

    problems: list[checks.CheckMessage] = []
    weights = _load(
        rescoring.load_weights,
        "the second stage's weights",
        "Regenerate retrieval/rescoring_weights.json with `make fit`.",
        "retrieval.E001",
    )
    if isinstance(weights, checks.Error):
        problems.append(weights)
    if settings.RESCORE_ORDER_MODEL != "lambdarank":
        return problems
    trees = _load(
        rescoring.load_order_model,
        "the ordering model",
        "Regenerate it with `make fit`, or set RESCORE_ORDER_MODEL=linear.",
        "retrieval.E002",
    )
    if isinstance(trees, checks.Error):
        return [*problems, trees]
    unknown = sorted(set(trees.names) - set(rescoring.FEATURES))
    if unknown:
        # A feature the stage no longer computes reads 0.0 for every candidate: the trees
        # still run, but on a blind input.
        problems.append(
            checks.Warning(
                f"the ordering model reads features the second stage does not compute: {unknown}",
                hint="Refit it with `make fit` after changing retrieval.rescoring.FEATURES.",
                id="retrieval.W001",
            )
        )
    return problems
