"""Offline retrieval evaluation on a BEIR-style dataset (no ORM, no writes to the real KB).

The corpus is indexed into a scratch INDEX_DIR through the same chunking, embedder, index
build/publish/load and `engine.search_snapshot` code that serves production searches; only
the source of the documents differs (files instead of database rows).
"""

from __future__ import annotations

import csv
import json
import math
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.normalize import build_lexicon, normalize_body
from retrieval import engine
from retrieval.chunking import TextChunk, chunk_embedding_text, chunk_markdown
from retrieval.dense_index import IndexParams
from retrieval.embedding import Embedder, embed_queries
from retrieval.index import IndexStore
from retrieval.snapshot import ChunkMeta, Snapshot, build_snapshot
from retrieval.vocabulary import Vocabulary, kb_words

MODES = ("lexical", "dense", "hybrid", "hybrid+rescore", "hybrid+rerank")
KS = (1, 5, 10)


@dataclass
class Dataset:
    name: str
    corpus: list[dict]
    queries: list[dict]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)


def load_dataset(folder: Path | str, *, limit: int | None = None) -> Dataset:
    """corpus.jsonl, queries.jsonl and qrels.tsv (header; query-id, corpus-id, score)."""
    folder = Path(folder)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} is missing (need a BEIR-style dataset)")
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open() if line.strip()]
    queries = [json.loads(line) for line in (folder / "queries.jsonl").open() if line.strip()]
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels.tsv").open() as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader, None)
        for row in reader:
            if len(row) >= 3 and int(row[2]) > 0:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries = [q for q in queries if q["id"] in qrels]
    if limit:
        queries = queries[:limit]
    return Dataset(folder.name, corpus, queries, qrels)


# -- metrics ------------------------------------------------------------------------------


def recall_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def hit_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """1 when any relevant document is in the top k."""
    return 1.0 if set(ranked[:k]) & set(relevant) else 0.0


