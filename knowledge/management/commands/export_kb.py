"""manage.py export_kb OUT.jsonl: published articles as JSONL (id, title, text, metadata)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from knowledge import importers, selectors


class Command(BaseCommand):
    help = "Export published articles to JSONL in the format import_kb reads."

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path)
        parser.add_argument(
            "--include-internal", action="store_true", help="also export internal articles"
        )

    def handle(self, *args, **opts):
        out: Path = opts["out"]
        rows = selectors.articles_for_export(include_internal=opts["include_internal"])
        tmp = out.with_name(out.name + ".tmp")
        try:
            with tmp.open("w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(importers.export_line(row) + "\n")
            tmp.replace(out)  # a reader never sees a half-written export
        except OSError as exc:
            raise CommandError(f"Cannot write {out}: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Exported {len(rows)} articles to {out}"))
