"""The full rebuild with a progress bar, shared by the `rebuild_index` and `normalize_kb`
commands."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from tqdm import tqdm

from retrieval import services


def rebuild_with_progress(command: BaseCommand, *, verbosity: int) -> dict:
    """Rebuild and publish the index, showing a bar (none at verbosity 0); report the stats."""
    bar = tqdm(total=0, unit="article", desc="indexing", disable=True if verbosity == 0 else None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        stats = services.index_rebuild(progress=progress)
    finally:
        bar.close()
    command.stdout.write(json.dumps(stats, indent=2))
    if stats["failed_articles"]:
        command.stderr.write(
            f"{len(stats['failed_articles'])} article(s) could not be embedded: "
            f"{stats['failed_articles'][:20]}"
        )
    return stats
