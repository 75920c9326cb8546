"""manage.py backup_kb OUT_DIR: database (JSON + pg_dump on PostgreSQL), index, manifest."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kb_platform.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the KB into a new folder: database dump, current index version, manifest."

    def add_arguments(self, parser):
        parser.add_argument("out_dir", type=Path)

    def handle(self, *args, **opts):
        try:
            manifest = backup_create(opts["out_dir"], log=self.stderr.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(manifest["counts"], indent=2, sort_keys=True))
        self.stdout.write(self.style.SUCCESS(f"backup written to {opts['out_dir']}"))