def mrr_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    for rank, doc in enumerate(ranked[:k], start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    """nDCG with graded gains 2^rel - 1."""
    dcg = sum(
        (2 ** relevant.get(doc, 0) - 1) / math.log2(i + 2) for i, doc in enumerate(ranked[:k])
    )
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def score_run(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean metrics over queries: Recall@1/5/10, Hit@1/5/10, MRR@10, nDCG@10."""
    out: dict[str, list[float]] = {}
    for qid, ranked in runs.items():
        rel = qrels.get(qid, {})
        for k in KS:
            out.setdefault(f"recall@{k}", []).append(recall_at(ranked, rel, k))
            out.setdefault(f"hit@{k}", []).append(hit_at(ranked, rel, k))
        out.setdefault("mrr@10", []).append(mrr_at(ranked, rel, 10))
        out.setdefault("ndcg@10", []).append(ndcg_at(ranked, rel, 10))
    return {name: round(float(np.mean(vals)), 4) for name, vals in out.items()}


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_MARKERS = re.compile(r"\s*\[\d+(?:,\s*\d+)*\]")


def normalize_tokens(text: str) -> list[str]:
    """SQuAD-style normalisation: lower case, no punctuation/articles/citation markers."""
    text = _MARKERS.sub("", text).lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalize_tokens(prediction), normalize_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 (longest common subsequence of normalised tokens)."""
    pred, ref = normalize_tokens(prediction), normalize_tokens(reference)
    if not pred or not ref:
        return 0.0
    prev = [0] * (len(ref) + 1)
    for p in pred:
        cur = [0]
        for j, r in enumerate(ref, start=1):
            cur.append(prev[j - 1] + 1 if p == r else max(prev[j], cur[j - 1]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


# -- scratch index ------------------------------------------------------------------------


class CachedEmbedder:
    """Memoises vectors so tuning loops do not re-embed the same text.

    Keeps the inner embedder's query side (e5's "query: " prefix) apart from its passage
    side: hiding it made the multilingual bench embed the KB vocabulary as passages where a
    real index build embeds it as queries (found 2026-12-02).
    """

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self._memo: dict[str, np.ndarray] = {}
        self._query_memo: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._cached(texts, self._memo, self.inner.embed)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        inner_query = getattr(self.inner, "embed_query", None)
        if not callable(inner_query):
            return self.embed(texts)
        return self._cached(texts, self._query_memo, inner_query)

    def _cached(self, texts: list[str], memo: dict[str, np.ndarray], embed) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in memo]
        if todo:
            for text, vec in zip(todo, embed(todo), strict=True):
                memo[text] = vec
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([memo[t] for t in texts]).astype(np.float32)


@dataclass
class ScratchIndex:
    snapshot: Snapshot
    doc_ids: dict[int, str]  # article id -> corpus id
    folder: tempfile.TemporaryDirectory
    stats: dict


def index_corpus(
    corpus: list[dict],
    embedder: Embedder,
    *,
    params: IndexParams | None = None,
    target_tokens: int = 256,
    overlap_tokens: int = 40,
    normalize: bool = True,
    ml_embedder: Embedder | None = None,
    locales: dict[str, str] | None = None,
) -> ScratchIndex:
    """Chunk, embed, build, publish and reload the corpus in a temporary INDEX_DIR.

    normalize=True cleans each text as an import does (`knowledge.normalize`, with the
    lexicon learned from this corpus), so the scratch KB reads like the real one.
    ml_embedder adds the multilingual leg; locales maps corpus ids to their language.
    """
    params = params or IndexParams()
    started = time.perf_counter()
    lexicon = (
        build_lexicon((d.get("title") or "", d.get("text") or "") for d in corpus)
        if normalize
        else None
    )
    metas: list[ChunkMeta] = []
    texts: list[str] = []
    doc_ids: dict[int, str] = {}
    for n, doc in enumerate(corpus, start=1):
        doc_ids[n] = doc["id"]
        title = doc.get("title") or ""
        body = doc.get("text") or ""
        if lexicon is not None:
            body = normalize_body(body, lexicon)
        pieces: list[TextChunk | None] = list(
            chunk_markdown(body, target_tokens=target_tokens, overlap_tokens=overlap_tokens)
        )
        if not pieces:
            pieces = [None]
        for piece in pieces:
            text = piece.text if piece else ""
            heading = piece.heading_path if piece else ""
            metas.append(
                ChunkMeta(
                    chunk_id=len(metas) + 1,
                    article_id=n,
                    title=title,
                    slug=str(doc["id"]),
                    visibility="public",
                    heading_path=heading,
                    text=text,
                    position=piece.position if piece else 0,
                    locale=(locales or {}).get(str(doc["id"]), "en"),
                )
            )
            texts.append(chunk_embedding_text(title=title, heading_path=heading, text=text))
    chunked = time.perf_counter()
    cpu0 = time.process_time()
    vectors = embedder.embed(texts)
    embedded, cpu1 = time.perf_counter(), time.process_time()
    ml_vectors = ml_embedder.embed(texts) if ml_embedder is not None else None
    ml_vocab = None
    if ml_embedder is not None:
        words = kb_words(texts)
        ml_vocab = Vocabulary(words, embed_queries(ml_embedder, words))
    ml_embedded, cpu2 = time.perf_counter(), time.process_time()
    snapshot = build_snapshot(
        ml_vectors=ml_vectors,
        ml_model_id=ml_embedder.model_id if ml_embedder is not None else "",
        ml_vocab=ml_vocab,
        chunks=metas,
        vectors=vectors,
        lexical_texts=texts,
        model_id=embedder.model_id,
        dimension=embedder.dimension,
        params=params,
    )
    folder = tempfile.TemporaryDirectory(prefix="kb-eval-index-")
    store = IndexStore(folder.name, params)
    with store.write_lock():
        store.publish(snapshot)
    loaded = store.current()
    assert loaded is not None
    stats = {
        "documents": len(corpus),
        "chunks": len(metas),
        "chunk_seconds": round(chunked - started, 3),
        "embed_seconds": round(embedded - chunked, 3),
        "ml_embed_seconds": round(ml_embedded - embedded, 3),
        # CPU seconds of this process (all threads): the cost on a busy machine, where wall
        # time also counts other people's work.
        "embed_cpu_seconds": round(cpu1 - cpu0, 3),
        "ml_embed_cpu_seconds": round(cpu2 - cpu1, 3),
        "build_seconds": round(time.perf_counter() - ml_embedded, 3),
    }
    return ScratchIndex(loaded, doc_ids, folder, stats)


def run_queries(
    scratch: ScratchIndex,
    dataset: Dataset,
    embedder: Embedder,
    *,
    mode: str,
    fusion: engine.FusionParams,
    reranker=None,
    top_k: int = 10,
) -> tuple[dict[str, list[str]], list]:
    """Ranked corpus ids per query, and the SearchResults (for confidence calibration)."""
    runs: dict[str, list[str]] = {}
    results = []
    for query in dataset.queries:
        result = engine.search_snapshot(
            scratch.snapshot,
            query["text"],
            audience="public",
            top_k=top_k,
            mode=mode,
            embedder=embedder,
            fusion=fusion,
            reranker=reranker,
        )
        runs[query["id"]] = [scratch.doc_ids[h.article_id] for h in result.hits]
        results.append(result)
    return runs, results


DENSE_WEIGHT_GRID = tuple(round(x * 0.05, 2) for x in range(1, 19))


def tune_dense_weight(
    scratch: ScratchIndex,
    dataset: Dataset,
    embedder: Embedder,
    *,
    grid: tuple[float, ...] = DENSE_WEIGHT_GRID,
) -> tuple[float, list[dict]]:
    """Grid-search the fusion weight on this (DEV) set: best mean of nDCG@10 and Recall@5."""
    rows = []
    for weight in grid:
        runs, _ = run_queries(
            scratch, dataset, embedder, mode="hybrid", fusion=engine.FusionParams(weight)
        )
        metrics = score_run(runs, dataset.qrels)
        rows.append({"dense_weight": weight, **metrics})
    best = max(rows, key=lambda r: (r["ndcg@10"] + r["recall@5"], r["ndcg@10"]))
    return float(best["dense_weight"]), rows


def evaluate(
    dataset: Dataset,
    embedder: Embedder,
    *,
    fusion: engine.FusionParams,
    modes: tuple[str, ...] = MODES,
    reranker=None,
    params: IndexParams | None = None,
) -> dict:
    """Metrics per mode for one dataset, plus indexing stats and query latency."""
    cached = CachedEmbedder(embedder)
    scratch = index_corpus(dataset.corpus, cached, params=params)
    try:
        report: dict = {
            "dataset": dataset.name,
            "queries": len(dataset.queries),
            "index": scratch.stats,
            "model_id": embedder.model_id,
            "dense_weight": fusion.dense_weight,
            "modes": {},
        }
        for mode in modes:
            started = time.perf_counter()
            runs, results = run_queries(
                scratch, dataset, cached, mode=mode, fusion=fusion, reranker=reranker
            )
            took = time.perf_counter() - started
            metrics: dict[str, Any] = score_run(runs, dataset.qrels)
            metrics["ms_per_query"] = round(1000 * took / max(1, len(runs)), 2)
            metrics["confidence"] = confidence_report(runs, results, dataset.qrels)
            if mode == "hybrid+rerank" and reranker is None:
                metrics["note"] = "no reranker configured (RERANKER_MODEL): same as hybrid"
            report["modes"][mode] = metrics
        return report
    finally:
        scratch.folder.cleanup()


def confidence_report(runs: dict[str, list[str]], results: list, qrels: dict) -> dict:
    """How well `confidence` predicts a relevant top-1 hit: Brier score and mean by outcome."""
    conf = np.array([r.confidence for r in results], dtype=float)
    correct = np.array(
        [
            1.0 if ranked[:1] and ranked[0] in qrels.get(qid, {}) else 0.0
            for qid, ranked in runs.items()
        ]
    )
    if not len(conf):
        return {}
    return {
        "brier": round(float(np.mean((conf - correct) ** 2)), 4),
        "mean_if_top1_relevant": round(float(conf[correct == 1].mean()), 4)
        if correct.any()
        else None,
        "mean_if_top1_wrong": round(float(conf[correct == 0].mean()), 4)
        if (correct == 0).any()
        else None,
    }


def format_table(reports: list[dict]) -> str:
    """A plain-text table: one row per dataset and mode."""
    cols = ["recall@1", "recall@5", "recall@10", "hit@1", "hit@5", "mrr@10", "ndcg@10"]
    lines = [f"{'dataset':28} {'mode':14} " + " ".join(f"{c:>9}" for c in cols)]
    for rep in reports:
        for mode, metrics in rep["modes"].items():
            lines.append(
                f"{rep['dataset']:28} {mode:14} "
                + " ".join(f"{metrics.get(c, 0):9.4f}" for c in cols)
            )
    return "\n".join(lines)
