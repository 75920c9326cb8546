"""Answer quality of the extractive answerer on the e-manual DEV sets, with real retrieval.

Per dataset, the corpus goes into scratch indexes through retrieval's own evaluation code
(same chunking, embedder, FAISS/BM25 and `engine.search_snapshot` as production):
- the full index: answerable questions -> token-F1 and ROUGE-L against answers.jsonl,
  citation precision (cited article relevant per qrels), latency (first token, total);
- two "withheld" indexes, each without the relevant articles of one half of the questions:
  those questions are unanswerable there -> abstention accuracy at the thresholds in effect
  (the fitted confidence model's own by default; the formula's ANSWER_MIN_CONFIDENCE_* were
  calibrated from these runs) and over a grid.
Then the pipeline's overhead around an LLM call is measured against the fake vLLM server
(a subprocess speaking the OpenAI wire format): answer latency minus the server's own time.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings

DEBRIS = {
    "try_now": re.compile(r"\bTry Now\b"),
    "bare_page_number": re.compile(r"(?:^|\s)-?\s?\d{1,3}\s?-(?:\s|$)|\s\d{1,3}\s*$"),
    "cut_with_ellipsis": re.compile(r"(\.\.\.|…)"),
}
_LOST_PATH = re.compile(r"\bSettings (?:General|Picture|Sound|Support|Broadcasting) [A-Z]")


def datasets_in(eval_dir: Path) -> list[Path]:
    """Every folder of eval_dir that holds a BEIR-style dataset (corpus, queries, qrels)."""
    return sorted(
        p
        for p in Path(eval_dir).iterdir()
        if all((p / n).is_file() for n in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"))
    )


# --- metrics ---------------------------------------------------------------------------
from retrieval.evaluation import normalize_tokens, rouge_l, token_f1  # noqa: E402,F401

_MARKERS = re.compile(r"\s*\[\d+(?:,\s*\d+)*\]")


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return round(values[index], 2)


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


# --- runs ---------------------------------------------------------------------------------
def _fold(query_id: str) -> int:
    return int(hashlib.sha1(query_id.encode()).hexdigest(), 16) % 2


def _confidence(question: str, result) -> float:
    """The answer confidence the pipeline computes for this search result."""
    answer, _, _ = _answer(question, result)
    return float(answer["confidence"])


def _search(scratch, query: str, embedder):
    from retrieval import engine
    from retrieval.services import fusion_params

    return engine.search_snapshot(
        scratch.snapshot,
        query,
        audience="public",
        top_k=settings.ANSWER_SEARCH_TOP_K,
        mode=settings.SEARCH_MODE,
        embedder=embedder,
        fusion=fusion_params(),
    )


def _answer(question: str, result) -> tuple[dict, float, float]:
    from generation.services import answer_question_stream

    started = time.perf_counter()
    first = 0.0
    final: dict = {}
    for event in answer_question_stream(question, audience="public", search_result=result):
        if event.type == "token" and not first:
            first = time.perf_counter() - started
        elif event.type == "done":
            final = event.data["answer"]
    return final, first * 1000, (time.perf_counter() - started) * 1000


def _quality(dataset, answers: dict, results: dict, scratch, label: str) -> dict:
    """Answer every question (thresholds off) and score the text and citations."""
    f1s, rouges, ttft, total = [], [], [], []
    cited = relevant_cited = 0
    per_answer_precision = []
    sentences = []
    chunk_f1s, first60_f1s, words = [], [], []
    debris: Counter[str] = Counter()
    lost_paths = with_paths = unknown_name = 0
    for query in dataset.queries:
        reference = answers.get(query["id"])
        if not reference:
            continue
        result = results[query["id"]]
        answer, first_ms, total_ms = _answer(query["text"], result)
        ttft.append(first_ms)
        total.append(total_ms)
        f1s.append(token_f1(answer["text"], reference))
        words.append(len(_MARKERS.sub("", answer["text"]).split()))
        top_chunk = result.hits[0].chunks[0].text if result.hits and result.hits[0].chunks else ""
        chunk_f1s.append(token_f1(top_chunk, reference))
        top_text = " ".join(c.text for c in result.hits[0].chunks) if result.hits else ""
        first60 = " ".join(_article_text(scratch, result).split()[:60]) or top_text
        first60_f1s.append(token_f1(first60, reference))
        for name, pattern in DEBRIS.items():
            debris[name] += bool(pattern.search(_MARKERS.sub("", answer["text"])))
        lost_paths += bool(_LOST_PATH.search(answer["text"]))
        # Thresholds are off here, but the unknown-name rule is not: an answerable question
        # it refuses shows up in this count (ANSWER_ABSTAIN_ON_UNKNOWN_NAMES).
        unknown_name += answer.get("abstain_reason") == "unknown_name"
        with_paths += " > " in answer["text"]
        rouges.append(rouge_l(answer["text"], reference))
        sentences.append(len(re.findall(r"\[\d", answer["text"])))
        relevant = dataset.qrels.get(query["id"], {})
        hits = 0
        for citation in answer["citations"]:
            cited += 1
            ok = scratch.doc_ids.get(citation["article_id"]) in relevant
            relevant_cited += ok
            hits += ok
        if answer["citations"]:
            per_answer_precision.append(hits / len(answer["citations"]))
    return {
        "variant": label,
        "questions": len(f1s),
        "token_f1": _mean(f1s),
        "baseline_top_chunk_verbatim_f1": _mean(chunk_f1s),
        "baseline_first_60_words_f1": _mean(first60_f1s),
        "median_answer_words": statistics.median(words) if words else 0,
        "answers_with_debris": dict(debris),
        "answers_with_lost_menu_separators": lost_paths,
        "answers_with_menu_paths_rendered_with_gt": with_paths,
        "answerable_refused_for_an_unknown_name": unknown_name,
        "rouge_l": _mean(rouges),
        "citation_precision_micro": round(relevant_cited / cited, 4) if cited else 0.0,
        "citation_precision_macro": _mean(per_answer_precision),
        "avg_cited_sentences": _mean(sentences),
        "first_token_ms_p50": pct(ttft, 50),
        "first_token_ms_p95": pct(ttft, 95),
        "total_ms_p50": pct(total, 50),
        "total_ms_p95": pct(total, 95),
    }


def _article_text(scratch, result) -> str:
    """The whole top article's chunk texts in order (the first-60-words baseline)."""
    if not result.hits:
        return ""
    article = result.hits[0].article_id
    chunks = sorted(
        (m for m in scratch.snapshot.chunks.values() if m.article_id == article),
        key=lambda m: m.position,
    )
    return " ".join(m.text for m in chunks)


