"""Evaluate retrieval on a BEIR-style dataset in a scratch index (the real KB is untouched)."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from retrieval import engine, evaluation
from retrieval.embedding import get_embedder
from retrieval.services import fusion_params, index_params


class Command(BaseCommand):
    help = (
        "Index DATASET/corpus.jsonl into a temporary index and report Recall@1/5/10, MRR@10 "
        "and nDCG@10 for lexical, dense, hybrid and hybrid+rerank."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dataset", required=True, action="append", help="dataset folder")
        parser.add_argument("--json", dest="json_out", help="write the report as JSON here")
        parser.add_argument("--limit", type=int, default=None, help="first N queries only")
        parser.add_argument(
            "--dense-weight", type=float, default=None, help="override SEARCH_DENSE_WEIGHT"
        )
        parser.add_argument(
            "--tune", action="store_true", help="grid-search the fusion weight on this dataset"
        )

    def handle(self, *args, **options) -> None:
        embedder = get_embedder()
        fusion = fusion_params()
        if options["dense_weight"] is not None:
            if not 0.0 <= options["dense_weight"] <= 1.0:
                raise CommandError("--dense-weight must be between 0 and 1")
            fusion = engine.FusionParams(dense_weight=options["dense_weight"])
        reranker = engine.get_reranker(settings.RERANKER_MODEL)
        reports = []
        for folder in options["dataset"]:
            try:
                dataset = evaluation.load_dataset(Path(folder), limit=options["limit"])
            except (FileNotFoundError, ValueError, KeyError) as exc:
                raise CommandError(f"cannot read dataset {folder}: {exc}") from exc
            if options["tune"]:
                scratch = evaluation.index_corpus(
                    dataset.corpus, evaluation.CachedEmbedder(embedder), params=index_params()
                )
                try:
                    best, rows = evaluation.tune_dense_weight(
                        scratch, dataset, evaluation.CachedEmbedder(embedder)
                    )
                finally:
                    scratch.folder.cleanup()
                for row in rows:
                    self.stdout.write(
                        f"  dense_weight={row['dense_weight']:.2f} ndcg@10={row['ndcg@10']:.4f} "
                        f"recall@5={row['recall@5']:.4f}"
                    )
                self.stdout.write(f"{dataset.name}: best dense_weight={best}")
                fusion = engine.FusionParams(dense_weight=best)
            report = evaluation.evaluate(
                dataset, embedder, fusion=fusion, reranker=reranker, params=index_params()
            )
            reports.append(report)
        self.stdout.write(evaluation.format_table(reports))
        if options["json_out"]:
            Path(options["json_out"]).write_text(json.dumps(reports, indent=2) + "\n")
            self.stdout.write(f"wrote {options['json_out']}")
