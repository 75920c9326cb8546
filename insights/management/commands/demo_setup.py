"""manage.py demo_setup: everything `make demo` prepares, in one process.

load_demo, then (with the eval dataset) seed_demo_logs and mine_logs, as the separate
commands do; one process loads torch and the embedding model once instead of three times
(~10 s each on an idle 2-core machine, ~35 s on a busy one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from retrieval.services import english_only_builds


class Command(BaseCommand):
    help = "Demo users, KB and index (load_demo); with --dataset also demo logs and mining."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--corpus", default="", help="JSONL corpus for load_demo")
        parser.add_argument("--dataset", default="", help="eval dataset folder for the logs")
        parser.add_argument("--withhold", type=int, default=8)

    def handle(self, *args: Any, **opts: Any) -> None:
        from support.models import Interaction

        io = {"stdout": self.stdout, "stderr": self.stderr}
        dataset = Path(opts["dataset"]) if opts["dataset"] else None
        with_logs = dataset is not None and (dataset / "queries.jsonl").is_file()
        # The logins are in the banner `make demo` prints once the server answers.
        load_args = ["--no-logins", *(["--corpus", opts["corpus"]] if opts["corpus"] else [])]
        if with_logs and not Interaction.objects.exists():
            # seed_demo_logs archives the withheld articles and then builds the index: that
            # one build is all the demo needs (a second, right after load_demo's, was 2 s of
            # re-reading every chunk and a second "index rebuilt" in the log).
            load_args.append("--no-index")
        # The demo's one build is English-only: the server adds the multilingual leg in the
        # background once it is up (retrieval.services.english_only_builds).
        with english_only_builds():
            call_command("load_demo", *load_args, **io)
            if dataset is None or not with_logs:
                return
            call_command(
                "seed_demo_logs", "--dataset", str(dataset), "--withhold", str(opts["withhold"]),
                "--if-empty", "--no-progress", **io,
            )  # fmt: skip
        call_command("mine_logs", **io)
