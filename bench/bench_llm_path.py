"""The LLM path with a real model: the local llama.cpp server (`manage.py llm_serve`) on DEV.

Per dataset, the first BENCH_LLM_QUESTIONS (default 40) answerable DEV questions go through
the real pipeline (`answer_question_stream`, retrieval given, abstention off) with
LLM_BASE_URL pointing at the local server, and through the extractive answerer on the same
retrieval. Reported:
- the share of answers that pass the grounding gate (the rest fall back to extractive, with
  the reason), abstentions (NO_ANSWER), and the share of draft sentences dropped, by reason;
- token-F1 and citation precision of the served answers, of the gate-passed LLM answers, of
  the raw (ungated) drafts, and of the extractive answers on the same questions;
- TTFT and total time, the model's own time (the server's `timings`: prompt + generation)
  and our overhead around it (total - model time) as a share of the model's time.

Calibration of the gate's defaults (`ANSWER_GATE_MIN_SUPPORT`, `ANSWER_GATE_MIN_SURVIVING`):
- min support: reference-answer sentences against the chunks of their question's relevant
  articles (grounded) versus sentences of other questions' references against the same
  chunks (ungrounded, but in the manual's vocabulary); the threshold with the best
  separation (Youden's J = released grounded - released ungrounded) wins;
- min surviving share: with that min support, the raw drafts are re-gated offline (the gate
  is deterministic) and each threshold is scored by the mean token-F1 of what would be
  served (the gated LLM answer when enough survives, else the extractive one).

The agent audience is used so the raw drafts come back (answer.draft_text); the gate is the
same for both audiences. Model settings are kept small so the run stays bounded on 2 CPU
cores: 2 sources, a 1024-token prompt budget, 96 answer tokens, one server thread.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.bench_answer_quality import _search, datasets_in, pct, token_f1

QUESTIONS = int(os.environ.get("BENCH_LLM_QUESTIONS", "40"))  # per dataset (--quick: 5)
LLM_SETTINGS = {
    "ANSWER_MAX_SOURCES": 2,
    "LLM_MAX_CONTEXT_TOKENS": 1024,
    "LLM_MAX_ANSWER_TOKENS": 96,
    "LLM_TIMEOUT_SECONDS": 120.0,
    "LLM_TEMPERATURE": 0.0,
    "ANSWER_MIN_CONFIDENCE_PUBLIC": 0.0,
    "ANSWER_MIN_CONFIDENCE_INTERNAL": 0.0,
    "ANSWER_STREAM_DELAY_MS": 0,
    "ANSWER_CACHE_SECONDS": 0,
}
SUPPORT_GRID = [round(0.3 + 0.05 * i, 2) for i in range(13)]  # 0.30 .. 0.90
SURVIVING_GRID = [0.0, 0.25, 0.34, 0.5, 0.6, 0.67, 0.75, 0.8, 1.0]


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


def _citation_precision(
    citations: list[dict], relevant: Collection[str], doc_ids: dict
) -> float | None:
    """Share of citations whose article is a judged-relevant corpus document."""
    if not citations:
        return None
    return sum(doc_ids.get(c["article_id"]) in relevant for c in citations) / len(citations)


class _Recorder:
    """Wraps the backend factory so each answer's stream (with the server's timings) is kept."""

    def __init__(self) -> None:
        import generation.services as services

        # generation.services calls the factory through its module global (imported from
        # generation.backends), so replacing that global intercepts every backend it builds.
        # Typed as Any: the name is imported there, not declared for re-export.
        self.services: Any = services
        self.original = self.services.get_llm_backend
        self.last = None

    def __enter__(self) -> _Recorder:
        recorder = self

        def factory():
            backend = recorder.original()
            stream_fn = backend.stream

            def stream(*args, **kwargs):
                recorder.last = stream_fn(*args, **kwargs)
                return recorder.last

            backend.stream = stream
            return backend

        self.services.get_llm_backend = factory
        return self

    def __exit__(self, *exc) -> None:
        self.services.get_llm_backend = self.original


def _answer(question: str, result, *, audience: str) -> tuple[dict, float, float]:
    from generation.services import answer_question_stream

    started = time.perf_counter()
    first = 0.0
    final: dict = {}
    for event in answer_question_stream(question, audience=audience, search_result=result):
        if event.type == "token" and not first:
            first = time.perf_counter() - started
        elif event.type == "done":
            final = event.data["answer"]
    return final, first * 1000, (time.perf_counter() - started) * 1000


def _prompt_sources(question: str, result):
    from generation.prompts import build_prompt
    from generation.services import sources_from_hits

    sources = sources_from_hits(result.hits, max_sources=settings.ANSWER_MAX_SOURCES)
    prompt = build_prompt(
        question,
        sources,
        max_context_tokens=settings.LLM_MAX_CONTEXT_TOKENS,
        answer_tokens=settings.LLM_MAX_ANSWER_TOKENS,
    )
    return prompt.sources


def _support_calibration(rows: list[dict]) -> dict:
    """Grounded vs ungrounded reference sentences: released share per min-support threshold."""
    from generation.gate import lexical_support
    from generation.text import split_sentences

    grounded: list[float] = []
    ungrounded: list[float] = []
    for i, row in enumerate(rows):
        gold = [s for s in row["all_sources"] if s.article_id in row["relevant_article_ids"]]
        if not gold:
            continue
        other = rows[(i + len(rows) // 2) % len(rows)]
        if other["id"] == row["id"]:
            continue
        for sentence in split_sentences(row["reference"])[:4]:
            grounded.append(lexical_support(sentence, gold))
        for sentence in split_sentences(other["reference"])[:4]:
            ungrounded.append(lexical_support(sentence, gold))
    grid = []
    for t in SUPPORT_GRID:
        tpr = sum(s >= t for s in grounded) / max(len(grounded), 1)
        fpr = sum(s >= t for s in ungrounded) / max(len(ungrounded), 1)
        grid.append(
            {
                "min_support": t,
                "grounded_released": round(tpr, 4),
                "ungrounded_released": round(fpr, 4),
                "youden_j": round(tpr - fpr, 4),
            }
        )
    # Ties go to the lower threshold: a model paraphrases more than a reference answer does.
    best = max(grid, key=lambda r: (r["youden_j"], -r["min_support"]))
    return {
        "grounded_sentences": len(grounded),
        "ungrounded_sentences": len(ungrounded),
        "best": best,
        "grid": grid,
    }


def _surviving_calibration(rows: list[dict], min_support: float) -> dict:
    """Re-gate the raw drafts offline; score each (attribution, min surviving) by served F1."""
    grid = [
        _served_at(rows, min_support, t, attribute)
        for attribute in (False, True)
        for t in SURVIVING_GRID
    ]
    # Ties go to the stricter gate (more sentences checked, fewer LLM answers served).
    best = max(grid, key=lambda r: (r["served_token_f1"], r["min_surviving"]))
    return {"min_support": min_support, "best": best, "grid": grid}


def _served_at(rows: list[dict], min_support: float, t: float, attribute: bool) -> dict:
    from generation.gate import gate_text
    from generation.prompts import CANNOT_ANSWER

    f1s, llm_served = [], 0
    for row in rows:
        draft = row["draft"]
        if not draft or CANNOT_ANSWER in draft:
            f1s.append(row["extractive_f1"])
            continue
        report = gate_text(
            draft, row["prompt_sources"], min_support=min_support, attribute_uncited=attribute
        )
        ok = report.released and report.surviving_share >= t and report.cited_any
        if t == 0.0:
            ok = bool(report.released)
        if ok:
            llm_served += 1
            f1s.append(token_f1(report.released_text, row["reference"]))
        else:
            f1s.append(row["extractive_f1"])
    return {
        "attribute_uncited": attribute,
        "min_surviving": t,
        "served_token_f1": _mean(f1s),
        "llm_answers_served": round(llm_served / max(len(rows), 1), 4),
    }


def _run_dataset(
    name: str, folder: Path, embedder, server, *, limit: int
) -> tuple[dict, list[dict]]:
    from retrieval import evaluation
    from retrieval.services import index_params

    dataset = evaluation.load_dataset(folder)
    answers = {
        row["id"]: row["answer"]
        for row in map(json.loads, (folder / "answers.jsonl").open())
        if row.get("answer")
    }
    queries = [q for q in dataset.queries if answers.get(q["id"])][:limit]
    scratch = evaluation.index_corpus(dataset.corpus, embedder, params=index_params())
    rows: list[dict] = []
    try:
        corpus_to_article = {v: k for k, v in scratch.doc_ids.items()}
        for query in queries:
            result = _search(scratch, query["text"], embedder)
            relevant = dataset.qrels.get(query["id"], {})
            reference = answers[query["id"]]
            from generation.services import sources_from_hits

            # Extractive on the same retrieval.
            settings.LLM_BASE_URL = ""
            ext, _, _ = _answer(query["text"], result, audience="internal")
            # The LLM path.
            settings.LLM_BASE_URL = server.base_url
            with _Recorder() as recorder:
                llm, first_ms, total_ms = _answer(query["text"], result, audience="internal")
                stream = recorder.last
            timings = getattr(stream, "timings", {}) or {}
            model_ms = float(timings.get("prompt_ms", 0.0)) + float(
                timings.get("predicted_ms", 0.0)
            )
            rows.append(
                {
                    "id": query["id"],
                    "question": query["text"],
                    "reference": reference,
                    "relevant_article_ids": {
                        corpus_to_article[d] for d in relevant if d in corpus_to_article
                    },
                    "all_sources": sources_from_hits(result.hits, max_sources=8),
                    "prompt_sources": _prompt_sources(query["text"], result),
                    "extractive_f1": token_f1(ext["text"], reference),
                    "extractive_cp": _citation_precision(
                        ext["citations"], relevant, scratch.doc_ids
                    ),
                    "answer": llm,
                    "draft": llm.get("draft_text", ""),
                    "first_ms": first_ms,
                    "total_ms": total_ms,
                    "model_ms": model_ms,
                    "prompt_tokens": stream.usage.prompt_tokens if stream else 0,
                    "completion_tokens": stream.usage.completion_tokens if stream else 0,
                    "relevant": relevant,
                    "doc_ids": scratch.doc_ids,
                }
            )
            print(
                f"   {name} {len(rows)}/{len(queries)}: {llm['backend']}"
                f" {llm['fallback_reason'] or llm['abstain_reason']} "
                f"{total_ms:.0f} ms (model {model_ms:.0f} ms)",
                flush=True,
            )
    finally:
        scratch.folder.cleanup()
    return _summarise(rows), rows


def _summarise(rows: list[dict]) -> dict:
    outcomes: Counter[str] = Counter()
    served_f1, served_cp, passed_f1, passed_cp, draft_f1 = [], [], [], [], []
    passed_ext_f1, passed_ext_cp = [], []
    sentences = released = 0
    dropped: Counter[str] = Counter()
    ttft, total, model, overhead_share, overhead_ms = [], [], [], [], []
    for row in rows:
        answer = row["answer"]
        reason = answer["fallback_reason"] or answer["abstain_reason"]
        outcomes[answer["backend"] + (f"/{reason}" if reason else "")] += 1
        gate = answer.get("gate") or {}
        sentences += gate.get("sentences", 0)
        released += gate.get("released", 0)
        dropped.update(gate.get("dropped", {}))
        served_f1.append(token_f1(answer["text"], row["reference"]))
        cp = _citation_precision(answer["citations"], row["relevant"], row["doc_ids"])
        if cp is not None:
            served_cp.append(cp)
        if row["draft"]:
            draft_f1.append(token_f1(row["draft"], row["reference"]))
        if answer["backend"] == "llm" and not answer["abstained"]:
            passed_f1.append(served_f1[-1])
            if cp is not None:
                passed_cp.append(cp)
            passed_ext_f1.append(row["extractive_f1"])
            if row["extractive_cp"] is not None:
                passed_ext_cp.append(row["extractive_cp"])
            ttft.append(row["first_ms"])
            total.append(row["total_ms"])
            if row["model_ms"]:
                model.append(row["model_ms"])
                overhead_ms.append(row["total_ms"] - row["model_ms"])
                overhead_share.append((row["total_ms"] - row["model_ms"]) / row["model_ms"])
    n = len(rows)
    ext_cp = [r["extractive_cp"] for r in rows if r["extractive_cp"] is not None]
    return {
        "questions": n,
        "outcomes": dict(outcomes),
        "gate_pass_share": round(outcomes.get("llm", 0) / n, 4) if n else 0.0,
        "sentences_in_drafts": sentences,
        "sentences_dropped_share": round(1 - released / sentences, 4) if sentences else 0.0,
        "dropped_by_reason": dict(dropped),
        "token_f1": {
            "served (gated LLM or fallback)": _mean(served_f1),
            "extractive (same questions)": _mean([r["extractive_f1"] for r in rows]),
            "llm_passed_gate": _mean(passed_f1),
            "extractive_on_those": _mean(passed_ext_f1),
            "raw_drafts_ungated": _mean(draft_f1),
        },
        "citation_precision": {
            "served": _mean(served_cp),
            "extractive (same questions)": _mean(ext_cp),
            "llm_passed_gate": _mean(passed_cp),
            "extractive_on_those": _mean(passed_ext_cp),
        },
        "llm_passed": {
            "first_token_ms_p50": pct(ttft, 50),
            "first_token_ms_p95": pct(ttft, 95),
            "total_ms_p50": pct(total, 50),
            "total_ms_p95": pct(total, 95),
            "model_ms_p50": pct(model, 50),
            "overhead_ms_p50": pct(overhead_ms, 50),
            "overhead_share_of_model_p50": round(statistics.median(overhead_share), 4)
            if overhead_share
            else None,
            "overhead_share_of_model_mean": _mean(overhead_share),
        },
        "prompt_tokens_p50": pct([r["prompt_tokens"] for r in rows], 50),
        "completion_tokens_p50": pct([r["completion_tokens"] for r in rows], 50),
        "examples": [
            {
                "question": r["question"],
                "draft": r["draft"][:400],
                "served": r["answer"]["text"][:400],
                "backend": r["answer"]["backend"],
                "reason": r["answer"]["fallback_reason"] or r["answer"]["abstain_reason"],
                "gate": r["answer"].get("gate", {}),
            }
            for r in rows[:6]
        ],
    }


def run(args) -> dict:
    """The LLM path with the real local model on the DEV sets (bounded)."""
    from generation.backends import circuit
    from generation.local_server import start_process
    from retrieval import evaluation
    from retrieval.embedding import get_embedder

    saved = {k: getattr(settings, k) for k in (*LLM_SETTINGS, "LLM_BASE_URL", "LLM_MODEL")}
    for key, value in LLM_SETTINGS.items():
        setattr(settings, key, value)
    eval_dir = Path(getattr(args, "eval_dir", "../shared/eval"))
    embedder = evaluation.CachedEmbedder(get_embedder())
    started = time.perf_counter()
    server = start_process(threads=settings.LLM_LOCAL_THREADS, context_tokens=4096)
    report: dict = {
        "model": server.alias,
        "server": "llama.cpp (xllamacpp) via manage.py llm_serve, "
        f"{settings.LLM_LOCAL_THREADS} thread(s)",
        "settings": LLM_SETTINGS,
        "questions_per_dataset": QUESTIONS,
        "gate_settings": {
            "ANSWER_GATE_MIN_SUPPORT": settings.ANSWER_GATE_MIN_SUPPORT,
            "ANSWER_GATE_MIN_SURVIVING": settings.ANSWER_GATE_MIN_SURVIVING,
        },
        "datasets": {},
    }
    all_rows: list[dict] = []
    limit = 5 if getattr(args, "quick", False) else QUESTIONS
    report["questions_per_dataset"] = limit
    try:
        settings.LLM_MODEL = server.alias
        circuit.reset_all()
        for folder in datasets_in(eval_dir):
            name = folder.name
            summary, rows = _run_dataset(name, folder, embedder, server, limit=limit)
            report["datasets"][name] = summary
            all_rows += rows
    finally:
        server.stop()
        for key, value in saved.items():
            setattr(settings, key, value)
        circuit.reset_all()
    support_cal = _support_calibration(all_rows)
    report["calibration"] = {
        "min_support": support_cal,
        "min_surviving": _surviving_calibration(all_rows, support_cal["best"]["min_support"]),
        "min_surviving_at_current_min_support": _surviving_calibration(
            all_rows, settings.ANSWER_GATE_MIN_SUPPORT
        ),
    }
    report["pooled"] = _summarise(all_rows)
    report["pooled"].pop("examples", None)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report
