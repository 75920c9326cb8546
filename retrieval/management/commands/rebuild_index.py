"""Rebuild the search indexes from the database, with a progress bar."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from retrieval.management.rebuild import rebuild_with_progress


class Command(BaseCommand):
    help = "Re-chunk live articles, embed new text only, rebuild and publish the FAISS/BM25 index."

    def handle(self, *args, **options) -> None:
        rebuild_with_progress(self, verbosity=options["verbosity"])
