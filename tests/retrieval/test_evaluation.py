"""Evaluation metrics on hand-made examples, and the eval_retrieval command end to end."""

from __future__ import annotations

import json
import math

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import Article
from retrieval.evaluation import hit_at, load_dataset, mrr_at, ndcg_at, recall_at, score_run


def test_recall_hit_and_mrr_by_hand():
    ranked = ["d3", "d1", "d7", "d2"]
    relevant = {"d1": 2, "d2": 1}
    assert recall_at(ranked, relevant, 1) == 0.0
    assert recall_at(ranked, relevant, 2) == 0.5
    assert recall_at(ranked, relevant, 4) == 1.0
    assert hit_at(ranked, relevant, 1) == 0.0 and hit_at(ranked, relevant, 2) == 1.0
    assert mrr_at(ranked, relevant) == 0.5
    assert mrr_at(["x", "y"], relevant) == 0.0


def test_graded_ndcg_by_hand():
    ranked = ["d3", "d1", "d7", "d2"]
    relevant = {"d1": 2, "d2": 1}
    dcg = (2**2 - 1) / math.log2(3) + (2**1 - 1) / math.log2(5)
    idcg = (2**2 - 1) / math.log2(2) + (2**1 - 1) / math.log2(3)
    assert ndcg_at(ranked, relevant) == pytest.approx(dcg / idcg)
    assert ndcg_at(["d1", "d2"], relevant) == pytest.approx(1.0)
    # Only the top 10 count.
    assert ndcg_at([f"x{i}" for i in range(10)] + ["d1"], relevant) == 0.0


def test_score_run_averages_over_queries():
    runs = {"q1": ["a", "b"], "q2": ["c", "d"]}
    qrels = {"q1": {"a": 1}, "q2": {"d": 1}}
    metrics = score_run(runs, qrels)
    assert metrics["recall@1"] == 0.5 and metrics["mrr@10"] == 0.75


def _write_dataset(folder):
    docs = [
        {"id": "d1", "title": "Pairing the remote", "text": "Hold the pair button for 3 seconds."},
        {"id": "d2", "title": "Screen brightness", "text": "Open Picture settings, Brightness."},
        {"id": "d3", "title": "Sound output", "text": "Choose the speaker in Sound settings."},
    ]
    queries = [
        {"id": "q1", "text": "how to pair the remote"},
        {"id": "q2", "text": "change brightness"},
        {"id": "q3", "text": "no qrels for this one"},
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t2\n")


@pytest.mark.django_db
def test_eval_command_reports_every_mode_without_touching_the_kb(tmp_path, settings):
    _write_dataset(tmp_path)
    out = tmp_path / "report.json"
    call_command("eval_retrieval", "--dataset", str(tmp_path), "--json", str(out))
    [report] = json.loads(out.read_text())
    assert report["queries"] == 2  # queries without judgements are skipped
    assert set(report["modes"]) == {"lexical", "dense", "hybrid", "hybrid+rescore", "hybrid+rerank"}
    assert report["modes"]["hybrid"]["recall@1"] == 1.0
    assert "no reranker" in report["modes"]["hybrid+rerank"]["note"]
    assert Article.objects.count() == 0
    assert not (settings.INDEX_DIR / "manifest.json").exists()


def test_eval_command_rejects_a_folder_without_a_dataset(tmp_path):
    with pytest.raises(CommandError, match=r"corpus\.jsonl"):
        call_command("eval_retrieval", "--dataset", str(tmp_path))


def test_load_dataset_limit(tmp_path):
    _write_dataset(tmp_path)
    assert len(load_dataset(tmp_path, limit=1).queries) == 1


def test_the_cached_embedder_keeps_the_query_side_apart_and_embeds_each_text_once() -> None:
    import numpy as np

    from retrieval.embedding import embed_queries
    from retrieval.evaluation import CachedEmbedder

    class TwoSided:
        model_id, dimension = "two-sided", 2

        def __init__(self) -> None:
            self.calls: list[tuple[str, list[str]]] = []

        def embed(self, texts: list[str]) -> np.ndarray:
            self.calls.append(("passage", list(texts)))
            return np.array([[1.0, 0.0]] * len(texts))

        def embed_query(self, texts: list[str]) -> np.ndarray:
            self.calls.append(("query", list(texts)))
            return np.array([[0.0, 1.0]] * len(texts))

    inner = TwoSided()
    cached = CachedEmbedder(inner)
    assert embed_queries(cached, ["tv"]).tolist() == [[0.0, 1.0]]  # the query side, not hidden
    assert cached.embed(["tv", "tv"]).tolist() == [[1.0, 0.0], [1.0, 0.0]]
    cached.embed_query(["tv"])
    cached.embed(["tv"])
    assert inner.calls == [("query", ["tv"]), ("passage", ["tv"])]  # each side once
    assert cached.embed([]).shape == (0, 2)