def _abstention_at(threshold: float, answerable: list[float], unanswerable: list[float]) -> dict:
    abstain_ok = sum(c < threshold for c in unanswerable) / max(len(unanswerable), 1)
    false_abstain = sum(c < threshold for c in answerable) / max(len(answerable), 1)
    return {
        "threshold": round(threshold, 3),
        "abstention_accuracy_unanswerable": round(abstain_ok, 4),
        "false_abstention_rate_answerable": round(false_abstain, 4),
        "balanced_accuracy": round((abstain_ok + 1 - false_abstain) / 2, 4),
    }


def _calibrate(
    answerable: list[float], unanswerable: list[float], *, thresholds: tuple[float, float]
) -> dict:
    """Abstention at every threshold, and at the configured ones (passed in: the caller runs
    with both forced to 0.0 so that every question is answered and scored)."""
    grid = [round(x * 0.01, 2) for x in range(0, 100)]
    rows = [_abstention_at(t, answerable, unanswerable) for t in grid]
    best = max(rows, key=lambda r: (r["balanced_accuracy"], -r["threshold"]))

    def highest_with(max_false: float) -> dict:
        return max(
            (r for r in rows if r["false_abstention_rate_answerable"] <= max_false),
            key=lambda r: r["threshold"],
        )

    # Customers: abstain as often as possible while refusing at most 10% of answerable
    # questions. Agents judge answers themselves: at most 5% false abstentions.
    return {
        "public": highest_with(0.10),
        "internal": highest_with(0.05),
        "best_balanced": best,
        "current_settings": {
            "public": _abstention_at(thresholds[0], answerable, unanswerable),
            "internal": _abstention_at(thresholds[1], answerable, unanswerable),
        },
        "grid": rows[::5],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _llm_overhead(questions: list[tuple[str, object]]) -> dict:
    """Answer latency through the vLLM path minus the fake server's own time per request."""
    import httpx

    from generation.backends import circuit

    port = _free_port()
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.generation.fake_vllm",
            "--port",
            str(port),
            "--token-delay",
            "0",
        ],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    saved = (settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY)
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/v1/models", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY = (
            f"{base}/v1",
            "fake-model",
            "",
        )
        circuit.reset_all()
        saved_min = settings.ANSWER_MIN_CONFIDENCE_PUBLIC
        settings.ANSWER_MIN_CONFIDENCE_PUBLIC = 0.0  # every question reaches the server
        totals: list[float] = []
        firsts: list[float] = []
        backends: Counter[str] = Counter()
        overhead = []
        stats_url = f"{base}/fake/stats"
        for question, result in questions:
            before = len(httpx.get(stats_url).json()["server_seconds"])
            answer, first_ms, total_ms = _answer(question, result)
            served = httpx.get(stats_url).json()["server_seconds"][before:]
            reason = answer["abstain_reason"] or answer["fallback_reason"]
            backends[answer["backend"] + (f"/{reason}" if reason else "")] += 1
            if answer["backend"] == "llm" and len(served) == 1:
                totals.append(total_ms)
                firsts.append(first_ms)
                overhead.append(total_ms - served[0] * 1000)
        server_ms = [s * 1000 for s in httpx.get(stats_url).json()["server_seconds"]]
    finally:
        settings.ANSWER_MIN_CONFIDENCE_PUBLIC = saved_min
        settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY = saved
        circuit.reset_all()
        proc.terminate()
        proc.wait(timeout=10)
    n = len(overhead)
    return {
        "requests": n,
        "backends": dict(backends),
        "total_ms_p50": pct(totals, 50),
        "total_ms_p95": pct(totals, 95),
        "first_token_ms_p50": pct(firsts, 50),
        "server_ms_p50": pct(server_ms, 50),
        "overhead_ms_p50": pct(overhead, 50),
        "overhead_ms_p95": pct(overhead, 95),
        "note": "overhead = answer latency with retrieval given - fake server handling time; "
        "it covers prompt building, token counting, HTTP/SSE parsing and citation checks",
    }


