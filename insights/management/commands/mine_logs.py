"""`manage.py mine_logs`: one mining run now, with a progress bar per stage."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Mine interactions, feedback and flags into knowledge-base suggestions."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--quiet-progress", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        from tqdm import tqdm

        from insights.services import MiningInProgress, mine_logs

        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if options["quiet_progress"]:
                return
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(
                    total=total, desc=stage, unit="item", leave=True, disable=None
                )
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            run = mine_logs(progress=progress)
        except MiningInProgress as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars.values():
                bar.close()
        counts = ", ".join(f"{k}={v}" for k, v in sorted(run.counts.items()))
        self.stdout.write(self.style.SUCCESS(f"Mining run {run.pk} {run.status}: {counts}"))
