"""Embedding backends on CPU: torch fp32 vs ONNX fp32 vs ONNX int8, speed and retrieval quality.

One run embeds the same texts with every backend: ~200-token chunks cut from the
emanual-samsung-tv corpus and the DEV questions as short sentences. Rounds are interleaved
(torch, onnx fp32, onnx int8, torch, ...) so load from other processes hits all backends alike;
the best round counts and the spread is kept. Quality: cosine of ONNX vectors to the torch fp32
ones, and dense-only retrieval (article score = best chunk cosine) nDCG@10 / Recall@5 on DEV.

`make bench BENCH_ARGS="--only embedding_backends"` (add --quick for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

CHUNK_TOKENS = 200
BATCH_SIZE = 32
# Many short timed rounds rather than a few long ones: on a shared CPU, the best round of each
# backend is the one least disturbed by other processes, and every backend gets as many tries.
ROUNDS = 7
THROUGHPUT_CHUNKS = 96
THROUGHPUT_SENTENCES = 160
BENCH_DIR = Path(__file__).resolve().parent
HISTORY = BENCH_DIR / "results" / "embedding_backends_runs.jsonl"


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        next(fh)  # header
        for line in fh:
            query_id, doc_id, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(query_id, {})[doc_id] = int(score)
    return qrels


def token_windows(texts: list[str], tokenizer_path: Path, size: int) -> list[str]:
    """Cut the concatenated texts into pieces of `size` model tokens (special tokens included)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    stream = " ".join(t for t in texts if t.strip())
    offsets = tokenizer.encode(stream, add_special_tokens=False).offsets
    body = size - 2  # [CLS] and [SEP]
    windows = []
    for start in range(0, len(offsets) - body + 1, body):
        begin, end = offsets[start][0], offsets[start + body - 1][1]
        windows.append(stream[begin:end])
    return windows


def article_chunks(corpus: list[dict]) -> list[tuple[str, str]]:
    """(doc id, text to embed) per chunk, chunked as the product chunks articles."""
    from django.conf import settings

    from retrieval.chunking import chunk_embedding_text, chunk_markdown

    out = []
    for doc in corpus:
        chunks = chunk_markdown(
            doc["text"],
            target_tokens=settings.CHUNK_TARGET_TOKENS,
            overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
        )
        if not chunks:  # empty sections are still findable by title
            out.append((doc["id"], doc["title"]))
        for chunk in chunks:
            text = chunk_embedding_text(
                title=doc["title"], heading_path=chunk.heading_path, text=chunk.text
            )
            out.append((doc["id"], text))
    return out


def dense_eval(
    query_ids: list[str],
    query_vectors: np.ndarray,
    chunk_docs: list[str],
    chunk_vectors: np.ndarray,
    qrels: dict[str, dict[str, int]],
) -> dict[str, float]:
    """nDCG@10 (gains 2^rel - 1, as retrieval.evaluation), Recall@5, hit@1; article = max chunk."""
    doc_ids = sorted(set(chunk_docs))
    doc_index = {d: i for i, d in enumerate(doc_ids)}
    owner = np.array([doc_index[d] for d in chunk_docs])
    scores = query_vectors @ chunk_vectors.T
    ndcgs, recalls, hits = [], [], []
    for row, query_id in enumerate(query_ids):
        relevant = qrels.get(query_id)
        if not relevant:
            continue
        per_doc = np.full(len(doc_ids), -np.inf, dtype=np.float32)
        np.maximum.at(per_doc, owner, scores[row])
        ranked = [doc_ids[i] for i in np.argsort(-per_doc, kind="stable")[:10]]
        dcg = sum((2 ** relevant.get(d, 0) - 1) / math.log2(r + 2) for r, d in enumerate(ranked))
        ideal = sorted(relevant.values(), reverse=True)[:10]
        idcg = sum((2**g - 1) / math.log2(r + 2) for r, g in enumerate(ideal))
        ndcgs.append(dcg / idcg)
        recalls.append(len(set(ranked[:5]) & set(relevant)) / len(relevant))
        hits.append(1.0 if ranked[0] in relevant else 0.0)
    return {
        "ndcg@10": round(float(np.mean(ndcgs)), 4),
        "recall@5": round(float(np.mean(recalls)), 4),
        "hit@1": round(float(np.mean(hits)), 4),
        "queries": len(ndcgs),
    }


