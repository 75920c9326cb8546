"""Safety handoff: does every hazard question go to a person, and every look-alike get answered?

Runs the built-in rules (generation.safety_defaults, what the migration seeds) over:
- bench/data/safety_questions.jsonl: the team's set (hazards and benign look-alikes in nine
  languages, direct and indirect phrasings), written together with the rules, so it measures
  coverage, not generalisation;
- bench/data/safety_holdout.jsonl: written after the rules were frozen and run once against
  them; that frozen result is copied from bench/data/safety_holdout_frozen.json (the honest
  generalisation figure); the current rules' result on it is reported beside it;
- the DEV questions of every ../shared/eval set (ordinary manual questions): none should be
  taken for a hazard.
Precision/recall treat "hazard" as the positive class, per language and overall; cost is the
wall time of one `assess` call (normalisation, masks, rules, language detection).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _prf(tp: int, fp: int, fn: int, tn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {
        "hazards": tp + fn,
        "benign": fp + tn,
        "handed_off": tp,
        "missed": fn,
        "false_handoffs": fp,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "benign_answered": round(tn / (fp + tn), 3) if fp + tn else 1.0,
    }


def evaluate(rows: list[dict], ruleset) -> dict:
    """Precision/recall overall and per language, reply-language accuracy and the mistakes."""
    from generation import safety

    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    mistakes, lang_ok, cat_ok, n_hazard_found = [], 0, 0, 0
    for row in rows:
        verdict = safety.assess(row["question"], ruleset=ruleset)
        key = (verdict.hazard, row["hazard"])
        idx = {(True, True): 0, (True, False): 1, (False, True): 2, (False, False): 3}[key]
        for bucket in ("all", row["language"]):
            counts[bucket][idx] += 1
        if verdict.hazard != row["hazard"]:
            mistakes.append({"id": row["id"], "question": row["question"],
                             "expected_hazard": row["hazard"], "rule": verdict.rule})  # fmt: skip
        elif verdict.hazard:
            n_hazard_found += 1
            lang_ok += verdict.language == row["language"]
            cat_ok += verdict.category == row.get("category")
    return {
        "overall": _prf(*counts["all"]),
        "per_language": {k: _prf(*v) for k, v in sorted(counts.items()) if k != "all"},
        "reply_language_correct": round(lang_ok / n_hazard_found, 3) if n_hazard_found else None,
        "category_correct": round(cat_ok / n_hazard_found, 3) if n_hazard_found else None,
        "mistakes": mistakes,
    }


def cost_us(questions: list[str], ruleset, repeats: int = 5) -> dict:
    """Microseconds per assess() call (p50, p95, mean) over these questions."""
    from generation import safety

    for q in questions[:20]:
        safety.assess(q, ruleset=ruleset)  # warm the char-fold cache
    times = []
    for _ in range(repeats):
        for q in questions:
            started = time.perf_counter_ns()
            safety.assess(q, ruleset=ruleset)
            times.append((time.perf_counter_ns() - started) / 1000)
    times.sort()
    return {
        "questions": len(questions),
        "calls": len(times),
        "p50_us": round(statistics.median(times), 1),
        "p95_us": round(times[int(0.95 * (len(times) - 1))], 1),
        "mean_us": round(statistics.fmean(times), 1),
    }


def run(args) -> dict:
    from generation import safety

    ruleset = safety.RuleSet.build(safety.DEFAULT_RULES, version="defaults")
    team = _rows(DATA / "safety_questions.jsonl")
    holdout = _rows(DATA / "safety_holdout.jsonl")
    out: dict = {
        "rules": {
            "hazard": len(ruleset.hazards),
            "mask": len(ruleset.masks),
            "benign": len(ruleset.benign),
            "languages": list(safety.LANGUAGES),
        },
        "team_set": {"questions": len(team), **evaluate(team, ruleset)},
        "holdout_frozen": json.loads((DATA / "safety_holdout_frozen.json").read_text()),
        "holdout_current_rules": {"questions": len(holdout), **evaluate(holdout, ruleset)},
        "how_chosen": (
            "Rules and confidences were written by hand against the team set (so its numbers "
            "measure coverage); the holdout was written afterwards and run once against the "
            "frozen rules (holdout_frozen); the misses were then fixed, so "
            "holdout_current_rules is no longer held out. No threshold is tuned."
        ),
    }
    dev_questions: list[str] = []
    eval_dir = Path(args.eval_dir)
    if eval_dir.is_dir():
        flagged = []
        for queries in sorted(eval_dir.glob("*/queries.jsonl")):
            for q in _rows(queries):
                dev_questions.append(q["text"])
                if safety.assess(q["text"], ruleset=ruleset).hazard:
                    flagged.append({"dataset": queries.parent.name, "question": q["text"]})
        out["dev_manual_questions"] = {"questions": len(dev_questions), "taken_for_hazard": flagged}
    all_questions = [r["question"] for r in team + holdout] + dev_questions
    out["cost"] = cost_us(all_questions, ruleset, repeats=2 if args.quick else 5)
    hazards = [r["question"] for r in team + holdout if r["hazard"]]
    out["cost_hazard_questions"] = cost_us(hazards, ruleset, repeats=2 if args.quick else 5)
    # The 2 cores are shared: a high load average inflates the tail (p95) most.
    out["load_average_1m"] = round(os.getloadavg()[0], 2)
    return out
