"""`manage.py seed_demo_logs`: reproducible support logs from an eval dataset (demo, bench)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Withhold N gold articles of an eval dataset (archive them) and log its questions as "
        "customers' interactions: withheld ones unanswered, disliked or escalated."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dataset", default="../shared/eval/emanual-samsung-tv")
        parser.add_argument("--withhold", type=int, default=10, help="gold articles to withhold")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--days", type=int, default=30, help="spread logs over N days")
        parser.add_argument(
            "--no-answer",
            action="store_true",
            help="don't run answer_question (faster; outcomes follow the withheld set only)",
        )
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when interactions are already logged (re-running `make demo`)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        from tqdm import tqdm

        from insights.demo_logs import seed_demo_logs

        if opts["withhold"] < 0:
            raise CommandError("--withhold must be 0 or more")
        if opts["if_empty"]:
            from support.models import Interaction

            if Interaction.objects.exists():
                self.stdout.write("Interactions are already logged: not seeding demo logs again.")
                return
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if opts["no_progress"]:
                return
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, desc=stage, unit="q", disable=None)
            bar.n = done
            bar.refresh()

        self.stdout.write(
            f"Withholding {opts['withhold']} articles, building the search index and asking "
            "the dataset's questions …"
        )
        try:
            result = seed_demo_logs(
                dataset_dir=opts["dataset"],
                withhold=opts["withhold"],
                seed=opts["seed"],
                days=opts["days"],
                run_answers=not opts["no_answer"],
                progress=progress,
            )
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars.values():
                bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"Logged {result.interactions} interactions; withheld "
                f"{len(result.withheld)} articles: {', '.join(result.withheld)}"
            )
        )
        for outcome, n in sorted(result.outcomes.items()):
            self.stdout.write(f"  {outcome}: {n}")
        self.stdout.write("Now run `manage.py mine_logs` and open /insights/.")