def _timed(embed: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[np.ndarray, float]:
    vectors, wall, _ = _timed_cpu(embed, texts)
    return vectors, wall


def _timed_cpu(
    embed: Callable[[list[str]], np.ndarray], texts: list[str]
) -> tuple[np.ndarray, float, float]:
    """(vectors, wall seconds, CPU seconds of this process's threads)."""
    cpu_started = time.process_time()
    started = time.perf_counter()
    vectors = embed(texts)
    return vectors, time.perf_counter() - started, time.process_time() - cpu_started


def _cosines(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    cos = (a * b).sum(axis=1)
    return {
        "min": round(float(cos.min()), 4),
        "p5": round(float(np.percentile(cos, 5)), 4),
        "mean": round(float(cos.mean()), 4),
    }


def run(args: argparse.Namespace) -> dict:
    """Throughput and quality of the three CPU backends on the same texts; one dict of results."""
    import torch
    from django.conf import settings
    from sentence_transformers import SentenceTransformer

    from retrieval.onnx_embedder import OnnxInt8Embedder, resolve_model_dir

    quick = bool(getattr(args, "quick", False))
    eval_dir = Path(getattr(args, "eval_dir", BENCH_DIR.parent.parent / "shared" / "eval"))
    dataset = eval_dir / "emanual-samsung-tv"
    corpus = _read_jsonl(dataset / "corpus.jsonl")
    queries = _read_jsonl(dataset / "queries.jsonl")
    qrels = _read_qrels(dataset / "qrels.tsv")
    model_name = settings.EMBEDDING_MODEL
    model_dir = resolve_model_dir(model_name)
    rounds = 1 if quick else ROUNDS

    chunks = token_windows(
        [f"{d['title']}. {d['text']}" for d in corpus], model_dir / "tokenizer.json", CHUNK_TOKENS
    )
    sentences = [q["text"] for q in queries]
    if quick:
        chunks, sentences = chunks[:32], sentences[:64]
    else:
        chunks, sentences = chunks[:THROUGHPUT_CHUNKS], sentences[:THROUGHPUT_SENTENCES]
    eval_chunks = article_chunks(corpus)

    load_before = os.getloadavg()
    st_model = SentenceTransformer(str(model_dir), device="cpu")

    def torch_embed(texts: list[str]) -> np.ndarray:
        return st_model.encode(
            texts,
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    export_started = time.perf_counter()
    onnx_fp32 = OnnxInt8Embedder(model_name, quantized=False, batch_size=BATCH_SIZE)
    onnx_int8 = OnnxInt8Embedder(model_name, quantized=True, batch_size=BATCH_SIZE)
    onnx_fp32.embed(["load"])  # exports on first use when the cache is empty
    onnx_int8.embed(["load"])
    load_seconds = time.perf_counter() - export_started

    backends: dict[str, Callable[[list[str]], np.ndarray]] = {
        "torch-fp32": torch_embed,
        "onnx-fp32": onnx_fp32.embed,
        "onnx-int8": onnx_int8.embed,
    }
    model_ids = {
        "torch-fp32": f"st:{model_name}",
        "onnx-fp32": onnx_fp32.model_id,
        "onnx-int8": onnx_int8.model_id,
    }
    for embed in backends.values():
        embed(chunks[:BATCH_SIZE])  # warm-up: allocators, thread pools, kernel choice

    chunk_rates: dict[str, list[float]] = {name: [] for name in backends}
    # Chunks per CPU-second: less sensitive than wall time to other processes on the machine
    # (both runtimes spin-wait a little, so it is an efficiency figure, not a speed).
    chunk_cpu_rates: dict[str, list[float]] = {name: [] for name in backends}
    sentence_rates: dict[str, list[float]] = {name: [] for name in backends}
    chunk_vectors: dict[str, np.ndarray] = {}
    sentence_vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, embed in backends.items():
            chunk_vectors[name], seconds, cpu_seconds = _timed_cpu(embed, chunks)
            chunk_rates[name].append(len(chunks) / seconds)
            chunk_cpu_rates[name].append(len(chunks) / cpu_seconds)
            sentence_vectors[name], seconds = _timed(embed, sentences)
            sentence_rates[name].append(len(sentences) / seconds)

    query_ids = [q["id"] for q in queries]
    eval_docs = [doc_id for doc_id, _ in eval_chunks]
    eval_texts = [text for _, text in eval_chunks]
    results: dict[str, dict] = {}
    for name, embed in backends.items():
        index_vectors, index_seconds = _timed(embed, eval_texts)
        query_vectors = embed([q["text"] for q in queries])
        results[name] = {
            "model_id": model_ids[name],
            "chunks_per_s": round(max(chunk_rates[name]), 2),
            "chunks_per_s_median": round(float(np.median(chunk_rates[name])), 2),
            "chunks_per_s_rounds": [round(r, 2) for r in chunk_rates[name]],
            "chunks_per_cpu_s": round(max(chunk_cpu_rates[name]), 2),
            "sentences_per_s": round(max(sentence_rates[name]), 2),
            "sentences_per_s_rounds": [round(r, 2) for r in sentence_rates[name]],
            "eval_chunks_per_s": round(len(eval_texts) / index_seconds, 2),
            "retrieval": dense_eval(query_ids, query_vectors, eval_docs, index_vectors, qrels),
        }
        if name != "torch-fp32":
            results[name]["cosine_to_torch_fp32"] = {
                "chunks": _cosines(chunk_vectors[name], chunk_vectors["torch-fp32"]),
                "sentences": _cosines(sentence_vectors[name], sentence_vectors["torch-fp32"]),
            }

    base = results["torch-fp32"]
    int8 = results["onnx-int8"]
    speedup = int8["chunks_per_s"] / base["chunks_per_s"]
    ndcg_loss = base["retrieval"]["ndcg@10"] - int8["retrieval"]["ndcg@10"]
    summary = {
        "int8_speedup_chunks": round(speedup, 2),
        "int8_speedup_chunks_median": round(
            int8["chunks_per_s_median"] / base["chunks_per_s_median"], 2
        ),
        "int8_speedup_chunks_per_cpu_s": round(
            int8["chunks_per_cpu_s"] / base["chunks_per_cpu_s"], 2
        ),
        "int8_speedup_sentences": round(int8["sentences_per_s"] / base["sentences_per_s"], 2),
        "onnx_fp32_speedup_chunks": round(
            results["onnx-fp32"]["chunks_per_s"] / base["chunks_per_s"], 2
        ),
        "int8_ndcg10_loss": round(ndcg_loss, 4),
        "target": ">= 1.8x torch fp32 chunks/s at <= 0.01 nDCG@10 loss",
        "target_met": bool(speedup >= 1.8 and ndcg_loss <= 0.01),
    }
    payload = {
        "summary": summary,
        "backends": results,
        "texts": {
            "chunks": len(chunks),
            "chunk_tokens": CHUNK_TOKENS,
            "sentences": len(sentences),
            "sentence_source": "emanual-samsung-tv DEV questions",
            "eval_chunks": len(eval_texts),
            "eval_queries": len(query_ids),
            "batch_size": BATCH_SIZE,
        },
        "setup": {
            "rounds": rounds,
            "torch_threads": torch.get_num_threads(),
            "onnx_threads": onnx_int8.threads,
            "onnx_max_batch_tokens": onnx_int8.max_batch_tokens,
            "onnx_load_or_export_seconds": round(load_seconds, 2),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "note": "CPU shared with other processes; best round counts, all rounds listed",
        },
    }
    if not quick:
        HISTORY.parent.mkdir(parents=True, exist_ok=True)
        line = {
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **summary,
            **{f"{n}_chunks_per_s": r["chunks_per_s"] for n, r in results.items()},
            **{f"{n}_sentences_per_s": r["sentences_per_s"] for n, r in results.items()},
            **{f"{n}_ndcg@10": r["retrieval"]["ndcg@10"] for n, r in results.items()},
            "loadavg_before": payload["setup"]["loadavg_before"],
            "onnx_config": (
                f"batches of <={BATCH_SIZE} texts and ~{onnx_int8.max_batch_tokens} padded "
                "tokens, ORT spinning off"
            ),
        }
        with HISTORY.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, sort_keys=True) + "\n")
    return payload
