"""manage.py restore_kb IN_DIR: load a backup_kb folder into an empty, migrated database."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kb_platform.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore a backup_kb folder into an empty database; restore or rebuild the index."

    def add_arguments(self, parser):
        parser.add_argument("in_dir", type=Path)
        parser.add_argument(
            "--rebuild-index",
            action="store_true",
            help="rebuild the index from the database instead of restoring the backed-up one",
        )

    def handle(self, *args, **opts):
        try:
            result = backup_restore(
                opts["in_dir"], rebuild_index=opts["rebuild_index"], log=self.stderr.write
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result["counts"], indent=2, sort_keys=True))
        self.stdout.write(self.style.SUCCESS(f"restored; index {result['index']}"))
