"""System checks: the second stage's shipped model files load (`manage.py check`, and every
server start), so a broken or stale file is reported at deploy time, not as a 500 mid-request."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register()
def second_stage_models(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from retrieval import rescoring

    problems: list[checks.CheckMessage] = []
    try:
        rescoring.load_weights()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(
            checks.Error(
                f"the second stage's weights do not load: {exc}",
                hint="Regenerate retrieval/rescoring_weights.json with `make fit`.",
                id="retrieval.E001",
            )
        )
    if settings.RESCORE_ORDER_MODEL != "lambdarank":
        return problems
    try:
        trees = rescoring.load_order_model()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(
            checks.Error(
                f"the ordering model does not load: {exc}",
                hint="Regenerate it with `make fit`, or set RESCORE_ORDER_MODEL=linear.",
                id="retrieval.E002",
            )
        )
        return problems
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
