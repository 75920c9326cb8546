"""manage.py import_kb PATH: import Markdown, JSONL or HTML help-center exports."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from knowledge import import_services, importers, roles
from knowledge.audience import AUDIENCES, Audience
from knowledge.conf import knowledge_conf


def print_summary(command: BaseCommand, summary: import_services.ImportSummary) -> None:
    style = command.style
    prefix = "Dry run (nothing written): would have " if summary.dry_run else ""
    command.stdout.write(
        style.SUCCESS(
            f"{prefix}created {summary.created}, updated {summary.updated}, "
            f"unchanged {summary.unchanged}, skipped {len(summary.skipped)}"
        )
    )
    for source, reason in summary.skipped:
        command.stdout.write(style.WARNING(f"  skipped {source}: {reason}"))


class Command(BaseCommand):
    help = (
        "Import articles from a folder of Markdown files (YAML front matter), a JSONL corpus "
        "({id, title, text}) or an HTML help-center export. Re-imports update by id."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--format", default="auto", choices=["auto", *importers.FORMATS])
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--publish", dest="publish", action="store_true", default=True)
        group.add_argument("--draft", dest="publish", action="store_false")
        parser.add_argument("--visibility", choices=AUDIENCES, default=Audience.PUBLIC)
        parser.add_argument("--category", default="", help="category for records without one")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument(
            "--user", default="", help="username the import is attributed to (an editor)"
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        from tqdm import tqdm

        path: Path = opts["path"]
        actor = None
        if opts["user"]:
            actor = get_user_model().objects.filter(username=opts["user"]).first()
            if actor is None:
                raise CommandError(f"No user named {opts['user']!r}.")
            if not roles.is_editor(actor):
                raise CommandError(f"{opts['user']} is not an editor, reviewer or admin.")
            if opts["publish"] and not roles.can_review(actor):
                raise CommandError(
                    f"{opts['user']} may not publish: import with --draft, or as a reviewer."
                )
        try:
            parsed = importers.parse_path(
                path, fmt=opts["format"], max_body_chars=knowledge_conf().max_article_body_chars
            )
        except importers.ImportFormatError as exc:
            raise CommandError(str(exc)) from exc
        records = tqdm(
            parsed.records,
            desc=f"Importing {path.name}",
            unit="article",
            disable=opts["no_progress"] or not parsed.records,
            file=self.stderr._out,
        )
        try:
            summary = import_services.articles_import(
                records=records,
                actor=actor,
                publish=opts["publish"],
                default_visibility=opts["visibility"],
                default_category=opts["category"],
                source_name=str(path),
                problems=[(p.source, p.reason) for p in parsed.problems],
                dry_run=opts["dry_run"],
            )
        except (ValidationError, DatabaseError) as exc:
            raise CommandError(f"Import failed, nothing was imported: {exc}") from exc
        print_summary(self, summary)