def run(args) -> dict:
    """Measure the extractive answerer and calibrate abstention on the DEV sets."""
    from retrieval import evaluation
    from retrieval.embedding import get_embedder
    from retrieval.services import index_params

    settings.LLM_BASE_URL = ""  # the extractive path first
    settings.ANSWER_STREAM_DELAY_MS = 0
    from generation.services import min_confidence

    saved_thresholds = (
        settings.ANSWER_MIN_CONFIDENCE_PUBLIC,
        settings.ANSWER_MIN_CONFIDENCE_INTERNAL,
    )
    # The thresholds in effect (the fitted confidence model's own when it applies, the
    # formula's settings otherwise): "current_settings" reports abstention at these.
    effective_thresholds = (min_confidence("public"), min_confidence("internal"))
    embedder = evaluation.CachedEmbedder(get_embedder())
    eval_dir = Path(getattr(args, "eval_dir", "../shared/eval"))
    limit = 40 if getattr(args, "quick", False) else None
    report: dict = {"embedding_model": embedder.model_id, "datasets": {}}
    all_answerable: list[float] = []
    all_unanswerable: list[float] = []
    overhead_questions: list[tuple[str, object]] = []
    for folder in datasets_in(eval_dir):
        name = folder.name
        dataset = evaluation.load_dataset(folder, limit=limit)
        answers = {
            row["id"]: row["answer"]
            for row in map(json.loads, (folder / "answers.jsonl").open())
            if row.get("answer")
        }
        started = time.perf_counter()
        full = evaluation.index_corpus(dataset.corpus, embedder, params=index_params())
        results = {q["id"]: _search(full, q["text"], embedder) for q in dataset.queries}
        retrieval_ms = [r.took_ms for r in results.values()]
        hit1 = _mean(
            [
                float(bool(r.hits) and full.doc_ids[r.hits[0].article_id] in dataset.qrels[qid])
                for qid, r in results.items()
            ]
        )
        # Quality with abstention off: every question gets an answer to score.
        settings.ANSWER_MIN_CONFIDENCE_PUBLIC = settings.ANSWER_MIN_CONFIDENCE_INTERNAL = 0.0
        variants = [_quality(dataset, answers, results, full, "span")]
        texts = {q["id"]: q["text"] for q in dataset.queries}
        answerable = [_confidence(texts[qid], r) for qid, r in results.items()]
        retrieval_only = [r.confidence for r in results.values()]
        # Unanswerable: withhold the relevant articles of one half of the questions at a time.
        unanswerable: list[float] = []
        unanswerable_retrieval_only: list[float] = []
        for fold in (0, 1):
            held = [q for q in dataset.queries if _fold(q["id"]) == fold]
            withheld = set().union(*(dataset.qrels[q["id"]] for q in held)) if held else set()
            corpus = [d for d in dataset.corpus if d["id"] not in withheld]
            scratch = evaluation.index_corpus(corpus, embedder, params=index_params())
            try:
                for q in held:
                    res = _search(scratch, q["text"], embedder)
                    unanswerable.append(_confidence(q["text"], res))
                    unanswerable_retrieval_only.append(res.confidence)
            finally:
                scratch.folder.cleanup()
        all_answerable += answerable
        all_unanswerable += unanswerable
        overhead_questions += [(q["text"], results[q["id"]]) for q in dataset.queries[:40]]
        full.folder.cleanup()
        report["datasets"][name] = {
            "questions": len(dataset.queries),
            "retrieval_hit@1": hit1,
            "retrieval_ms_p50": pct(retrieval_ms, 50),
            "retrieval_ms_p95": pct(retrieval_ms, 95),
            "extractive": variants,
            "abstention": _calibrate(answerable, unanswerable, thresholds=effective_thresholds),
            "abstention_retrieval_confidence_only": _calibrate(
                retrieval_only, unanswerable_retrieval_only, thresholds=saved_thresholds
            )["best_balanced"],
            "seconds": round(time.perf_counter() - started, 1),
        }
    settings.ANSWER_MIN_CONFIDENCE_PUBLIC, settings.ANSWER_MIN_CONFIDENCE_INTERNAL = (
        saved_thresholds
    )
    report["abstention_pooled"] = _calibrate(
        all_answerable, all_unanswerable, thresholds=effective_thresholds
    )
    report["confidence_model"] = {
        "ANSWER_CONFIDENCE_MODEL": settings.ANSWER_CONFIDENCE_MODEL,
        "thresholds_in_effect": {
            "public": effective_thresholds[0],
            "internal": effective_thresholds[1],
        },
        "note": (
            "with the fitted model (the default) these abstention figures are IN-SAMPLE: its "
            "weights were fitted on all of DEV; the out-of-fold ones are in answer_models.json"
        ),
    }
    report["llm_overhead_fake_vllm"] = _llm_overhead(overhead_questions)
    from bench.fit_answer_models import IN_SAMPLE_WARNING, out_of_fold_summary

    report["in_sample_warning"] = IN_SAMPLE_WARNING
    report["out_of_fold"] = out_of_fold_summary()
    return report
