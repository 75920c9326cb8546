"""Insights: do the mined "new article" suggestions point at real knowledge gaps?

In a throwaway database: load the emanual-samsung-tv corpus as the KB, withhold N gold
articles (archived), log every dataset question through the real answerer as several
customers (`insights.demo_logs`), mine the logs, then score the top-10 new-article
suggestions: one is correct when the gold article of its most representative question is a
withheld one (also reported: by majority of its questions). Finally accept the best correct
suggestion, publish its draft and re-run its questions: answered before vs after, and
whether the answers now cite the new article. Two scenarios: the default noise, and a noisy
one where more customers dislike answers that were in fact right.

Uses the configured embedder (EMBEDDING_BACKEND, default the real model) and the extractive
answerer (LLM_BASE_URL unset) unless configured otherwise.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any


def _score(suggestions, result, ds, withheld: set[str]) -> list[dict[str, Any]]:
    rows = []
    for rank, s in enumerate(suggestions, start=1):
        qids = [
            result.interaction_query.get(q.get("interaction_id"))
            for q in s.evidence.get("questions", [])
        ]
        golds = [ds.gold[q][0] for q in qids if q and ds.gold.get(q)]
        top_gold = golds[0] if golds else None
        majority = Counter(golds).most_common(1)[0][0] if golds else None
        rows.append(
            {
                "rank": rank,
                "title": s.title[:120],
                "score": round(s.score, 3),
                "askers": s.cluster_size,
                "gold": top_gold,
                "correct": top_gold in withheld,
                "correct_majority": majority in withheld,
                "suggestion": s,
            }
        )
    return rows


def run(args: argparse.Namespace) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.test.utils import override_settings

    eval_dir = Path(getattr(args, "eval_dir", "") or "../shared/eval")
    dataset = eval_dir / "emanual-samsung-tv"
    withhold = 5 if getattr(args, "quick", False) else 10
    old_name = connection.settings_dict["NAME"]
    tmp = tempfile.TemporaryDirectory(prefix="bench-insights-")
    try:
        with override_settings(
            INDEX_DIR=Path(tmp.name) / "index",
            CELERY_TASK_ALWAYS_EAGER=True,
            LLM_BASE_URL=settings.LLM_BASE_URL,
        ):
            scenarios = {}
            for name, noise, askers in SCENARIOS:
                connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
                try:
                    scenarios[name] = _run(dataset, withhold, noise=noise, askers_other=askers)
                finally:
                    connection.creation.destroy_test_db(old_name, verbosity=0)
    finally:
        tmp.cleanup()
    first = scenarios[SCENARIOS[0][0]]
    return {
        "precision_at_10": first["precision_at_10"],
        "withheld_covered_in_top_10": first["withheld_covered_in_top_10"],
        "scenarios": scenarios,
        "scenario_settings": {
            name: {"noise_dislike_rate": noise, "askers_per_answered_question": list(askers)}
            for name, noise, askers in SCENARIOS
        },
    }


# (name, share of answered non-gap questions disliked anyway, askers per non-gap question)
SCENARIOS = [("default", 0.15, (1, 2)), ("noisy", 0.35, (1, 3))]
SWEEP = (0.45, 0.5, 0.55, 0.6, 0.65)


def _run(dataset: Path, withhold: int, *, noise: float, askers_other: tuple[int, int]) -> dict:
    from django.conf import settings
    from django.test.utils import override_settings

    from insights.demo_logs import load_dataset, seed_demo_logs, seed_user
    from insights.models import MiningRun, Suggestion
    from insights.services import mine_logs, suggestion_accept, suggestion_rerun
    from knowledge import services as kb
    from retrieval.services import index_rebuild

    timings: dict[str, float] = {}
    started = time.perf_counter()
    ds = load_dataset(dataset)
    result = seed_demo_logs(
        dataset_dir=dataset,
        withhold=withhold,
        seed=0,
        days=30,
        noise_dislike_rate=noise,
        askers_other=askers_other,
    )
    timings["seed_s"] = round(time.perf_counter() - started, 1)
    withheld = set(result.withheld)

    # Sensitivity of the clustering threshold, on the same logs (mining is cheap to repeat).
    sweep = {}
    for threshold in SWEEP:
        with override_settings(INSIGHTS_CLUSTER_THRESHOLD=threshold):
            Suggestion.objects.all().delete()
            MiningRun.objects.all().delete()
            mine_logs()
        swept = _score(
            list(Suggestion.objects.filter(kind="new_article").order_by("-score", "id")[:10]),
            result,
            ds,
            withheld,
        )
        sweep[str(threshold)] = {
            "precision_at_10": round(sum(r["correct"] for r in swept) / len(swept), 3)
            if swept
            else None,
            "withheld_covered_in_top_10": len({r["gold"] for r in swept if r["correct"]}),
            "new_article_suggestions": Suggestion.objects.filter(kind="new_article").count(),
        }
    Suggestion.objects.all().delete()
    MiningRun.objects.all().delete()

    started = time.perf_counter()
    run = mine_logs()
    timings["mine_s"] = round(time.perf_counter() - started, 1)

    top = list(Suggestion.objects.filter(kind="new_article").order_by("-score", "id")[:10])
    rows = _score(top, result, ds, withheld)
    correct = sum(r["correct"] for r in rows)
    correct_majority = sum(r["correct_majority"] for r in rows)
    covered = sorted({r["gold"] for r in rows if r["correct"]})

    before_after: dict[str, Any] = {}
    pick = next((r for r in rows if r["correct"]), None)
    if pick is not None:
        suggestion = pick["suggestion"]
        user = seed_user()
        revision = suggestion_accept(suggestion=suggestion, user=user)
        kb.revision_submit(revision=revision, submitted_by=user)
        kb.revision_publish(revision=revision, published_by=user)
        index_rebuild()
        suggestion.refresh_from_db()
        suggestion_rerun(suggestion=suggestion)
        ba = suggestion.before_after
        before_after = {
            "suggestion": suggestion.title[:120],
            "draft_source": suggestion.draft_source,
            "draft_chars": len(suggestion.draft_body),
            "questions": len(ba["before"]),
            "answered_before": sum(r["answered"] for r in ba["before"]),
            "abstained_before": sum(not r["answered"] for r in ba["before"]),
            "answered_after": sum(r["answered"] for r in ba["after"]),
            "citing_new_article_after": sum(r["cites_accepted_article"] for r in ba["after"]),
        }

    n = len(rows)
    return {
        "dataset": dataset.name,
        "embedding_backend": settings.EMBEDDING_BACKEND,
        "llm": bool(settings.LLM_BASE_URL),
        "cluster_threshold": settings.INSIGHTS_CLUSTER_THRESHOLD,
        "withheld_articles": len(withheld),
        "interactions": result.interactions,
        "outcomes": dict(result.outcomes),
        "mining_counts": run.counts,
        "new_article_suggestions": Suggestion.objects.filter(kind="new_article").count(),
        "update_suggestions": Suggestion.objects.filter(kind="update_article").count(),
        "merge_suggestions": Suggestion.objects.filter(kind="merge").count(),
        "precision_at_10": round(correct / n, 3) if n else None,
        "precision_at_10_majority": round(correct_majority / n, 3) if n else None,
        "withheld_covered_in_top_10": len(covered),
        "top_10": [{k: v for k, v in r.items() if k != "suggestion"} for r in rows],
        "threshold_sweep": sweep,
        "before_after": before_after,
        "timings": timings,
    }
