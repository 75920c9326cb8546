"""Rebuild the search indexes from the database, with a progress bar."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from tqdm import tqdm

from retrieval import services


class Command(BaseCommand):
    help = "Re-chunk live articles, embed new text only, rebuild and publish the FAISS/BM25 index."

    def handle(self, *args, **options) -> None:
        bar = tqdm(
            total=0,
            unit="article",
            desc="indexing",
            disable=True if options["verbosity"] == 0 else None,
        )

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            stats = services.index_rebuild(progress=progress)
        finally:
            bar.close()
        self.stdout.write(json.dumps(stats, indent=2))
        if stats["failed_articles"]:
            self.stderr.write(
                f"{len(stats['failed_articles'])} article(s) could not be embedded: "
                f"{stats['failed_articles'][:20]}"
            )
