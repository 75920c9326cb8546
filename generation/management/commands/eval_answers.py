"""Answer every question of a dataset as the public portal would, into a JSON report.

A scratch KB is built from DIR/corpus.jsonl (cleaned as an import cleans it, chunked,
embedded and indexed by the production code into a temporary index; the real KB is not
touched), then each line of DIR/queries.jsonl goes through the same answer pipeline as a
portal question: search in the configured mode, safety check, confidence and abstention,
the extractive answer or the configured LLM, citation checks. qrels.tsv and answers.jsonl are
optional: when present, a few metrics are printed at the end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError


def read_jsonl_lenient(path: Path, *, required: tuple[str, ...]) -> tuple[list[dict], list[str]]:
    """The valid lines of a JSONL file and a problem message per skipped line (1-based)."""
    rows: list[dict] = []
    problems: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path.name} line {number}: invalid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                problems.append(f"{path.name} line {number}: not a JSON object")
                continue
            missing = [k for k in required if not isinstance(row.get(k), str) or not row[k]]
            if missing:
                problems.append(f"{path.name} line {number}: no {' or '.join(missing)}")
                continue
            rows.append(row)
    return rows, problems


class Command(BaseCommand):
    help = (
        "Build a scratch KB from DIR/corpus.jsonl and answer DIR/queries.jsonl as the public "
        "portal would; write {records, settings} as JSON."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dataset", required=True, help="folder with corpus/queries.jsonl")
        parser.add_argument("--json", dest="json_out", required=True, help="output JSON path")
        parser.add_argument("--limit", type=int, default=None, help="first N questions only")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        folder = Path(options["dataset"])
        for name in ("corpus.jsonl", "queries.jsonl"):
            if not (folder / name).is_file():
                raise CommandError(f"{folder / name} is missing")
        corpus, problems = read_jsonl_lenient(folder / "corpus.jsonl", required=("id", "text"))
        queries, q_problems = read_jsonl_lenient(folder / "queries.jsonl", required=("id", "text"))
        for problem in [*problems, *q_problems]:
            self.stderr.write(f"skipped: {problem}")
        if not corpus:
            raise CommandError(f"{folder / 'corpus.jsonl'} has no usable document")
        if options["limit"]:
            queries = queries[: options["limit"]]
        report = answer_dataset(
            corpus,
            queries,
            progress=not options["no_progress"],
            embedder_factory=None,
        )
        report["skipped_lines"] = problems + q_problems
        Path(options["json_out"]).write_text(json.dumps(report, indent=1), encoding="utf-8")
        qrels = _read_qrels(folder / "qrels.tsv")
        answers = {}
        if (folder / "answers.jsonl").is_file():
            rows, _ = read_jsonl_lenient(folder / "answers.jsonl", required=("id", "answer"))
            answers = {r["id"]: r["answer"] for r in rows}
        for line in summarize(report["records"], qrels, answers):
            self.stdout.write(line)


def answer_dataset(
    corpus: list[dict],
    queries: list[dict],
    *,
    progress: bool = True,
    embedder_factory: Any = None,
) -> dict:
    """{'records': [...], 'settings': {...}} for every query, against a scratch KB."""
    from tqdm import tqdm

    from generation.conf import generation_conf
    from generation.services import answer_question_stream, min_confidence
    from retrieval import engine, evaluation
    from retrieval.conf import retrieval_conf
    from retrieval.embedding import get_embedder
    from retrieval.services import fusion_params, index_params

    conf, retrieval = generation_conf(), retrieval_conf()
    embedder = evaluation.CachedEmbedder(embedder_factory() if embedder_factory else get_embedder())
    scratch = evaluation.index_corpus(corpus, embedder, params=index_params())
    records = []
    try:
        for query in tqdm(queries, disable=not progress, file=sys.stderr, desc="answering"):
            question = query["text"]
            record: dict[str, Any] = {"query_id": query["id"], "question": question}
            result = engine.search_snapshot(
                scratch.snapshot,
                question,
                audience="public",
                top_k=conf.search_top_k,
                mode=retrieval.search_mode,
                embedder=embedder,
                fusion=fusion_params(),
                max_query_chars=retrieval.search_max_query_chars,
                snippets=False,
            )
            try:
                final: dict = {}
                for event in answer_question_stream(
                    question, audience="public", search_result=result
                ):
                    if event.type == "done":
                        final = event.data["answer"]
            except ValueError as exc:  # an empty or oversized question: said, not raised
                final = {"text": str(exc), "abstained": True, "abstain_reason": "invalid_question"}
            record.update(_record(final, result, scratch.doc_ids))
            records.append(record)
    finally:
        scratch.folder.cleanup()
    return {
        "records": records,
        "settings": {
            "SEARCH_MODE": retrieval.search_mode,
            "RESCORE_ORDER_MODEL": retrieval.rescore_order_model,
            "EMBEDDING_BACKEND": retrieval.embedding_backend,
            "embedding_model": embedder.model_id,
            "ANSWER_MIN_CONFIDENCE_PUBLIC": conf.min_confidence_public,
            "ANSWER_CONFIDENCE_MODEL": conf.confidence_model,
            # The threshold in effect: the fitted model's own unless the formula applies.
            "public_abstention_threshold": min_confidence("public"),
            "ANSWER_MAX_SOURCES": conf.max_sources,
            "LLM_BASE_URL": conf.llm.base_url,
            "LLM_MODEL": conf.llm.model,
            "documents": len(corpus),
            "chunks": scratch.stats["chunks"],
        },
    }


def _record(answer: dict, result: Any, doc_ids: dict[int, str]) -> dict[str, Any]:
    reason = answer.get("handoff_reason") or ""
    if not reason and answer.get("abstained"):
        reason = answer.get("abstain_reason") or "low_confidence"
        if reason in ("no_hits", "no_answer_sentences", "llm_cannot_answer", "unknown_name"):
            reason = "low_confidence"
    cited: list[str] = []
    for citation in answer.get("citations", []):
        doc = doc_ids.get(citation["article_id"])
        if doc and doc not in cited:
            cited.append(doc)
    return {
        "answer_text": answer.get("text", ""),
        "abstained": bool(answer.get("abstained")),
        "handoff_reason": reason or None,
        "cited_article_ids": cited,
        "ranked_article_ids": [
            doc_ids[h.article_id] for h in result.hits if h.article_id in doc_ids
        ],
        "confidence": answer.get("confidence", 0.0),
        "grounding_score": answer.get("grounding_score", 0.0),
        "backend": answer.get("backend", ""),
        "fallback_reason": answer.get("fallback_reason", ""),
    }


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    if not path.is_file():
        return qrels
    for i, line in enumerate(path.open(encoding="utf-8")):
        parts = line.rstrip("\n").split("\t")
        if i == 0 or len(parts) < 3:
            continue
        try:
            if int(parts[2]) > 0:
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
        except ValueError:
            continue
    return qrels


def summarize(
    records: list[dict], qrels: dict[str, dict[str, int]], answers: dict[str, str]
) -> list[str]:
    """Printable metrics for the records (only those the optional files allow)."""
    from retrieval.evaluation import token_f1

    lines = [f"questions: {len(records)}, abstained: {sum(r['abstained'] for r in records)}"]
    judged = [r for r in records if r["query_id"] in qrels]
    if judged:
        hit1 = sum(
            bool(r["ranked_article_ids"]) and r["ranked_article_ids"][0] in qrels[r["query_id"]]
            for r in judged
        ) / len(judged)
        cited = [(r, c) for r in judged for c in r["cited_article_ids"]]
        precision = sum(c in qrels[r["query_id"]] for r, c in cited) / len(cited) if cited else 0
        lines.append(f"hit@1: {hit1:.3f}  citation precision: {precision:.3f}")
    scored = [r for r in records if r["query_id"] in answers and not r["abstained"]]
    if scored:
        f1 = sum(token_f1(r["answer_text"], answers[r["query_id"]]) for r in scored) / len(scored)
        lines.append(f"token-F1 (answered): {f1:.3f} over {len(scored)}")
    return lines
