"""Re-run the import cleaner over every live article and re-index the cleaned text."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from tqdm import tqdm

from knowledge.normalize import normalize_body
from retrieval.chunk_rows import live_articles, normalize_lexicon
from retrieval.management.rebuild import rebuild_with_progress


class Command(BaseCommand):
    help = (
        "Learn the text cleaner's lexicon from the live KB, report which articles it changes "
        "(revisions keep their text) and rebuild the index from the cleaned text."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="only report what would change; no re-index"
        )

    def handle(self, *args, **options) -> None:
        quiet = options["verbosity"] == 0
        lexicon = normalize_lexicon(rebuild=True)
        rows = list(
            live_articles().values_list(
                "pk", "published_revision__title", "published_revision__body"
            )
        )
        changed = []
        for pk, title, body in tqdm(rows, unit="article", desc="cleaning", disable=quiet):
            if normalize_body(body or "", lexicon) != (body or "").strip():
                changed.append({"article": pk, "title": title})
        self.stdout.write(
            f"{len(changed)} of {len(rows)} live articles read differently once cleaned "
            f"({len(lexicon.roots)} menu roots, {len(lexicon.headings)} known headings)"
        )
        if options["dry_run"]:
            for row in changed[:20]:
                self.stdout.write(f"  #{row['article']} {row['title']}")
            return
        rebuild_with_progress(self, verbosity=options["verbosity"])
