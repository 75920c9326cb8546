"""What separate public BM25 statistics cost: one article's incremental update of the FAISS
store (clone + update both dense indexes, rebuild both BM25 indexes) at several KB sizes.

Synthetic chunks (dim 384, ~60 words from a 5,000-word vocabulary, 80% public). Reports the
update and publish times, and the share of the update spent indexing the public BM25 index
(tokens shared with the all-chunks index), which this store builds so public scores never
depend on internal text.
Run: .venv/bin/python -m bench.bench_store_update [--quick]; writes
bench/results/store_update.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.dense_index import IndexParams
from retrieval.index import IndexStore
from retrieval.lexical import LexicalIndex, tokenize
from retrieval.snapshot import ChunkMeta, lexical_text

DIM = 384
RESULTS = Path(__file__).parent / "results" / "store_update.json"


def _chunks(n: int, rng: np.random.Generator) -> tuple[list[ChunkMeta], np.ndarray]:
    vocab = [f"w{i}" for i in range(5000)]
    metas = [
        ChunkMeta(
            chunk_id=i + 1,
            article_id=i // 3 + 1,
            title=f"Article {i // 3 + 1}",
            slug=f"a-{i // 3 + 1}",
            visibility="public" if rng.random() < 0.8 else "internal",
            heading_path="",
            text=" ".join(rng.choice(vocab, 60)),
        )
        for i in range(n)
    ]
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return metas, vectors


def measure(n: int) -> dict:
    rng = np.random.default_rng(0)
    metas, vectors = _chunks(n, rng)
    with tempfile.TemporaryDirectory() as folder:
        store = IndexStore(folder, IndexParams(use_gpu=False))
        started = time.perf_counter()
        snapshot = store.build(
            chunks=metas,
            vectors=vectors,
            lexical_texts=[lexical_text(m) for m in metas],
            model_id="bench",
            dimension=DIM,
        )
        build_s = time.perf_counter() - started
        with store.write_lock():
            store.publish(snapshot)
        current = store.current()
        assert current is not None
        new = [ChunkMeta(n + 1, 1, "Article 1", "a-1", "public", "", "updated text w1 w2 w3")]
        started = time.perf_counter()
        updated = store.replace_article(current, article_id=1, chunks=new, vectors=vectors[:1])
        update_s = time.perf_counter() - started
        started = time.perf_counter()
        with store.write_lock():
            store.publish(updated)
        publish_s = time.perf_counter() - started
        public = [m for m in updated.chunks.values() if m.visibility == "public"]
        tokens = [tokenize(lexical_text(m)) for m in public]
        started = time.perf_counter()
        # The extra work of separate public statistics: one more BM25 index over the public
        # chunks' tokens (the tokenization is shared with the all-chunks index).
        LexicalIndex.build_from_tokens(tokens, [m.chunk_id for m in public], [True] * len(public))
        public_bm25_s = time.perf_counter() - started
    return {
        "chunks": n,
        "full_build_s": round(build_s, 3),
        "one_article_update_s": round(update_s, 3),
        "publish_s": round(publish_s, 3),
        "public_bm25_index_s": round(public_bm25_s, 3),
        "public_bm25_share_of_update": round(public_bm25_s / update_s, 3),
    }


def main(quick: bool = False) -> dict:
    import os
    import platform

    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    rows = []
    for n in sizes:
        rows.append(measure(n))
        print(f"   store update {n:>8,}: {json.dumps(rows[-1])}", flush=True)
    out = {
        "benchmark": "store_update",
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "quick": quick,
        "results": rows,
    }
    RESULTS.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
